import { startCluster } from "./_slurm.ts";
const t0 = performance.now();
const c = await startCluster();
if ("skip" in c) { console.log("SKIP", c.skip); Deno.exit(0); }
console.log("up in", ((performance.now() - t0) / 1000).toFixed(1), "s", c.dir);
try {
  const id = await c.sbatch(["--array=1-2", "-o", `${c.dir}/hi-%a.out`, "--wrap", "echo hi $SLURM_ARRAY_TASK_ID; sleep 1"]);
  console.log("job", id, await c.queued(id));
  await c.waitForJob(id, 30_000);
  console.log("done after", ((performance.now() - t0) / 1000).toFixed(1), "s", [...await c.states(id)]);
  console.log(Deno.readTextFileSync(`${c.dir}/hi-1.out`), Deno.readTextFileSync(`${c.dir}/hi-2.out`));
  // a long job, cancelled by stop()
  const id2 = await c.sbatch(["--wrap", "sleep 300"]);
  await new Promise((r) => setTimeout(r, 1500));
  console.log("long", id2, await c.queued(id2));
} finally {
  const t1 = performance.now();
  await c.stop();
  console.log("stopped in", ((performance.now() - t1) / 1000).toFixed(1), "s; dir exists:", (() => { try { Deno.statSync(c.dir); return true; } catch { return false; } })());
}
