/**
 * `deno task slurm <paper> [reproduce flags] --shards N [--partition P] [--gpus-per-task G]
 * [--time HH:MM:SS] [--submit]`: a paper's reproduction as a Slurm array job, one array task per
 * shard (`reproduce --shard I/N`, `papers/shard.ts`).
 *
 * Writes `<job-dir>/job.sbatch` (the array script: logs per task in `<job-dir>/logs/`, the exact
 * reproduce command and the commit it was written at) and `<job-dir>/job.json` (the same as data,
 * read by `deno task slurm-status`), prints each shard's runs and estimated time, and with
 * `--submit` submits it with `sbatch` and says how to follow it. Each task appends to its own
 * records file on the shared file system; a re-submitted task (`sbatch --array=I job.sbatch`)
 * skips its recorded runs and continues an interrupted one from its unit checkpoint.
 *
 * The script runs Deno from `$PTQ_DENO`, else `deno` on the PATH, else the Deno that wrote it,
 * else `npx -y deno@2.9.6` (the README's way), in the repository folder it was written from (a
 * shared home directory on a cluster).
 *
 * @module
 */
import { resolve } from "node:path";
import {
  type CostEstimate,
  estimateCosts,
  formatDuration,
  gitCommit,
  paperOf,
  planPaper,
  readPaperRecords,
  type ReproduceOptions,
  runKey,
  type RunSpec,
  secondsOf,
  type ShardPlan,
  shardPlans,
} from "../papers/mod.ts";
import { type Flag, parseFlags, run, type TaskSpec, UsageError } from "./_flags.ts";
import { reproduceOptions, SPEC as REPRODUCE } from "./reproduce.ts";

/** Reproduce flags a sharded job does not pass on (it sets or forbids them itself). */
const NOT_FORWARDED = new Set(["dry-run", "no-report", "max-runs", "shard", "out", "jobs"]);

/** The reproduce flags an array task gets. */
const FORWARDED = REPRODUCE.flags.filter((f) => !NOT_FORWARDED.has(f.name));

/** Folders are made absolute: the job runs in the repository folder, not where it was written. */
const PATH_FLAGS = new Set(["results", "checkpoints", "assets", "models-dir", "imagenet"]);

/** The flags of `deno task slurm`. */
export const SPEC = {
  name: "slurm",
  summary:
    "a paper's reproduction as a Slurm array job, one task per shard (`--submit`: submit it)",
  positionals: { ...REPRODUCE.positionals, multiple: false },
  flags: [
    ...FORWARDED,
    {
      name: "shards",
      type: "int",
      min: 1,
      default: 2,
      placeholder: "N",
      help: "array tasks, each running one part of the plan (reproduce --shard I/N)",
    },
    { name: "partition", type: "string", placeholder: "P", help: "the Slurm partition" },
    {
      name: "gpus-per-task",
      type: "int",
      min: 0,
      placeholder: "G",
      help: "GPUs per array task (with --backend webgpu)",
    },
    {
      name: "cpus-per-task",
      type: "int",
      min: 1,
      default: 2,
      placeholder: "C",
      help: "CPU cores per array task (also the run's onnxruntime threads)",
    },
    { name: "mem", type: "string", placeholder: "SIZE", help: "memory per task, e.g. 8G" },
    {
      name: "time",
      type: "string",
      placeholder: "HH:MM:SS",
      help: "wall-clock limit per task (default: the partition's)",
    },
    {
      name: "job-dir",
      type: "path",
      placeholder: "DIR",
      help: "where the script, its manifest and the logs go " +
        "(default: out/slurm/<paper>-<UTC time>)",
    },
    { name: "submit", type: "boolean", help: "submit the script with sbatch" },
  ],
  notes: [
    "Records: each task appends to <results>/<paper>.shard-I-of-N.jsonl; `deno task report` " +
    "merges them with <paper>.jsonl and refuses a run recorded twice. Re-submit one task with " +
    "`sbatch --array=I <job-dir>/job.sbatch`: it skips what is recorded and resumes a run from " +
    "its unit checkpoint. Follow a job with `deno task slurm-status <paper> --job-dir DIR`.",
  ],
} as const satisfies TaskSpec;

