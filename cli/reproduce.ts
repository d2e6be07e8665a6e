/**
 * `deno task reproduce <paper>…`: runs a paper's cells (and the baselines they are compared
 * with) on the chosen suites — by default the embedded `proxy` suite — appends one record per
 * run to `<results>/<paper>.jsonl` (runs already recorded are skipped, so a killed run resumes),
 * then writes `<out>/<paper>.html`. A run killed part-way continues after its last reconstructed
 * unit, from a checkpoint kept in `--checkpoints` until its record is written.
 *
 * `--iters N` (with `--calib-n N` optionally) runs the `custom` budget: N iterations per
 * reconstruction unit and the recipe's calibration size (or the one given), for machines where
 * `quick` is too slow; both are recorded in each run's config, and reports never average runs of
 * different custom settings. `--set KEY=VALUE` (repeatable, custom budget only) replaces one of
 * the recipe's hyper-parameters, by the recipe's key (e.g. `--set adaround_lr=0.01`).
 *
 * @module
 */
import { BACKEND_FLAG, CHECKPOINTS_FLAG, RESULTS_FLAG } from "./_shared_flags.ts";
import { backendByName } from "../runtime/select.ts";
import {
  type JsonValue,
  PAPERS,
  PaperSuiteSchema,
  parseShard,
  reproduce,
  type ReproduceOptions,
  resultsPath,
} from "../papers/mod.ts";
import { checkOverride } from "../papers/cells.ts";
import { consolidateShards } from "../papers/shard.ts";
import { assetsRoot } from "./_assets.ts";
import { writeReports } from "../reports/write.ts";
import { InputError, parseFlags, run, type TaskSpec, UsageError } from "./_flags.ts";
import { requireFolder } from "./_input.ts";
import { detectImageNetLayout } from "../datasets/imagenet.ts";

/** Budget of the embedded default: see docs/reproduce.md for its wall-clock. */
export const DEFAULT_BUDGET = "smoke";

/** The flags of `deno task reproduce`. */
export const SPEC = {
  name: "reproduce",
  summary: "run a paper's cells and baselines, append records, write the report " +
    "(`--dry-run`: list them)",
  positionals: {
    name: "paper",
    help: "the papers to reproduce",
    required: true,
    multiple: true,
    values: Object.keys(PAPERS),
  },
  flags: [
    {
      name: "suite",
      type: "string",
      multiple: true,
      values: PaperSuiteSchema.options,
      default: ["proxy"],
      help: "where the cells run: the embedded Fashion-MNIST proxies, the shared ImageNet " +
        "models and images, a user's ImageNet, VOC (repeatable)",
    },
    {
      name: "cells",
      type: "string",
      multiple: true,
      placeholder: "SUBSTR",
      help: "only cells whose id contains this, e.g. mobilenetv2/w2a4/ (repeatable; default: all)",
    },
    {
      name: "budget",
      type: "string",
      values: ["smoke", "quick", "paper"],
      help: `how much compute each run gets (default: ${DEFAULT_BUDGET}; custom when --iters, ` +
        "--calib-n or --set is given)",
    },
    {
      name: "iters",
      type: "int",
      min: 0,
      placeholder: "N",
      help: "a custom budget: N iterations per reconstruction unit",
    },
    {
      name: "calib-n",
      type: "int",
      min: 1,
      placeholder: "N",
      help: "a custom budget's calibration images (default: the recipe's)",
    },
    {
      name: "set",
      type: "string",
      multiple: true,
      placeholder: "KEY=VALUE",
      help: "a custom budget: replace one recipe setting, by the recipe's key (repeatable)",
    },
    {
      name: "seeds",
      type: "int",
      min: 1,
      placeholder: "N",
      help: "run at most the first N seeds of each cell (default: the budget's)",
    },
    BACKEND_FLAG,
    RESULTS_FLAG,
    {
      name: "out",
      type: "path",
      default: "out/reports",
      placeholder: "DIR",
      help: "the reports folder (<paper>.html)",
    },
    CHECKPOINTS_FLAG,
    {
      name: "assets",
      type: "path",
      placeholder: "DIR",
      help: "the shared assets folder (default: $PTQ_ASSETS, else ../shared/assets)",
    },
    {
      name: "models-dir",
      type: "path",
      placeholder: "DIR",
      help: "the papers' checkpoints exported to ONNX, under the registry's file names",
    },
    {
      name: "imagenet",
      type: "path",
      placeholder: "DIR",
      help: "a user's ImageNet (train/ and val/) for the imagenet suite",
    },
    {
      name: "max-runs",
      type: "int",
      min: 1,
      placeholder: "N",
      help: "stop after N new runs (default: all)",
    },
    {
      name: "shard",
      type: "string",
      placeholder: "I/N",
      help: "run only the I-th of N parts of the plan (balanced by expected cost; the same " +
        "partition on every machine), recording to <paper>.shard-I-of-N.jsonl",
    },
    {
      name: "jobs",
      type: "int",
      min: 1,
      placeholder: "N",
      help: "local processes, each running a balanced share of the plan (as --shard I/N) with " +
        "cores/N onnxruntime threads; their records are merged into <paper>.jsonl (default: one " +
        "per core, at most 4, when only the proxy suite runs on the cpu backend; else 1)",
    },
    {
      name: "dry-run",
      type: "boolean",
      help: "list the planned runs with their estimated time; run nothing",
    },
    { name: "no-report", type: "boolean", help: "do not write the HTML report" },
  ],
  notes: [
    "Exit code 0 when every run succeeded, 1 when a run failed or a file or folder is missing, " +
    "2 on bad arguments (nothing is run or written then).",
  ],
} as const satisfies TaskSpec;

