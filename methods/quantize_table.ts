/**
 * `deno run -A methods/quantize_table.ts FILE.json…` prints the markdown table of `deno task
 * quantize --json` records (so the docs' tables are made from the records, not typed in): method,
 * bits, iterations per unit, calibration images, evaluation images, FP32, simulated and exported
 * top-1, wall-clock, peak memory, commit.
 *
 * @module
 */

export interface QuantizeRecord {
  schema: string;
  method: string;
  bits: { w: number; a: number };
  seed: number;
  config: { iters?: number; calibSize?: number; recon?: { iters: number } };
  eval: { n: number };
  top1: number;
  onnxruntime_top1?: number;
  onnxruntime_int8_top1?: number;
  fp32?: { top1: number } | null;
  quantize_s: number;
  wall_s: number;
  peak_rss_mb: number;
  versions?: { ptq_bench: string };
}

const f2 = (x: number | undefined | null) => (x === undefined || x === null ? "—" : x.toFixed(2));

/** One markdown row per record, sorted by W/A then method. */
export function quantizeTable(records: { file: string; r: QuantizeRecord }[]): string {
  const head = [
    "method",
    "W/A",
    "iters/unit",
    "seed",
    "calib",
    "eval images",
    "FP32",
    "simulated top-1",
    "QDQ top-1",
    "QDQ fused int8",
    "quantize s",
    "total s",
    "peak RSS MB",
    "commit",
    "record",
  ];
  const rows = [...records]
    .sort((a, b) =>
      a.r.bits.w - b.r.bits.w || a.r.bits.a - b.r.bits.a || a.r.method.localeCompare(b.r.method)
    )
    .map(({ file, r }) => [
      r.method,
      `W${r.bits.w}A${r.bits.a}`,
      String(r.config.recon?.iters ?? r.config.iters ?? 0),
      String(r.seed),
      String(r.config.calibSize ?? "—"),
      String(r.eval.n),
      f2(r.fp32?.top1),
      f2(r.top1),
      f2(r.onnxruntime_top1),
      f2(r.onnxruntime_int8_top1),
      r.quantize_s.toFixed(0),
      r.wall_s.toFixed(0),
      r.peak_rss_mb.toFixed(0),
      r.versions?.ptq_bench ?? "not recorded",
      `\`${file}\``,
    ]);
  return [head, head.map(() => "---"), ...rows].map((c) => `| ${c.join(" | ")} |`).join("\n");
}

if (import.meta.main) {
  const records = [];
  for (const file of Deno.args) {
    const r = JSON.parse(await Deno.readTextFile(file)) as QuantizeRecord;
    if (r.schema !== "ptq-bench/quantize@1") throw new TypeError(`${file}: not a quantize record`);
    records.push({ file, r });
  }
  console.log(quantizeTable(records));
}
