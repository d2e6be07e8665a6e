import { assert, assertEquals, assertRejects, assertThrows } from "./_testing.ts";
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
import { fakeRecord } from "../reports/_fixtures.ts";

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
