import { assert, assertEquals, assertThrows } from "../runtime/assert.ts";
import {
  cellText,
  fromReproduceRecord,
  type MatrixEntry,
  quantizeMatrix,
  quantizeTable,
  readEntries,
  recordsOf,
  type RunRow,
} from "./quantize_table.ts";

const entry = (o: Partial<MatrixEntry>): MatrixEntry => ({
  method: "qdrop",
  w: 4,
  a: 4,
  iters: 100,
  lr: 1e-3,
  seed: 1005,
  top1: 10,
  calibN: 256,
  calibPrep: "plain",
  evalN: 1300,
  fp32: 78,
  source: "x.json",
  ...o,
});

Deno.test("quantizeMatrix cell: mean ± std over distinct seeds, settings sorted, odd setups named", () => {
  const text = cellText([
    entry({ iters: 500, top1: 37.08 }),
    entry({ lr: 1e-2, top1: 50, seed: 1 }),
    entry({ lr: 1e-2, top1: 60, seed: 2 }),
    entry({ top1: 6, calibN: 64 }),
    entry({ top1: 7, calibPrep: "model" }),
  ], { calibN: 256, calibPrep: "plain", evalN: 1300 });
  assertEquals(
    text,
    "6.00 (100 it, 1e-3, 64 calib); 7.00 (100 it, 1e-3, cropped calib); " +
      "55.00 ± 7.07 (n=2, 100 it, 1e-2); 37.08 (500 it, 1e-3)",
  );
  // The same seed twice is not a spread over seeds: both values are shown.
  assertEquals(
    cellText([entry({ top1: 6 }), entry({ top1: 7 })], {
      calibN: 256,
      calibPrep: "plain",
      evalN: 1300,
    }),
    "6.00 / 7.00 (repeated seeds, 100 it, 1e-3)",
  );
  assertEquals(
    cellText([entry({ method: "rtn", iters: null, lr: null, top1: 0.85 })], {
      calibN: 256,
      calibPrep: "plain",
      evalN: 1300,
    }),
    "0.85",
  );
});

Deno.test("quantizeMatrix reads both record versions and puts the papers' values beside them", async () => {
  // An old `quantize --json` record (ptq-bench/quantize@1) comes migrated by recordsOf.
  const old = {
    schema: "ptq-bench/quantize@1",
    model: { name: "m", path: "/m.onnx", sha256: "ab".repeat(32) },
    method: "mrecg",
    bits: { w: 2, a: 4 },
    budget: "quick",
    seed: 3,
    config: { base: "brecq", calibSize: 256, recon: { iters: 100, weightLr: 0.01 } },
    calibration: { n: 256, hash: "h", dir: "/cal/" },
    eval: { n: 1300, dir: "/val/" },
    top1: 12.5,
    onnxruntime_top1: 12.5,
    fp32: { top1: 78 },
    units: [],
    started: "2026-11-22T01:00:05.036Z",
    quantize_s: 10,
    wall_s: 20,
    peak_rss_mb: 100,
    backend: { name: "cpu", device: "cpu" },
  };
  const [[migrated, source]] = recordsOf(JSON.stringify(old, null, 2), "m.json");
  const q = fromReproduceRecord(migrated, source);
  assertEquals([q.method, q.iters, q.lr, q.calibN, q.calibPrep], [
    "mrecg+brecq",
    100,
    0.01,
    256,
    "plain",
  ]);
  assertThrows(() => fromReproduceRecord({ metrics: {} }, "e.json"), TypeError, "e.json");
  const r = fromReproduceRecord({
    method: "brecq",
    bits: { w: 2, a: 4 },
    seed: 3,
    config: { method: { recon: { iters: 100, weightLr: 0.003 } } },
    calibration: { n: 256 },
    metrics: { top1: 0.5, n: 1300 },
    fp32: { top1: 78 },
  }, "r.jsonl:4");
  assertEquals([r.iters, r.lr, r.top1, r.evalN, r.calibPrep], [100, 0.003, 0.5, 1300, "model"]);

  const table = quantizeMatrix(
    [q, r, entry({ method: "rtn", iters: null, lr: null, top1: 1 })],
    "mobilenetv2",
  );
  const rows = table.split("\n");
  assert(
    rows[2].startsWith("| W/A | rtn | brecq-joint | mrecg+brecq | paper (mobilenetv2) |"),
    rows[2],
  );
  const w2a4 = rows.find((l) => l.startsWith("| W2A4"))!;
  // MRECG's Table 1 (MobileNetV2 ×1.0): BRECQ 52.30, MRECG+BRECQ 58.49 at W2A4.
  assertEquals(
    w2a4,
    "| W2A4 | not run | 0.50 (100 it, 3e-3, cropped calib) | 12.50 (100 it, 1e-2) | brecq 52.30 · mrecg+brecq 58.49 |",
  );

  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/p.json`,
      JSON.stringify({ schema: "ptq-bench/error-profile@1", model: { name: "m" } }),
    );
    await Deno.writeTextFile(
      `${dir}/r.jsonl`,
      [["m", 5], ["other", 6]].map(([name, top1]) =>
        JSON.stringify({
          model: { name },
          method: "qdrop",
          bits: { w: 4, a: 4 },
          seed: 1,
          config: {},
          metrics: { top1, n: 10 },
        })
      ).join("\n") + "\n",
    );
    const es = await readEntries([`${dir}/p.json`, `${dir}/r.jsonl`], "m");
    assertEquals(es.map((e) => [e.top1, e.source.endsWith("r.jsonl:1")]), [[5, true]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("quantizeTable renders one row per record from the record's own fields, sorted by bits", () => {
  const rec = (method: string, w: number, top1: number): RunRow => ({
    method,
    bits: { w, a: 4 },
    iters: 100,
    seed: 1005,
    calibN: 256,
    evalN: 1300,
    fp32: 78,
    top1,
    qdq: top1,
    quantizeS: 12.4,
    wallS: 30,
    peakMb: 2048.2,
    commit: "abc123",
  });
  const lines = quantizeTable([
    { file: "b.json", r: rec("qdrop", 4, 31.25) },
    { file: "a.json", r: rec("rtn", 2, 0) },
  ]).split("\n");
  assertEquals(lines.length, 4);
  assert(lines[2].startsWith("| rtn | W2A4 | 100 | 1005 | 256 | 1300 | 78.00 | 0.00 |"), lines[2]);
  assert(lines[3].includes("| 31.25 | 31.25 | — | 12 | 30 | 2048 | abc123 | `b.json` |"), lines[3]);
});

Deno.test("recordsOf names the file and line of a record that is not JSON", () => {
  assertThrows(() => recordsOf('{"a": 1}\n{oops\n', "r.jsonl"), SyntaxError, "r.jsonl:2");
  assertThrows(() => recordsOf("{", "q.json"), SyntaxError, "q.json");
  assertEquals(recordsOf('{"a": 1}\n\n', "r.jsonl"), [[{ a: 1 }, "r.jsonl:1"]]);
});
