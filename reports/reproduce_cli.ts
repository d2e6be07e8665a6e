/**
 * `deno task reproduce <paper> [--suite proxy|imagenet-subset|imagenet …] [--cells SUBSTR …]
 *  [--seeds N] [--budget smoke|quick|paper] [--iters N [--calib-n N] [--set KEY=VALUE …]]
 *  [--backend cpu|webgpu]
 *  [--results DIR] [--out DIR]
 *  [--checkpoints DIR] [--assets DIR] [--models-dir DIR] [--imagenet DIR] [--max-runs N] [--dry-run]
 *  [--no-report]`
 *
 * Runs the paper's cells (and the baselines they are compared with) on the chosen suites —
 * by default the embedded `proxy` suite — appends one record per run to
 * `out/results/<paper>.jsonl` (runs already recorded are skipped, so a killed run resumes), then
 * writes `out/reports/<paper>.html`. A run killed part-way continues after its last reconstructed
 * unit, from a checkpoint kept in `--checkpoints` (default `out/checkpoints`) until its record is
 * written. `--dry-run` lists the planned runs (recorded or to run) and the cells that cannot run
 * here, and runs nothing.
 *
 * `--iters N` (with `--calib-n N` optionally) runs the `custom` budget: N iterations per
 * reconstruction unit and the recipe's calibration size (or the one given), for machines where
 * `quick` is too slow; both are recorded in each run's config, and reports never average runs of
 * different custom settings. `--set KEY=VALUE` (repeatable, custom budget only) replaces one of
 * the recipe's hyper-parameters, by the recipe's key (e.g. `--set adaround_lr=0.01`; the value is
 * read as JSON, else as a string): such runs are recorded as their own runs, with the setting in
 * their config's `set` and in their budget label, and never averaged with the recipe's own.
 *
 * @module
 */
import { parseCli } from "../runtime/cli_args.ts";
import { PAPERS } from "../papers/mod.ts";
import { reproduce } from "../papers/runner.ts";
import { BudgetNameSchema, type Suite, SuiteSchema } from "../papers/schema.ts";
import { METHOD_DEVIATIONS } from "../methods/deviations.ts";
import { writeReports } from "./write.ts";
import { checkOverride } from "../papers/cells.ts";
import { backendByName } from "../runtime/select.ts";
import type { JsonValue } from "../papers/record.ts";

const USAGE = "usage: deno task reproduce <paper> [--suite S]… [--cells SUBSTR]… [--seeds N] " +
  "[--budget smoke|quick|paper] [--iters N [--calib-n N] [--set KEY=VALUE]…] [--backend cpu|webgpu] [--results DIR] [--out DIR] [--checkpoints DIR] [--assets DIR] " +
  "[--models-dir DIR] [--max-runs N] [--dry-run] [--no-report]";

/** Default budget of the embedded default: see docs/reproduce.md for its wall-clock. */
export const DEFAULT_BUDGET = "smoke";

/**
 * `--set KEY=VALUE` flags → the replaced recipe settings (values read as JSON, else as strings),
 * or undefined when there are none.
 */
export function parseSet(flags: readonly string[]): Record<string, JsonValue> | undefined {
  if (!flags.length) return undefined;
  const set: Record<string, JsonValue> = {};
  for (const f of flags) {
    const m = /^([A-Za-z_][\w.]*)=(.+)$/.exec(f);
    if (!m) throw new RangeError(`--set takes KEY=VALUE (got "${f}")`);
    if (m[1] in set) throw new RangeError(`--set ${m[1]} is given twice`);
    let v: JsonValue;
    try {
      v = JSON.parse(m[2]);
    } catch {
      v = m[2];
    }
    set[m[1]] = v;
  }
  return set;
}