/** The manifest `deno task slurm` writes beside the script. */
export interface JobManifest {
  paper: string;
  shards: number;
  /** The reproduce flags every task gets (before `--shard`). */
  reproduce_args: string[];
  commit: string;
  created: string;
  /** The repository folder the tasks run in. */
  repo: string;
  script: string;
  logs: string;
  sbatch: Record<string, string | number>;
  job_id?: string;
  /** The `deno task slurm` arguments that wrote it. */
  command: string[];
}

/** A job's plan: the runs, their records, the shards and each run's displayed estimate. */
export interface JobPlan {
  runs: RunSpec[];
  files: string[];
  recorded: Set<string>;
  parts: ShardPlan[];
  shown: Map<string, CostEstimate>;
}

/**
 * The plan of a sharded job as its tasks will compute it (the same function, the same records):
 * `slurm` prints it before submitting, `slurm-status` follows it.
 */
export async function jobPlan(
  paper: string,
  o: Omit<ReproduceOptions, "paper">,
  shards: number,
): Promise<JobPlan> {
  const { runs } = planPaper(paperOf(paper), o.suites!, o.budget!, o.cells, o.seeds, o.override);
  const { records, files } = await readPaperRecords(o.resultsDir!, paper);
  return {
    runs,
    files,
    recorded: new Set(records.map(runKey)),
    parts: shardPlans(runs, records, shards),
    shown: estimateCosts(runs, records, false),
  };
}

/** Single-quotes a word for bash. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'"'"'`)}'`;
}

/** The reproduce arguments the parsed flags stand for (paths made absolute). */
export function forwardedArgs(values: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const f of FORWARDED as readonly Flag[]) {
    const v = values[f.name];
    if (v === undefined || v === false) continue;
    if (JSON.stringify(v) === JSON.stringify(f.default)) continue;
    const one = (x: unknown) => PATH_FLAGS.has(f.name) ? resolve(String(x)) : String(x);
    if (f.type === "boolean") out.push(`--${f.name}`);
    else if (Array.isArray(v)) { for (const x of v) out.push(`--${f.name}`, one(x)); }
    else out.push(`--${f.name}`, one(v));
  }
  return out;
}

/** The sbatch script of a manifest. */
export function sbatchScript(m: JobManifest, denoPath: string): string {
  const q = shellQuote;
  const directives = Object.entries(m.sbatch).map(([k, v]) => `#SBATCH --${k}=${v}`);
  const reproduce = ["task", "reproduce", m.paper, ...m.reproduce_args].map(q).join(" ");
  return `#!/bin/bash
# ptq-bench: ${m.paper} as a ${m.shards}-task array, written ${m.created}
# at commit ${m.commit} by: deno task slurm ${m.command.map(q).join(" ")}
# Each task runs: deno ${reproduce} --shard "$SLURM_ARRAY_TASK_ID/${m.shards}" --no-report
# Re-submit one task: sbatch --array=I ${m.script}
${directives.join("\n")}
set -euo pipefail
cd ${q(m.repo)}
if [ -n "\${PTQ_DENO:-}" ]; then DENO="$PTQ_DENO"
elif command -v deno >/dev/null 2>&1; then DENO=deno
elif [ -x ${q(denoPath)} ]; then DENO=${q(denoPath)}
else DENO="npx -y deno@2.9.6"; fi
if [ -n "\${SLURM_CPUS_PER_TASK:-}" ]; then export PTQ_CPU_THREADS="$SLURM_CPUS_PER_TASK"; fi
now=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
echo "ptq-bench ${m.paper} shard $SLURM_ARRAY_TASK_ID/${m.shards} on $(hostname) at $(date -u +%FT%TZ); commit $now (written at ${m.commit})"
if [ "$now" != ${q(m.commit.replace(/\+dirty$/, ""))} ]; then
  echo "warning: the checkout moved since the script was written; each record names the commit it ran"
fi
exec $DENO ${reproduce} --shard "$SLURM_ARRAY_TASK_ID/${m.shards}" --no-report
`;
}

