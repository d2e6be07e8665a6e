import { assert, assertEquals, assertThrows } from "../runtime/assert.ts";
import { appendRecord, parseRecords, runKey } from "./record.ts";
import { fakeRecord } from "./record_fixture.ts";
import { planPaper, reproduce, runComputationKey } from "./runner.ts";
import {
  consolidateShards,
  estimateCosts,
  paperRecordFiles,
  parseShard,
  partition,
  readPaperRecords,
  shardFile,
} from "./shard.ts";

Deno.test("--shard takes I/N with 1 ≤ I ≤ N", () => {
  assertEquals(parseShard("2/3"), { index: 2, count: 3 });
  for (const bad of ["0/2", "3/2", "1/0", "x", "1/2/3", "-1/2"]) {
    assertThrows(() => parseShard(bad), RangeError, "I/N");
  }
});

Deno.test("shards split the plan into disjoint parts that cover it, the same way every time", () => {
  const { runs } = planPaper("mrecg", ["proxy"], "smoke");
  const costs = estimateCosts(runs, []);
  for (const n of [1, 2, 3, 7]) {
    const a = partition(runs, costs, n, runComputationKey);
    const b = partition([...runs].reverse(), costs, n, runComputationKey);
    const keys = a.flatMap((p) => p.runs.map((r) => r.key));
    assertEquals(keys.length, runs.length, `n=${n}`);
    assertEquals(new Set(keys).size, runs.length, `n=${n}: no run in two shards`);
    // The same partition whatever the order the plan came in.
    assertEquals(
      a.map((p) => p.runs.map((r) => r.key).sort()),
      b.map((p) => p.runs.map((r) => r.key).sort()),
    );
    // Runs of one computation (two cells on one proxy) stay together.
    for (const p of a) {
      for (const r of p.runs) {
        const ck = runComputationKey(r);
        assert(a.every((q) => q === p || !q.runs.some((s) => runComputationKey(s) === ck)));
      }
    }
    // Balanced: no shard carries more than the lightest plus the largest single group.
    const loads = a.map((p) => p.units);
    const biggest = Math.max(...runs.map((r) => costs.get(r.key)!.units));
    assert(Math.max(...loads) - Math.min(...loads) <= biggest, `n=${n}: ${loads}`);
  }
});

Deno.test("costs come from recorded runs of the same kind, not from the planned runs' own", () => {
  const { runs } = planPaper("pdquant", ["proxy"], "smoke", ["resnet18/w4a4/"]);
  const r0 = runs[0];
  const rec = (seed: number, wall: number) => ({
    ...fakeRecord({
      cell: r0.cell,
      suite: "proxy",
      recipe: r0.recipe.id,
      method: r0.method,
      model: r0.model.name,
      w: r0.bits.w,
      a: r0.bits.a,
      seed,
      top1: 50,
      fp32: 80,
      budget: "smoke",
    }),
    wall_s: wall,
  });
  // Another seed of the same kind sets the scale; the planned run's own record does not.
  const other = rec(4242, 30);
  const own = { ...rec(r0.seed, 999) };
  assertEquals(runKey(own), r0.key);
  const costs = estimateCosts(runs, [other, own]);
  assertEquals(costs.get(r0.key)!.seconds, 30);
  assert(costs.get(r0.key)!.basis.includes("recorded"));
  // A run of another kind gets the budget's work at that scale.
  const r1 = runs.find((r) => r.method !== r0.method)!;
  assertEquals(costs.get(r1.key)!.basis, "from the budget");
  assert(costs.get(r1.key)!.seconds! > 0);
  // The display counts every record.
  assertEquals(estimateCosts(runs, [own], false).get(r0.key)!.seconds, 999);
});

/** A proxy QDrop record of the given seed (the records the merge tests move around). */
const rec = (seed: number) =>
  fakeRecord({
    cell: "pdquant/resnet18/w4a4/qdrop",
    suite: "proxy",
    recipe: "pdquant/qdrop@resnet",
    method: "qdrop",
    model: "proxy_resnet",
    w: 4,
    a: 4,
    seed,
    top1: 50,
    fp32: 80,
  });

