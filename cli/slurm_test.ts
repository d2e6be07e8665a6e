import { assert, assertEquals, assertStringIncludes } from "../runtime/assert.ts";
import { main as slurm, SPEC as SLURM } from "./slurm.ts";
import { main as status, SPEC as STATUS } from "./slurm_status.ts";
import { runTask } from "./_testing.ts";

Deno.test("slurm writes an array script that runs one reproduce shard per task, and its manifest", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runTask(SLURM, slurm, [
      "pdquant",
      "--cells",
      "resnet18/w4a4/",
      "--shards",
      "3",
      "--results",
      `${dir}/res`,
      "--time",
      "01:30:00",
      "--partition",
      "gpu",
      "--gpus-per-task",
      "1",
      "--backend",
      "webgpu",
      "--job-dir",
      `${dir}/job`,
    ]);
    assertEquals(r.code, 0, r.err);
    assertStringIncludes(r.out, "4 runs in 3 shards");
    assertEquals(r.out.match(/shard \d\/3: /g)?.length, 3);
    const script = await Deno.readTextFile(`${dir}/job/job.sbatch`);
    for (
      const line of [
        "#SBATCH --array=1-3",
        `#SBATCH --output=${dir}/job/logs/shard-%a.out`,
        "#SBATCH --time=01:30:00",
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-task=1",
        `task reproduce pdquant --cells resnet18/w4a4/ --backend webgpu --results ${dir}/res ` +
        `--shard "$SLURM_ARRAY_TASK_ID/3" --no-report`,
      ]
    ) assertStringIncludes(script, line);
    const m = JSON.parse(await Deno.readTextFile(`${dir}/job/job.json`));
    assertEquals([m.paper, m.shards, m.job_id], ["pdquant", 3, undefined]);
    assert(/^[0-9a-f]{12}(\+dirty)?$|^unknown$/.test(m.commit), m.commit);
    // Nothing recorded yet: the status shows every shard with nothing done.
    const s = await runTask(STATUS, status, ["pdquant", "--job-dir", `${dir}/job`]);
    assertEquals(s.code, 0, s.err);
    assertStringIncludes(s.out, "shard 3/3: 0/");
    assertStringIncludes(s.out, "4 runs to go");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("slurm refuses bad limits and a paper it does not know, writing nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (
      const [args, text] of [
        [["pdquant", "--time", "90 min"], "--time: expected HH:MM:SS"],
        [["pdquant", "--mem", "lots"], "--mem: expected a size"],
        [["pdquant", "--shards", "0"], "--shards: expected at least 1"],
        [["cvpr"], '"cvpr" is not one of'],
        [["pdquant", "--cells", "no-such-cell"], "no runs are planned"],
      ] as const
    ) {
      const r = await runTask(SLURM, slurm, [...args, "--job-dir", `${dir}/job`]);
      assertEquals(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assertStringIncludes(r.err, text);
    }
    assertEquals([...Deno.readDirSync(dir)].length, 0);
    const s = await runTask(STATUS, status, ["pdquant", "--job-dir", `${dir}/none`]);
    assertEquals(s.code, 1);
    assertStringIncludes(s.err, "job.json");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
