/**
 * Old record versions, read as today's: `deno task quantize` wrote its own
 * `ptq-bench/quantize@1` JSON objects before it ran through the runner of `reproduce`; they
 * migrate to the one result-record schema (suite `adhoc`), keeping every measured number. Their
 * budget becomes `custom` with the iterations and calibration size they ran (quantize's old
 * table: `quick` = 500 iterations on 256 images, which is not today's `quick`), and a note says
 * so.
 *
 * @module
 */
type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (x && typeof x === "object" && !Array.isArray(x) ? x as Obj : {});
const num = (x: unknown): number | undefined => (typeof x === "number" ? x : undefined);
const round2 = (x: number) => Math.round(x * 100) / 100;

/** Today's record of `value` when it is an older version; otherwise `value` itself. */
export function migrateRecord(value: unknown): unknown {
  const r = obj(value);
  return r.schema === "ptq-bench/quantize@1" ? fromQuantizeV1(r) : value;
}

/** A `ptq-bench/quantize@1` record as a schema-1 result record (suite `adhoc`). */
export function fromQuantizeV1(r: Obj): Obj {
  const model = obj(r.model), bits = obj(r.bits), config = obj(r.config);
  const cal = obj(r.calibration), ev = obj(r.eval), fp32 = obj(r.fp32), backend = obj(r.backend);
  const method = String(r.method);
  const iters = num(obj(config.recon).iters) ?? num(config.iters) ?? 0;
  const n = num(ev.n) ?? 0;
  const prep = obj(cal.preprocess);
  const versions = obj(r.versions);
  const units = Array.isArray(r.units) ? r.units.map(obj) : [];
  const pct = (x: unknown) => (typeof x === "number" ? round2(x) : undefined);
  const fused = num(r.onnxruntime_int8_top1);
  return {
    schema: 1,
    paper: "adhoc",
    cell: `adhoc/${model.name}/w${bits.w}a${bits.a}/${method}`,
    suite: "adhoc",
    recipe: { id: `adhoc/${method}`, version: 1 },
    method,
    model: { name: model.name, sha256: model.sha256 },
    bits: { w: bits.w, a: bits.a },
    config: {
      recipe: { w_bits: bits.w, a_bits: bits.a, iters, calib_n: cal.n },
      method: JSON.parse(JSON.stringify(config)),
    },
    seed: r.seed,
    calibration: {
      n: cal.n,
      hash: cal.hash,
      source: `${cal.dir}${prep.geometry ? `, ${prep.geometry}` : ""}`,
    },
    budget: "custom",
    backend: backend.name ?? "cpu",
    adapter: backend.device ?? "not recorded",
    versions: {
      ptq_bench: versions.ptq_bench ?? "not recorded",
      deno: versions.deno ?? "not recorded",
      ...(versions.onnxruntime ? { onnxruntime: versions.onnxruntime } : {}),
    },
    started: r.started,
    wall_s: round2(Number(r.wall_s)),
    peak_mem_mb: Math.round(Number(r.peak_rss_mb)),
    metrics: {
      top1: pct(r.top1),
      top5: pct(r.top5),
      n,
      unit_losses: units.map((u) => ({
        unit: u.name,
        loss: Math.max(0, Number(u.lossAfter)),
        loss_init: Math.max(0, Number(u.lossBefore)),
        seconds: round2(Number(u.seconds)),
      })),
    },
    exported: { top1: pct(r.onnxruntime_top1), n },
    fp32: { top1: pct(fp32.top1), top5: pct(fp32.top5), n: num(fp32.n) ?? n },
    adhoc: {
      model: model.name,
      model_path: model.path ?? String(model.name),
      calib_dir: cal.dir,
      eval_dir: ev.dir ?? "not recorded",
      calib_preprocess: prep.choice === "model" ? "model" : "plain",
      method_config: {},
    },
    ...(r.resumed ? { resumed: r.resumed } : {}),
    notes: [
      `migrated from a ptq-bench/quantize@1 record (deno task quantize before its runs went ` +
      `through the reproduce runner): budget "${r.budget}" of quantize's old table, ` +
      `${iters} iterations per unit on ${cal.n} images; quantization took ` +
      `${Math.round(Number(r.quantize_s))} s`,
      `evaluated on ${n} images: ${ev.dir}`,
      `exported QDQ with onnxruntime's fused integer kernels (graph optimisation "all"): ` +
      (fused !== undefined ? `top-1 ${fused.toFixed(2)}` : `failed (${r.onnxruntime_int8_error})`) +
      `; "exported" is the same file with optimisations disabled (Q/DQ nodes run as written)`,
    ],
  };
}
