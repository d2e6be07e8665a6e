/**
 * `deno task slurm` end to end on a real single-node Slurm cluster (`_slurm.ts`): a sharded
 * reproduction submitted as an array job merges into exactly the runs a single process records,
 * with the same numbers, also when one shard is cancelled mid-run and re-submitted.
 *
 * Ignored (the reason printed once) where the cluster cannot start here — not root, Slurm or
 * munge missing, a daemon failing — or where `PTQ_SKIP_SLURM` is set. Every daemon it started is
 * stopped, and its folders removed, whether the test passes or not.
 *
 * @module
 */
import { assert, assertEquals } from "../runtime/assert.ts";
import {
  parseRecords,
  planPaper,
  readPaperRecords,
  type ResultRecord,
  runComputationKey,
  runKey,
  shardFile,
} from "../papers/mod.ts";
import { type Cluster, startCluster } from "./_slurm.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const PAPER = "pdquant";
const CELLS = "resnet18/w4a4/";
const SHARDS = 2;
/** Seconds a whole array job may take on a 2-core machine (4 smoke runs of ~10–25 s). */
const JOB_TIMEOUT_MS = 150_000;

const cluster: Cluster | { skip: string } = Deno.env.get("PTQ_SKIP_SLURM")
  ? { skip: "PTQ_SKIP_SLURM is set" }
  : await startCluster();
if ("skip" in cluster) console.error(`tests/slurm_test.ts ignored: ${cluster.skip}`);

/** The runs of the cells (smoke budget, proxy suite): what the shards must record together. */
const PLAN = planPaper(PAPER, ["proxy"], "smoke", [CELLS]).runs;

/** The committed single-process records, by run key. */
async function committed(): Promise<Map<string, ResultRecord>> {
  const file = `${ROOT}/docs/results/${PAPER}.jsonl`;
  const { records } = parseRecords(await Deno.readTextFile(file), file);
  return new Map(records.map((r) => [runKey(r), r]));
}

/** Every file under `dir` (none where it does not exist). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) out.push(...await filesUnder(`${dir}/${e.name}`));
      else out.push(`${dir}/${e.name}`);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out;
}

/** The array tasks' logs, for failure messages. */
async function jobLogs(jobDir: string): Promise<string> {
  const parts: string[] = [];
  for (const f of (await filesUnder(`${jobDir}/logs`)).sort()) {
    const lines = (await Deno.readTextFile(f)).trimEnd().split("\n");
    parts.push(`--- ${f}:\n${lines.slice(-25).join("\n")}`);
  }
  return parts.join("\n") || `(no logs in ${jobDir}/logs)`;
}

/** The folders of one sharded reproduction. */
interface Dirs {
  results: string;
  checkpoints: string;
  job: string;
}

async function dirsIn(parent: string, name: string): Promise<Dirs> {
  const d = {
    results: `${parent}/${name}/results`,
    checkpoints: `${parent}/${name}/checkpoints`,
    job: `${parent}/${name}/job`,
  };
  await Deno.mkdir(`${parent}/${name}`, { recursive: true });
  return d;
}

/** `deno task slurm … --submit` with the cluster's environment → the job id. */
async function submit(c: Cluster, d: Dirs): Promise<string> {
  const args = [
    "task",
    "slurm",
    PAPER,
    "--cells",
    CELLS,
    "--shards",
    String(SHARDS),
    "--results",
    d.results,
    "--checkpoints",
    d.checkpoints,
    "--job-dir",
    d.job,
    // One core each, so that both shards run at once on a 2-core node.
    "--cpus-per-task",
    "1",
    "--partition",
    "debug",
    "--submit",
  ];
  // sbatch exports the submitting environment: the tasks run this very Deno.
  const r = await c.run(Deno.execPath(), args, {
    cwd: ROOT,
    env: { PTQ_DENO: Deno.execPath() },
  });
  const id = /submitted job (\d+)/.exec(r.stdout + r.stderr)?.[1];
  assert(r.code === 0 && id, `deno ${args.join(" ")} (exit ${r.code}):\n${r.stdout}${r.stderr}`);
  return id;
}