/** Runs `deno task slurm` with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(SPEC, args);
  const paper = positionals[0];
  if (v.time !== undefined && !/^(\d+-)?\d{1,3}:\d{2}:\d{2}$/.test(v.time)) {
    throw new UsageError(`--time: expected HH:MM:SS (or D-HH:MM:SS), got "${v.time}"`);
  }
  if (v.mem !== undefined && !/^\d+[KMGT]?$/.test(v.mem)) {
    throw new UsageError(`--mem: expected a size like 8G or 8000M, got "${v.mem}"`);
  }
  const options = await reproduceOptions({ ...v, shard: undefined });
  const reproduceArgs = forwardedArgs(v as Record<string, unknown>);
  const job = await jobPlan(paper, options, v.shards);
  if (!job.runs.length) throw new UsageError(`no runs are planned for ${paper} with these flags`);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const jobDir = resolve(v["job-dir"] ?? `out/slurm/${paper}-${stamp}`);
  const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const manifest: JobManifest = {
    paper,
    shards: v.shards,
    command: args,
    reproduce_args: reproduceArgs,
    commit: gitCommit(),
    created: new Date().toISOString(),
    repo,
    script: `${jobDir}/job.sbatch`,
    logs: `${jobDir}/logs`,
    sbatch: {
      "job-name": `ptq-${paper}`,
      array: `1-${v.shards}`,
      output: `${jobDir}/logs/shard-%a.out`,
      "cpus-per-task": v["cpus-per-task"],
      ...(v.partition ? { partition: v.partition } : {}),
      ...(v["gpus-per-task"] !== undefined ? { "gpus-per-task": v["gpus-per-task"] } : {}),
      ...(v.mem ? { mem: v.mem } : {}),
      ...(v.time ? { time: v.time } : {}),
    },
  };
  await Deno.mkdir(`${jobDir}/logs`, { recursive: true });
  await Deno.writeTextFile(manifest.script, sbatchScript(manifest, Deno.execPath()));
  await Deno.chmod(manifest.script, 0o755);
  await Deno.writeTextFile(`${jobDir}/job.json`, JSON.stringify(manifest, null, 2) + "\n");
  console.log(`${paper}: ${job.runs.length} runs in ${v.shards} shards (${jobDir}/job.sbatch)`);
  for (const p of job.parts) {
    const left = p.runs.filter((r) => !job.recorded.has(r.key));
    const secs = secondsOf(left, job.shown);
    const est = secs !== null
      ? `~${formatDuration(secs)}`
      : "time unknown (no recorded run of the same kind yet)";
    console.log(
      `  shard ${p.shard.index}/${p.shard.count}: ${p.runs.length} runs, ` +
        `${p.runs.length - left.length} recorded, ${left.length} to run, ${est}`,
    );
  }
  if (!v.submit) {
    console.log(`submit with: sbatch ${manifest.script}  (or run again with --submit)`);
    return 0;
  }
  const out = await new Deno.Command("sbatch", {
    args: ["--parsable", manifest.script],
    stdout: "piped",
    stderr: "piped",
  }).output().catch((e) => {
    throw new Error(`sbatch could not be started (${(e as Error).message}); is Slurm installed?`);
  });
  const text = (b: Uint8Array) => new TextDecoder().decode(b).trim();
  if (!out.success) throw new Error(`sbatch refused the job: ${text(out.stderr)}`);
  const id = text(out.stdout).split(";")[0];
  manifest.job_id = id;
  await Deno.writeTextFile(`${jobDir}/job.json`, JSON.stringify(manifest, null, 2) + "\n");
  console.log(`submitted job ${id}`);
  console.log(`follow it: squeue -j ${id}; deno task slurm-status ${paper} --job-dir ${jobDir}`);
  console.log(
    `logs: ${jobDir}/logs/shard-<I>.out; report when done: deno task report ${paper}` +
      (options.resultsDir ? ` --results ${resolve(options.resultsDir)}` : ""),
  );
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
