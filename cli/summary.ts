/**
 * `deno task summary`: a paper's records as plain markdown tables ({@linkcode recordsMarkdown}),
 * for the docs: per suite, model, budget and recipe, each method's measured top-1 per bit-width
 * (mean ± std over seeds, n), the exported-QDQ top-1, the wall-clock, and FP32.
 *
 * It refuses when the results folder does not exist or a named paper has no records there.
 *
 * @module
 */
import { RESULTS_FLAG } from "./_shared_flags.ts";
import { PAPERS, readPaperRecords, resultsPath } from "../papers/mod.ts";
import { recordsMarkdown } from "../reports/markdown.ts";
import { InputError, parseFlags, run, type TaskSpec } from "./_flags.ts";
import { parseInput, requireFolder } from "./_input.ts";

/** The flags of `deno task summary`. */
export const SPEC = {
  name: "summary",
  summary: "a paper's records as markdown tables: top-1 (mean ± std over seeds), " +
    "exported-QDQ top-1 and wall-clock per method and bit-width",
  positionals: {
    name: "paper",
    help: "the papers to summarise",
    required: true,
    multiple: true,
    values: Object.keys(PAPERS),
  },
  flags: [
    RESULTS_FLAG,
  ],
} as const satisfies TaskSpec;

/** Prints the tables; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v, positionals: papers } = parseFlags(SPEC, args);
  await requireFolder(v.results, "results folder (--results)");
  const parts: string[] = [];
  for (const paper of papers) {
    const path = resultsPath(paper, v.results);
    const { records, torn } = await parseInput(path, () => readPaperRecords(v.results, paper));
    for (const t of torn) console.error(`summary: ${t.file}:${t.line}: torn last line skipped`);
    if (!records.length) {
      throw new InputError(
        `no records for ${paper} in ${path}: run \`deno task reproduce ${paper}\` first`,
      );
    }
    parts.push(`### ${paper}\n\n${recordsMarkdown(records)}`);
  }
  console.log(parts.join("\n"));
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