/** Waits for the job and checks that each of its tasks ended in `want` (by `ID_I`). */
async function waitFor(c: Cluster, id: string, d: Dirs, want: Record<string, string>) {
  try {
    await c.waitForJob(id, JOB_TIMEOUT_MS);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${await jobLogs(d.job)}`);
  }
  const states = Object.fromEntries(await c.states(id));
  assertEquals(states, want, `states of job ${id}:\n${await jobLogs(d.job)}`);
}

/**
 * The merged records are exactly the planned runs, once each, every shard file holding some,
 * with the committed single-process numbers; no checkpoint is left. Returns them by key.
 */
async function checkRecords(d: Dirs): Promise<Map<string, ResultRecord>> {
  const { records, files } = await readPaperRecords(d.results, PAPER); // refuses a key twice
  const shardFiles = Array.from(
    { length: SHARDS },
    (_, i) => shardFile(d.results, PAPER, { index: i + 1, count: SHARDS }),
  );
  assertEquals(files, shardFiles, "the records files: one per shard, no main file");
  for (const f of files) {
    const r = parseRecords(await Deno.readTextFile(f), f);
    assert(r.records.length > 0, `${f} holds no record`);
    assert(!r.torn, `${f} ends in a torn line: ${JSON.stringify(r.torn)}`);
  }
  const keys = records.map(runKey);
  assertEquals(keys.length, new Set(keys).size, `a run recorded twice: ${keys.join("\n")}`);
  assertEquals([...keys].sort(), PLAN.map((r) => r.key).sort(), "the recorded runs");
  // Every run at once, so that a failure shows all that differ.
  const ref = await committed();
  const top1 = (r: ResultRecord) => ({
    metrics: r.metrics.top1,
    exported: r.exported?.top1,
    fp32: r.fp32.top1,
  });
  const byKey = (rs: ResultRecord[]) => Object.fromEntries(rs.map((r) => [runKey(r), top1(r)]));
  assertEquals(
    byKey(records),
    byKey(records.map((r) => ref.get(runKey(r))!)),
    `top-1 (simulated, exported QDQ, FP32) against docs/results/${PAPER}.jsonl`,
  );
  assertEquals(await filesUnder(d.checkpoints), [], "checkpoints left behind");
  return new Map(records.map((r) => [runKey(r), r]));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether `dir` holds a unit checkpoint of the computation `ck` (its key names it first). */
async function hasCheckpoint(dir: string, ck: string): Promise<boolean> {
  for (const f of await filesUnder(dir)) {
    if (!f.endsWith(".json")) continue;
    try {
      const saved = JSON.parse(await Deno.readTextFile(f)) as { key?: string; unitsDone?: number };
      if (JSON.parse(saved.key ?? "null")?.[0] === ck && (saved.unitsDone ?? 0) > 0) return true;
    } catch {
      // being written
    }
  }
  return false;
}

Deno.test({
  name: "a sharded reproduction through a real Slurm cluster",
  ignore: "skip" in cluster,
  async fn(t) {
    const c = cluster as Cluster;
    // Inside the cluster's folder, so that stopping the cluster removes it too.
    const tmp = `${c.dir}/work`;
    await Deno.mkdir(tmp);
    const t0 = performance.now();
    const since = () => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
    try {
      const ref = await committed();
      const missing = PLAN.filter((r) => !ref.has(r.key)).map((r) => r.key);
      assertEquals(missing, [], `planned runs without a committed record`);

      await t.step(
        "a 2-shard Slurm array's merged records equal a single-process run's",
        async () => {
          const d = await dirsIn(tmp, "whole");
          const id = await submit(c, d);
          await waitFor(c, id, d, { [`${id}_1`]: "COMPLETED", [`${id}_2`]: "COMPLETED" });
          await checkRecords(d);
          console.error(`  2-shard array job ${id} done at ${since()}`);
        },
      );

      await t.step(
        "a shard cancelled mid-run and re-submitted completes the records, once each",
        async () => {
          const d = await dirsIn(tmp, "resubmitted");
          const id = await submit(c, d);
          // Shard 2 has started a run: its log names it ("[1/N] <run key>").
          const log = `${d.job}/logs/shard-2.out`;
          let key: string | undefined;
          while (!key) {
            const text = await Deno.readTextFile(log).catch(() => "");
            key = /\[1\/\d+\] (\S+)/.exec(text)?.[1];
            if (key) break;
            assert(
              (await c.queued(`${id}_2`)).length,
              `shard 2 ended before starting a run:
${await jobLogs(d.job)}`,
            );
            await sleep(200);
          }
          // Give it time to checkpoint a unit (a few seconds), so that the re-submitted task
          // continues from the checkpoint; cancel it then, or after 30 s in any case.
          const run = PLAN.find((r) => r.key === key);
          assert(run, `shard 2 runs ${key}, which is not planned`);
          const ck = runComputationKey(run);
          let checkpointed = false;
          for (let i = 0; i < 150 && !checkpointed; i++) {
            checkpointed = await hasCheckpoint(d.checkpoints, ck);
            if (!checkpointed) await sleep(200);
          }
          const cancel = await c.run("scancel", [`${id}_2`]);
          assertEquals(cancel.code, 0, `scancel ${id}_2: ${cancel.stderr}`);
          await waitFor(c, `${id}_2`, d, { [`${id}_2`]: "CANCELLED" });
          const partial = await readPaperRecords(d.results, PAPER);
          assert(
            !partial.records.some((r) => runKey(r) === key),
            `${key} was recorded although its shard was cancelled while running it`,
          );
          // Re-submitted while shard 1 still runs, as one would.
          const again = await c.sbatch([`--array=2`, `${d.job}/job.sbatch`]);
          await waitFor(c, id, d, { [`${id}_1`]: "COMPLETED", [`${id}_2`]: "CANCELLED" });
          await waitFor(c, again, d, { [`${again}_2`]: "COMPLETED" });
          const records = await checkRecords(d);
          const notes = records.get(key!)!.notes;
          if (checkpointed) {
            assert(
              notes.some((n) => n.startsWith("resumed from a unit checkpoint")),
              `${key} had a unit checkpoint when cancelled but its record does not say it ` +
                `resumed: ${notes.join(" | ")}`,
            );
          }
          console.error(
            `  job ${id} (shard 2 cancelled in ${key}` +
              `${checkpointed ? " after a unit checkpoint" : ", no unit checkpoint yet"}), ` +
              `shard 2 re-submitted as ${again}: done at ${since()}`,
          );
        },
      );
    } finally {
      await c.stop();
    }
  },
});