async function main(): Promise<number> {
  const { values, positionals } = parseCli(`${USAGE}\npapers: ${Object.keys(PAPERS).join(", ")}`, {
    args: Deno.args,
    allowPositionals: true,
    options: {
      suite: { type: "string", multiple: true },
      cells: { type: "string", multiple: true },
      seeds: { type: "string" },
      budget: { type: "string" },
      iters: { type: "string" },
      "calib-n": { type: "string" },
      set: { type: "string", multiple: true },
      backend: { type: "string", default: "cpu" },
      results: { type: "string", default: "out/results" },
      out: { type: "string", default: "out/reports" },
      checkpoints: { type: "string", default: "out/checkpoints" },
      assets: { type: "string" },
      "models-dir": { type: "string" },
      imagenet: { type: "string" },
      "max-runs": { type: "string" },
      "no-report": { type: "boolean", default: false },
      "dry-run": { type: "boolean", default: false },
    },
  });
  if (positionals.length === 0) {
    console.log(USAGE + `\npapers: ${Object.keys(PAPERS).join(", ")}`);
    return 2;
  }
  const set = parseSet(values.set ?? []);
  const custom = values.iters !== undefined || values["calib-n"] !== undefined ||
    set !== undefined;
  const budget = BudgetNameSchema.parse(values.budget ?? (custom ? "custom" : DEFAULT_BUDGET));
  const count = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) {
      throw new RangeError(`--${flag} must be a non-negative integer (got "${v}")`);
    }
    return Number(v);
  };
  const override = budget === "custom" || custom
    ? {
      iters: count("iters", values.iters)!,
      calibration: count("calib-n", values["calib-n"]),
      ...(set ? { set } : {}),
    }
    : undefined;
  checkOverride(budget, override);
  const suites = (values.suite ?? ["proxy"]).map((s) => SuiteSchema.parse(s)) as Suite[];
  // Fails early, with the reason, where the backend is unknown or has no adapter.
  await backendByName(values.backend);
  // Every paper name is checked before anything runs (a stray word, such as a second cell
  // given without its own --cells, would otherwise fail only after the first paper's runs).
  const unknown = positionals.filter((p) => !PAPERS[p]);
  if (unknown.length) {
    throw new RangeError(
      `Unknown paper${unknown.length > 1 ? "s" : ""} ${unknown.map((u) => `"${u}"`).join(", ")}; ` +
        `known: ${Object.keys(PAPERS).join(", ")} (give each cell filter its own --cells)`,
    );
  }
  let failed = 0;
  const start = performance.now();
  // Every progress line carries the seconds since the command started (as `quantize` prints them).
  const log = (m: string) =>
    console.error(`[${((performance.now() - start) / 1000).toFixed(1)} s] ${m}`);
  for (const paper of positionals) {
    const t0 = performance.now();
    const s = await reproduce({
      paper,
      log,
      suites,
      cells: values.cells,
      budget,
      override,
      seeds: values.seeds ? Number(values.seeds) : undefined,
      resultsDir: values.results,
      checkpointDir: values.checkpoints,
      backend: values.backend,
      assetsDir: values.assets,
      modelsDir: values["models-dir"],
      imagenetDir: values.imagenet,
      maxRuns: values["max-runs"] ? Number(values["max-runs"]) : undefined,
      dryRun: values["dry-run"],
    });
    if (values["dry-run"]) continue;
    failed += s.failed.length;
    console.error(
      `${paper}: ${s.ran} new runs, ${s.alreadyRecorded} already recorded, ${s.failed.length} failed, ` +
        `${((performance.now() - t0) / 1000).toFixed(0)} s; records in ${s.resultsFile}`,
    );
    if (!values["no-report"]) {
      const written = await writeReports({
        papers: [paper],
        resultsDir: values.results,
        outDir: values.out,
        methodDeviations: METHOD_DEVIATIONS,
        skips: s.skips,
      });
      for (const w of written) console.log(`report: ${w}`);
    }
  }
  return failed ? 1 : 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`reproduce: ${(e as Error).message}`);
    if (Deno.env.get("PTQ_DEBUG")) console.error(e);
    Deno.exit(1);
  }
}
