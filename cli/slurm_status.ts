/**
 * `deno task slurm-status <paper> [--job-dir DIR]`: per-shard progress of a job written by
 * `deno task slurm`, from its records, checkpoints and logs (not from Slurm itself, so it works
 * after the job has left the queue and on any machine that sees the shared folders).
 *
 * @module
 */
import { checkpointProgress } from "../methods/mod.ts";
import { formatDuration, runCheckpoint, secondsOf } from "../papers/mod.ts";
import { InputError, parseFlags, run, type TaskSpec } from "./_flags.ts";
import { readInputJson } from "./_input.ts";
import { reproduceOptions, SPEC as REPRODUCE } from "./reproduce.ts";
import { type JobManifest, jobPlan } from "./slurm.ts";

/** The flags of `deno task slurm-status`. */
export const SPEC = {
  name: "slurm-status",
  summary: "per-shard progress of a `deno task slurm` job, from its records, checkpoints and logs",
  positionals: { ...REPRODUCE.positionals, multiple: false },
  flags: [
    {
      name: "job-dir",
      type: "path",
      placeholder: "DIR",
      help: "the job's folder (default: the newest out/slurm/<paper>-*)",
    },
  ],
} as const satisfies TaskSpec;

/** The newest `out/slurm/<paper>-*` folder with a manifest. */
async function newestJob(paper: string): Promise<string> {
  const found: string[] = [];
  try {
    for await (const e of Deno.readDir("out/slurm")) {
      if (e.isDirectory && e.name.startsWith(`${paper}-`)) found.push(`out/slurm/${e.name}`);
    }
  } catch {
    // no jobs written here
  }
  if (!found.length) {
    throw new InputError(`no job of ${paper} in out/slurm/: pass --job-dir DIR`);
  }
  return found.sort().at(-1)!;
}

/** The last non-empty line of a log file, or "". */
async function lastLine(path: string): Promise<string> {
  try {
    const lines = (await Deno.readTextFile(path)).split("\n").filter((l) => l.trim());
    return lines.at(-1)?.slice(0, 160) ?? "";
  } catch {
    return "";
  }
}

/** Prints the progress; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(SPEC, args);
  const paper = positionals[0];
  const dir = v["job-dir"] ?? await newestJob(paper);
  const m = await readInputJson(`${dir}/job.json`, "job manifest") as JobManifest;
  if (m.paper !== paper) {
    throw new InputError(`${dir}/job.json is a job of ${m.paper}, not ${paper}`);
  }
  const { values: rv } = parseFlags(REPRODUCE, [paper, ...m.reproduce_args]);
  const o = await reproduceOptions({ ...rv, shard: undefined });
  const { runs, files, recorded, parts, shown } = await jobPlan(paper, o, m.shards);
  console.log(
    `${paper}: job ${m.job_id ?? "(not submitted)"}, ${m.shards} shards, written ${m.created} ` +
      `at ${m.commit}; records: ${files.length ? files.join(", ") : "none yet"}`,
  );
  let left = 0;
  for (const p of parts) {
    const done = p.runs.filter((r) => recorded.has(r.key));
    const todo = p.runs.filter((r) => !recorded.has(r.key));
    left += todo.length;
    let current = "";
    for (const r of todo) {
      const ck = await checkpointProgress(runCheckpoint(r, o.checkpointDir!, o.backend ?? "cpu"));
      if (ck) {
        current = `; in progress: ${r.key} (${ck.unitsDone} units done, checkpoint ` +
          `${ck.written?.toISOString() ?? "?"})`;
        break;
      }
    }
    const secs = secondsOf(todo, shown);
    const est = !todo.length
      ? "done"
      : secs !== null
      ? `~${formatDuration(secs)} left`
      : "time left unknown";
    const log = await lastLine(`${m.logs}/shard-${p.shard.index}.out`);
    console.log(
      `  shard ${p.shard.index}/${m.shards}: ${done.length}/${p.runs.length} runs recorded, ` +
        `${est}${current}` + (log ? `\n    log: ${log}` : ""),
    );
  }
  console.log(left ? `${left} runs to go` : `all ${runs.length} runs recorded`);
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
