/**
 * `deno task report [paper…] [--results DIR] [--out DIR] [--deviations FILE] [--skips FILE]`
 *
 * Writes `out/reports/<paper>.html` for each paper (all papers when none is named) from
 * `out/results/<paper>.jsonl`. The method modules' "Deviations from the paper" lists are included;
 * `--deviations` replaces them with a JSON object `{method: [deviation, …]}`; `--skips` a JSON array `[{cell, suite, reason, how?}]` (why
 * the runner skipped a cell).
 *
 * @module
 */
import { parseCli } from "../runtime/cli_args.ts";
import { writeReports } from "./write.ts";
import { METHOD_DEVIATIONS } from "../methods/deviations.ts";

const USAGE = "usage: deno task report [paper…] [--results DIR] [--out DIR] " +
  "[--deviations FILE] [--skips FILE]";

async function main(): Promise<number> {
  const { values, positionals } = parseCli(USAGE, {
    args: Deno.args,
    allowPositionals: true,
    options: {
      results: { type: "string", default: "out/results" },
      out: { type: "string", default: "out/reports" },
      deviations: { type: "string" },
      skips: { type: "string" },
    },
  });
  const readJson = async (p?: string) => p ? JSON.parse(await Deno.readTextFile(p)) : undefined;
  const written = await writeReports({
    papers: positionals,
    resultsDir: values.results,
    outDir: values.out,
    methodDeviations: (await readJson(values.deviations)) ?? METHOD_DEVIATIONS,
    skips: await readJson(values.skips),
  });
  for (const p of written) console.log(`wrote ${p}`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`report: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
