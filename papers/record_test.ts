import { assert, assertEquals, assertRejects, assertThrows } from "../runtime/assert.ts";
import {
  appendRecord,
  parseRecords,
  readRecords,
  recordedKeys,
  type ResultRecord,
  resultsPath,
  runKey,
  validateRecord,
} from "./mod.ts";
import { fakeRecord } from "./record_fixture.ts";

function sample(seed = 1005): ResultRecord {
  return fakeRecord({
    cell: "pdquant/resnet18/w2a2/pdquant",
    suite: "proxy",
    recipe: "pdquant/pdquant@resnet",
    method: "pdquant",
    model: "proxy_resnet",
    w: 2,
    a: 2,
    seed,
    top1: 80,
    fp32: 91,
    units: [0.1, 0.2],
  });
}

Deno.test("a record survives a JSON round trip through the schema", () => {
  const rec = sample();
  assertEquals(validateRecord(JSON.parse(JSON.stringify(rec))), rec);
});

Deno.test("an invalid record names every failing path", () => {
  const bad = structuredClone(sample()) as Record<string, unknown>;
  (bad.bits as { w: number }).w = 0;
  (bad.model as { sha256: string }).sha256 = "xyz";
  delete bad.started;
  const msg = (assertThrows(() => validateRecord(bad)) as Error).message;
  for (const p of ["bits.w", "model.sha256", "started"]) assert(msg.includes(p), msg);
});

Deno.test("appendRecord validates on write", async () => {
  const dir = await Deno.makeTempDir();
  const bad = { ...sample(), metrics: {} } as unknown as ResultRecord;
  await assertRejects(() => appendRecord(`${dir}/r.jsonl`, bad), TypeError);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a rerun adds no duplicates", async () => {
  const dir = await Deno.makeTempDir();
  const path = resultsPath("pdquant", `${dir}/results/`);
  assertEquals(path, `${dir}/results/pdquant.jsonl`);
  assertEquals(await appendRecord(path, sample(1005)), true);
  assertEquals(await appendRecord(path, sample(1006)), true);
  assertEquals(await appendRecord(path, sample(1005)), false);
  const { records, torn } = await readRecords(path);
  assertEquals(records.length, 2);
  assertEquals(torn, undefined);
  assert((await recordedKeys(path)).has(runKey(sample(1006))));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a torn last line is reported and skipped, then cut off by the next append", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/r.jsonl`;
  await appendRecord(path, sample(1005));
  const whole = JSON.stringify(sample(1006));
  await Deno.writeTextFile(path, whole.slice(0, 57), { append: true });
  const first = await readRecords(path);
  assertEquals(first.records.length, 1);
  assertEquals(first.torn?.line, 2);
  assertEquals(await appendRecord(path, sample(1006)), true);
  const second = await readRecords(path);
  assertEquals(second.records.map((r) => r.seed), [1005, 1006]);
  assertEquals(second.torn, undefined);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a corrupt middle line is an error naming its line number", () => {
  const a = JSON.stringify(sample(1005));
  const b = JSON.stringify(sample(1006));
  const err = assertThrows(() => parseRecords(`${a}\n{"schema": 1, "pap\n${b}\n`, "r.jsonl"));
  assert((err as Error).message.startsWith("r.jsonl:2:"), (err as Error).message);
  // A schema-invalid middle line also names its line.
  const bad = JSON.stringify({ ...sample(1007), seed: "x" });
  const err2 = assertThrows(() => parseRecords(`${a}\n${bad}\n${b}\n`, "r.jsonl"));
  assert((err2 as Error).message.includes("r.jsonl:2"), (err2 as Error).message);
});

Deno.test("a missing results file holds no records", async () => {
  assertEquals((await readRecords("/nonexistent/ptq-bench/r.jsonl")).records, []);
});

Deno.test("an old quantize record (ptq-bench/quantize@1) reads as an ad-hoc result record", () => {
  const old = {
    schema: "ptq-bench/quantize@1",
    versions: { ptq_bench: "0123abc", deno: "2.9.6", onnxruntime: "1.30.0" },
    model: { name: "m", path: "/m.onnx", sha256: "ab".repeat(32) },
    method: "qdrop",
    bits: { w: 4, a: 4 },
    budget: "quick",
    seed: 1005,
    config: { iters: 100, recon: { iters: 100 }, weightLr: 0.01 },
    calibration: { n: 256, hash: "h", dir: "/cal/", preprocess: { choice: "plain" } },
    eval: { dir: "/val/", n: 1300 },
    top1: 56.123,
    top5: 80,
    onnxruntime_top1: 56.123,
    onnxruntime_int8_top1: 55.5,
    fp32: { top1: 78, top5: 94, n: 1300 },
    units: [{ name: "u0", lossBefore: 2, lossAfter: 1, seconds: 3.333 }],
    started: "2026-11-22T01:00:05.036Z",
    quantize_s: 1641.6,
    wall_s: 1856.7,
    peak_rss_mb: 10473.4,
    backend: { name: "cpu", device: "cpu (2 threads)" },
  };
  const r = validateRecord(old);
  assertEquals([r.suite, r.budget, r.metrics.top1, r.exported?.top1], [
    "adhoc",
    "custom",
    56.12,
    56.12,
  ]);
  assertEquals(r.config.recipe, { w_bits: 4, a_bits: 4, iters: 100, calib_n: 256 });
  assertEquals(r.adhoc?.calib_preprocess, "plain");
  assert(runKey(r).includes("|custom(100it,256calib)|"), runKey(r));
  assert(r.notes.some((n) => n.includes("top-1 55.50")), r.notes.join("\n"));
  // A pretty-printed file holding one old record is one record.
  assertEquals(parseRecords(JSON.stringify(old, null, 2), "old.json").records.length, 1);
});