/**
 * `--set KEY=VALUE` flags → the replaced recipe settings (values read as JSON, else as strings),
 * or undefined when there are none.
 */
export function parseSet(flags: readonly string[]): Record<string, JsonValue> | undefined {
  if (!flags.length) return undefined;
  const set: Record<string, JsonValue> = {};
  for (const f of flags) {
    const m = /^([A-Za-z_][\w.]*)=(.+)$/.exec(f);
    if (!m) throw new UsageError(`--set takes KEY=VALUE (got "${f}")`);
    if (m[1] in set) throw new UsageError(`--set ${m[1]} is given twice`);
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

/** The parsed flags of `deno task reproduce`. */
export type ReproduceFlags = ReturnType<typeof parseFlags<typeof SPEC>>["values"];

/**
 * What the flags ask of `reproduce()` for one paper (everything but the paper, the log and the
 * run limits), checked: bad combinations are UsageErrors, missing folders InputErrors.
 */
export async function reproduceOptions(
  v: Omit<ReproduceFlags, "dry-run" | "no-report" | "max-runs">,
): Promise<Omit<ReproduceOptions, "paper">> {
  const set = parseSet(v.set);
  const custom = v.iters !== undefined || v["calib-n"] !== undefined || set !== undefined;
  const budget = v.budget ?? (custom ? "custom" : DEFAULT_BUDGET);
  const override = custom
    ? { iters: v.iters as number, calibration: v["calib-n"], ...(set ? { set } : {}) }
    : undefined;
  try {
    checkOverride(budget, override);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  let shard;
  try {
    shard = v.shard === undefined ? undefined : parseShard(v.shard);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const suites = [...new Set(v.suite)];
  if (suites.includes("imagenet-subset")) {
    await requireFolder(assetsRoot(v.assets), "assets folder (--assets)");
  }
  if (v["models-dir"]) await requireFolder(v["models-dir"], "--models-dir");
  if (v.imagenet) await requireFolder(v.imagenet, "--imagenet");
  return {
    suites,
    cells: v.cells,
    budget,
    override,
    seeds: v.seeds,
    resultsDir: v.results,
    checkpointDir: v.checkpoints,
    backend: v.backend,
    assetsDir: v.assets,
    modelsDir: v["models-dir"],
    imagenetDir: v.imagenet,
    shard,
  };
}

/**
 * The imagenet suite's folders, checked before anything runs: both flags are given, and
 * `--imagenet` has ImageNet's layout (the layout found is printed); a malformed one is an
 * InputError that names the culprit.
 */
async function checkImagenet(imagenet?: string, modelsDir?: string): Promise<void> {
  if (!imagenet) {
    throw new UsageError(
      "--suite imagenet needs --imagenet DIR (train/<wnid>/*.JPEG and val/)",
    );
  }
  if (!modelsDir) {
    throw new UsageError(
      "--suite imagenet needs --models-dir DIR (the papers' checkpoints exported to ONNX under " +
        "the registry's file names)",
    );
  }
  try {
    const layout = await detectImageNetLayout(imagenet);
    console.error(`imagenet: ${layout.root}: ${layout.description}`);
  } catch (e) {
    throw new InputError(`--imagenet ${imagenet}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * `--jobs`' default: one process per core (at most 4) on the proxy suite alone with the cpu
 * backend (small models: memory is no concern, the JavaScript kernels use one core each), else 1.
 */
export function defaultJobs(suites: readonly string[], backend: string): number {
  const cores = navigator.hardwareConcurrency || 1;
  const proxyOnCpu = backend === "cpu" && suites.every((s) => s === "proxy");
  return proxyOnCpu ? Math.max(1, Math.min(cores, 4)) : 1;
}

/** Runs `deno task reproduce` with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(SPEC, args);
  const options = await reproduceOptions(v);
  if (options.suites?.includes("imagenet") && !v["dry-run"]) {
    await checkImagenet(v.imagenet, v["models-dir"]);
  }
  // Fails early, with the reason, where the backend is unknown or has no adapter.
  try {
    await backendByName(v.backend);
  } catch (e) {
    throw new InputError(`--backend ${v.backend}: ${(e as Error).message}`);
  }
  const single = v["dry-run"] || v.shard !== undefined || v["max-runs"] !== undefined;
  const jobs = single ? 1 : v.jobs ?? defaultJobs(options.suites ?? ["proxy"], v.backend);
  if (jobs > 1) return await runJobs(args, jobs, positionals, v);
  let failed = 0;
  const start = performance.now();
  // Every progress line carries the seconds since the command started.
  const log = (m: string) =>
    console.error(`[${((performance.now() - start) / 1000).toFixed(1)} s] ${m}`);
  for (const paper of positionals) {
    const t0 = performance.now();
    const s = await reproduce({
      ...options,
      paper,
      log,
      maxRuns: v["max-runs"],
      dryRun: v["dry-run"],
    });
    if (v["dry-run"]) continue;
    failed += s.failed.length;
    console.error(
      `${paper}: ${s.ran} new runs, ${s.alreadyRecorded} already recorded, ` +
        `${s.failed.length} failed, ${((performance.now() - t0) / 1000).toFixed(0)} s; ` +
        `records in ${s.resultsFile}`,
    );
    if (!v["no-report"] && s.ran + s.alreadyRecorded > 0) {
      const written = await writeReports({
        papers: [paper],
        resultsDir: v.results,
        outDir: v.out,
        skips: s.skips,
      });
      for (const w of written) console.log(`report: ${w}`);
    }
  }
  return failed ? 1 : 0;
}

/**
 * `--jobs N`: N child processes of this command, the i-th with `--shard i/N` (the runner's
 * deterministic, cost-balanced partition) and cores/N onnxruntime threads, their progress lines
 * prefixed; then each paper's shard records are merged into `<paper>.jsonl` and its report
 * written. A killed `--jobs` run resumes like any other: the merged and the shard records count
 * as recorded.
 */
async function runJobs(
  args: string[],
  jobs: number,
  papers: string[],
  v: { results: string; out: string; "no-report"?: boolean },
): Promise<number> {
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--jobs") i++;
    else if (!args[i].startsWith("--jobs=") && args[i] !== "--no-report") rest.push(args[i]);
  }
  const threads = Math.max(1, Math.floor((navigator.hardwareConcurrency || 1) / jobs));
  const config = new URL("../deno.json", import.meta.url).pathname;
  const script = new URL(import.meta.url).pathname;
  console.error(`${jobs} local jobs, ${threads} onnxruntime thread(s) each`);
  const children = Array.from({ length: jobs }, (_, i) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        config,
        script,
        ...rest,
        "--shard",
        `${i + 1}/${jobs}`,
        "--no-report",
      ],
      env: { PTQ_CPU_THREADS: String(threads) },
      stdout: "inherit",
      stderr: "piped",
    }).spawn();
    const prefix = `[job ${i + 1}/${jobs}] `;
    const lines = child.stderr.pipeThrough(new TextDecoderStream());
    const pump = (async () => {
      let buf = "";
      for await (const chunk of lines) {
        buf += chunk;
        const parts = buf.split("\n");
        buf = parts.pop()!;
        for (const l of parts) console.error(prefix + l);
      }
      if (buf) console.error(prefix + buf);
    })();
    return { status: child.status, pump };
  });
  const codes: number[] = [];
  for (const c of children) {
    codes.push((await c.status).code);
    await c.pump;
  }
  for (const paper of papers) {
    const moved = await consolidateShards(v.results, paper, jobs);
    console.error(`${paper}: ${moved} records merged into ${resultsPath(paper, v.results)}`);
    if (!v["no-report"]) {
      try {
        const written = await writeReports({
          papers: [paper],
          resultsDir: v.results,
          outDir: v.out,
        });
        for (const w of written) console.log(`report: ${w}`);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
  }
  // A child's usage error is every child's: pass it on; else 1 when any run failed.
  return codes.includes(2) ? 2 : codes.some((c) => c !== 0) ? 1 : 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
