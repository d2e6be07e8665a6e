/**
 * `deno task table`: markdown tables made from run records ({@linkcode quantizeMatrix},
 * {@linkcode quantizeTable}): by default one model's W/A × method matrix from `quantize --json`
 * and `reproduce` records with the papers' values beside it; `--view runs`, one row per run
 * record with its setup and costs.
 *
 * @module
 */
import {
  entriesOf,
  type MatrixEntry,
  quantizeMatrix,
  quantizeTable,
  recordsOf,
  runOf,
  type RunRow,
} from "../reports/quantize_table.ts";
import { InputError, parseFlags, run, type TaskSpec, UsageError } from "./_flags.ts";
import { parseInput, readInputText } from "./_input.ts";

/** The flags of `deno task table`. */
export const SPEC = {
  name: "table",
  summary: "one model's measured cells as a W/A × method markdown table, made from " +
    "`quantize --json` and `reproduce` records, with the papers' values beside them " +
    "(`--view runs`: one row per run)",
  positionals: {
    name: "FILE.json|FILE.jsonl",
    help: "`deno task quantize --json` records (.json) and `deno task reproduce` records (.jsonl)",
    required: true,
    multiple: true,
  },
  flags: [
    {
      name: "model",
      type: "string",
      placeholder: "NAME",
      help: "the model whose records to show (required for the matrix; a filter for runs)",
    },
    {
      name: "arch",
      type: "string",
      default: "mobilenetv2",
      placeholder: "ARCH",
      help: "the architecture whose values in the papers are shown beside the matrix",
    },
    {
      name: "view",
      type: "string",
      values: ["matrix", "runs"],
      default: "matrix",
      help: "the W/A × method matrix, or one row per run record",
    },
  ],
} as const satisfies TaskSpec;

async function readRecords(file: string) {
  const text = await readInputText(file, "record file");
  return await parseInput(file, () => recordsOf(text, file));
}

/** Prints the table; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v, positionals: files } = parseFlags(SPEC, args);
  if (v.view === "runs") {
    const rows: { file: string; r: RunRow }[] = [];
    for (const file of files) {
      const records = await readRecords(file);
      for (const [r, source] of records) {
        const row = await parseInput(file, () => runOf(r, file, source));
        const model = (r.model as { name?: string } | undefined)?.name;
        if (row && (v.model === undefined || model === v.model)) {
          rows.push({ file: source, r: row });
        }
      }
    }
    if (!rows.length) {
      const of = v.model === undefined ? "" : ` of model ${v.model}`;
      throw new InputError(`no run record${of} in ${files.length} files`);
    }
    console.log(quantizeTable(rows));
    return 0;
  }
  if (v.model === undefined) {
    throw new UsageError("missing --model NAME (the matrix is one model's)");
  }
  const entries: MatrixEntry[] = [];
  for (const file of files) {
    const records = await readRecords(file);
    entries.push(...await parseInput(file, () => entriesOf(records, file, v.model!)));
  }
  if (!entries.length) {
    throw new InputError(`no record of model ${v.model} in ${files.length} files`);
  }
  console.log(quantizeMatrix(entries, v.arch));
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
