/**
 * `deno task report`: rebuilds `<out>/<paper>.html` from `<results>/<paper>.jsonl`
 * ({@linkcode writeReports}), and `<out>/baselines.html`, every baseline cell as each paper and
 * benchmark prints it beside ptq-bench's ImageNet-suite runs of it ({@linkcode writeBaselinesPage}). The methods' "Deviations from the paper" lists (from the method
 * registry) are included.
 *
 * It refuses, writing nothing, when the results folder does not exist or a named paper has no
 * records (an empty report would replace a real one); with no paper named it reports every paper
 * that has records.
 *
 * @module
 */
import { RESULTS_FLAG } from "./_shared_flags.ts";
import { PAPERS, readPaperRecords, resultsPath } from "../papers/mod.ts";
import { writeBaselinesPage, writeReports, type WriteReportsOptions } from "../reports/write.ts";
import { InputError, parseFlags, run, type TaskSpec } from "./_flags.ts";
import { parseInput, readInputJson, requireFolder } from "./_input.ts";

/** The flags of `deno task report`. */
export const SPEC = {
  name: "report",
  summary: "rebuild `out/reports/<paper>.html` and `baselines.html` from the records",
  positionals: {
    name: "paper",
    help: "the papers to report (default: every paper with records)",
    multiple: true,
    values: Object.keys(PAPERS),
  },
  flags: [
    RESULTS_FLAG,
    {
      name: "out",
      type: "path",
      default: "out/reports",
      placeholder: "DIR",
      help: "where to write <paper>.html and baselines.html",
    },
    {
      name: "deviations",
      type: "path",
      placeholder: "FILE",
      help: 'a JSON object {"method": ["deviation", …]} that replaces the methods\' ' +
        '"Deviations from the paper" lists',
    },
    {
      name: "skips",
      type: "path",
      placeholder: "FILE",
      help: 'a JSON array [{"cell", "suite", "reason", "how"?}]: why the runner skipped cells',
    },
  ],
} as const satisfies TaskSpec;

const isObject = (x: unknown): x is Record<string, unknown> =>
  !!x && typeof x === "object" && !Array.isArray(x);

async function deviations(file: string): Promise<Record<string, string[]>> {
  const d = await readInputJson(file, "deviations file");
  const ok = isObject(d) &&
    Object.values(d).every((v) => Array.isArray(v) && v.every((s) => typeof s === "string"));
  if (!ok) throw new InputError(`deviations file ${file}: expected {"method": ["…", …]}`);
  return d as Record<string, string[]>;
}

async function skips(file: string): Promise<WriteReportsOptions["skips"]> {
  const s = await readInputJson(file, "skips file");
  const ok = Array.isArray(s) &&
    s.every((x) => isObject(x) && typeof x.cell === "string" && typeof x.reason === "string");
  if (!ok) throw new InputError(`skips file ${file}: expected [{"cell", "suite", "reason"}, …]`);
  return s as WriteReportsOptions["skips"];
}

/** Writes the reports; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(SPEC, args);
  await requireFolder(
    v.results,
    "results folder",
  ).catch((e) => {
    throw new InputError(
      `${e.message}: run \`deno task reproduce <paper>\` first or pass --results DIR; ` +
        "nothing written",
    );
  });
  const named = positionals.length > 0;
  const papers: string[] = [];
  for (const id of named ? positionals : Object.keys(PAPERS)) {
    const path = resultsPath(id, v.results);
    const { records } = await parseInput(path, () => readPaperRecords(v.results, id));
    if (records.length) papers.push(id);
    else if (named) {
      throw new InputError(
        `no records for ${id} in ${path}: run \`deno task reproduce ${id}\` first; nothing written`,
      );
    } else console.error(`report: no records for ${id} in ${path}; skipped`);
  }
  if (!papers.length) {
    throw new InputError(`no records in ${v.results} for any paper; nothing written`);
  }
  const written = await writeReports({
    papers,
    resultsDir: v.results,
    outDir: v.out,
    methodDeviations: v.deviations ? await deviations(v.deviations) : undefined,
    skips: v.skips ? await skips(v.skips) : undefined,
  });
  written.push(await writeBaselinesPage({ resultsDir: v.results, outDir: v.out }));
  for (const p of written) console.log(`wrote ${p}`);
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