Deno.test("a paper's records merge from its main and shard files; a key in two files is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await appendRecord(`${dir}/pdquant.jsonl`, rec(1));
    await appendRecord(shardFile(dir, "pdquant", { index: 2, count: 2 }), rec(2));
    await appendRecord(shardFile(dir, "pdquant", { index: 1, count: 2 }), rec(3));
    await appendRecord(`${dir}/mrecg.shard-1-of-2.jsonl`, rec(4));
    assertEquals((await paperRecordFiles(dir, "pdquant")).map((f) => f.slice(dir.length + 1)), [
      "pdquant.jsonl",
      "pdquant.shard-1-of-2.jsonl",
      "pdquant.shard-2-of-2.jsonl",
    ]);
    assertEquals((await readPaperRecords(dir, "pdquant")).records.map((r) => r.seed), [1, 3, 2]);
    await appendRecord(shardFile(dir, "pdquant", { index: 2, count: 2 }), rec(1));
    const e = await readPaperRecords(dir, "pdquant").catch((e) => e as Error);
    assert(e instanceof RangeError, String(e));
    assert(e.message.includes("recorded twice") && e.message.includes("shard-2-of-2"), e.message);
    assertEquals((await readPaperRecords(`${dir}/none`, "pdquant")).records, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--jobs' shard records move into the main file once, and the shard files go", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await appendRecord(`${dir}/pdquant.jsonl`, rec(1));
    await appendRecord(shardFile(dir, "pdquant", { index: 1, count: 2 }), rec(2));
    await appendRecord(shardFile(dir, "pdquant", { index: 2, count: 2 }), rec(3));
    // a consolidation killed after appending, before removing: the record is not appended twice
    await appendRecord(`${dir}/pdquant.jsonl`, rec(3));
    await appendRecord(shardFile(dir, "pdquant", { index: 1, count: 3 }), rec(4)); // not ours
    assertEquals(await consolidateShards(dir, "pdquant", 2), 1);
    assertEquals((await paperRecordFiles(dir, "pdquant")).map((f) => f.slice(dir.length + 1)), [
      "pdquant.jsonl",
      "pdquant.shard-1-of-3.jsonl",
    ]);
    assertEquals((await readPaperRecords(dir, "pdquant")).records.map((r) => r.seed), [1, 3, 2, 4]);
    assertEquals(await consolidateShards(dir, "pdquant", 2), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two shards run in turn record exactly the single-process run's numbers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cells = ["resnet18/w4a4/qdrop", "resnet18/w4a4/brecq"];
    const opts = { paper: "pdquant", cells, resultsDir: dir, checkpointDir: `${dir}/ck`, log() {} };
    const a = await reproduce({ ...opts, shard: { index: 1, count: 2 } });
    const b = await reproduce({ ...opts, shard: { index: 2, count: 2 } });
    assertEquals([a.planned, b.planned, a.ran + b.ran], [1, 1, 2]);
    const { records, files } = await readPaperRecords(dir, "pdquant");
    assertEquals(files.map((f) => f.slice(dir.length + 1)), [
      "pdquant.shard-1-of-2.jsonl",
      "pdquant.shard-2-of-2.jsonl",
    ]);
    const committed = parseRecords(
      await Deno.readTextFile(new URL("../docs/results/pdquant.jsonl", import.meta.url)),
    ).records;
    for (const r of records) {
      const c = committed.find((x) => runKey(x) === runKey(r));
      assert(c, runKey(r));
      assertEquals([r.metrics.top1, r.exported?.top1], [c.metrics.top1, c.exported?.top1]);
    }
    // A shard run again finds its runs recorded, and the unsharded plan sees them too.
    assertEquals((await reproduce({ ...opts, shard: { index: 1, count: 2 } })).ran, 0);
    assertEquals((await reproduce({ ...opts, dryRun: true })).alreadyRecorded, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
