import { assert, assertEquals } from "../datasets/_assert.ts";
import { type QuantizeRecord, quantizeTable } from "./quantize_table.ts";

Deno.test("quantize_table renders one row per record from the record's own fields, sorted by bits", () => {
  const rec = (method: string, w: number, top1: number): QuantizeRecord => ({
    schema: "ptq-bench/quantize@1",
    method,
    bits: { w, a: 4 },
    seed: 1005,
    config: { calibSize: 256, recon: { iters: 100 } },
    eval: { n: 1300 },
    top1,
    onnxruntime_top1: top1,
    fp32: { top1: 78 },
    quantize_s: 12.4,
    wall_s: 30,
    peak_rss_mb: 2048.2,
    versions: { ptq_bench: "abc123" },
  });
  const lines = quantizeTable([
    { file: "b.json", r: rec("qdrop", 4, 31.25) },
    { file: "a.json", r: rec("rtn", 2, 0) },
  ]).split("\n");
  assertEquals(lines.length, 4);
  assert(lines[2].startsWith("| rtn | W2A4 | 100 | 1005 | 256 | 1300 | 78.00 | 0.00 |"), lines[2]);
  assert(lines[3].includes("| 31.25 | 31.25 | — | 12 | 30 | 2048 | abc123 | `b.json` |"), lines[3]);
});
