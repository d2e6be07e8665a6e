/**
 * `deno task quantize --model NAME|FILE.onnx --method ID --w BITS --a BITS [--budget smoke|quick|paper]
 * [--seed N] [--iters N] [--calib-size N] [--config JSON] [--checkpoints DIR] [--calib DIR] [--data DIR] [--limit N] [--out FILE.onnx]
 * [--json FILE] [--backend cpu|webgpu] [--calib-preprocess model|plain]`
 *
 * A killed run continues after its last reconstructed unit from a checkpoint in `--checkpoints DIR`
 * (default `out/checkpoints`), removed when the run completes.
 *
 * `--iters` / `--calib-size` override the budget's iterations per unit and calibration images;
 * `--config '{"k": 7}'` sets any other field of the method's config (validated by its schema).
 * The resolved values are in the JSON record's `config`.
 *
 * Loads the model (registry name or ONNX file; BN folded), draws the calibration sample (seeded)
 * from `--calib` (default: the shared ImageNet calibration folder) with the model's own
 * evaluation preprocessing (TF central 87.5 % crop for the shared MobileNets, as the
 * `imagenet-subset` suite does; `--calib-preprocess plain`: a plain resize, as runs before
 * records carried `calibration.preprocess` did), runs the method with
 * per-unit progress, evaluates the simulated quantized model and the exported QDQ ONNX model
 * (onnxruntime) on `--data` (default: the shared 1,300-image val subset; `--limit` images), and
 * prints / writes one JSON record with accuracies, wall-clock and peak memory.
 *
 * @module
 */
import { parseCli } from "../runtime/cli_args.ts";
import * as ort from "onnxruntime-node";
import { type Tensor, upload } from "../runtime/mod.ts";
import { useBackend } from "../runtime/select.ts";
import { loadOnnx } from "../models/onnx.ts";
import { foldBatchNorm } from "../models/fold_bn.ts";
import { ImageNetDataset } from "../datasets/imagenet.ts";
import { type ModelInput, resolveModelInput } from "./_quant/model_input.ts";
import { describeGeometry } from "../datasets/preprocess.ts";
import { sampleCalibration } from "../datasets/sampler.ts";
import { methodById } from "./mod.ts";
import { parseConfig } from "./_quant/config.ts";
import { calibSizeOf } from "./_quant/baseline.ts";
import { removeCheckpoint, type Segment } from "./_quant/checkpoint.ts";
import { gitCommit, ortAccuracy } from "../papers/runner.ts";
import type { HostBatch } from "../papers/suites.ts";
import { attempt, evaluate, type LabelledBatch } from "./_quant/eval.ts";
import { toQdqOnnx } from "./_quant/qdq.ts";

const ASSETS = new URL("../../shared/assets/imagenet/", import.meta.url);

const USAGE = "usage: deno task quantize --model NAME|FILE.onnx --method ID --w BITS --a BITS " +
  "[--budget smoke|quick|paper] [--seed N] [--iters N] [--calib-size N] [--config JSON] " +
  "[--checkpoints DIR] [--calib DIR] [--data DIR] [--limit N] [--out FILE.onnx] [--json FILE] " +
  "[--backend cpu|webgpu] [--calib-preprocess model|plain] [--size N] [--no-fp]";

const { values: a } = parseCli(USAGE, {
  args: Deno.args,
  options: {
    model: { type: "string" },
    method: { type: "string" },
    w: { type: "string", default: "4" },
    a: { type: "string", default: "4" },
    budget: { type: "string", default: "quick" },
    seed: { type: "string", default: "1005" },
    calib: {
      type: "string",
      default: new URL("calib1000_one_per_class_256px/", ASSETS).pathname,
    },
    data: {
      type: "string",
      default: new URL("ilsvrc2012_val_subset1300_227px/", ASSETS).pathname,
    },
    limit: { type: "string" },
    out: { type: "string" },
    json: { type: "string" },
    backend: { type: "string", default: "cpu" },
    size: { type: "string" },
    "no-fp": { type: "boolean", default: false },
    iters: { type: "string" },
    checkpoints: { type: "string", default: "out/checkpoints" },
    "calib-size": { type: "string" },
    config: { type: "string" },
    "calib-preprocess": { type: "string" },
  },
});
if (!a.model || !a.method) {
  console.error(USAGE);
  Deno.exit(2);
}
// Model weights, calibration data and every tensor of the run live on this backend.
const backend = await useBackend(a.backend!);

const started = new Date().toISOString();
// The code this run uses, read now (a long run's checkout may move on meanwhile).
const commit = gitCommit();
const t0 = performance.now();
let peakRss = 0;
const sample = () => (peakRss = Math.max(peakRss, Deno.memoryUsage().rss));
const log = (m: string) => {
  sample();
  console.log(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${m}`);
};

// Model and preprocessing.
const calibChoice = a["calib-preprocess"];
if (calibChoice !== undefined && calibChoice !== "model" && calibChoice !== "plain") {
  console.error(`--calib-preprocess must be model or plain, not "${calibChoice}"`);
  Deno.exit(2);
}
let input: ModelInput;
try {
  input = resolveModelInput(a.model, a.size, calibChoice);
} catch (e) {
  console.error(`quantize: ${(e as Error).message}`);
  Deno.exit(2);
}
const { path, name, spec, calibSpec } = input;
const { graph, bn } = foldBatchNorm(loadOnnx(path));
const method = methodById(a.method);
// `--config JSON`: any other field of the method's config (checked by its zod schema).
let extra: Record<string, unknown> = {};
if (a.config !== undefined) {
  try {
    extra = JSON.parse(a.config);
  } catch (e) {
    console.error(`--config is not valid JSON: ${(e as Error).message}`);
    Deno.exit(2);
  }
  if (typeof extra !== "object" || extra === null || Array.isArray(extra)) {
    console.error("--config must be a JSON object of config fields");
    Deno.exit(2);
  }
}
const rawConfig = {
  ...extra,
  wBits: Number(a.w),
  aBits: Number(a.a),
  budget: a.budget,
  seed: Number(a.seed),
  // Explicit overrides of the budget's iterations per unit and calibration size (recorded).
  ...(a.iters !== undefined ? { iters: Number(a.iters) } : {}),
  ...(a["calib-size"] !== undefined ? { calibSize: Number(a["calib-size"]) } : {}),
};
let config: Record<string, unknown>;
try {
  config = parseConfig(method.config, rawConfig, method.id) as Record<string, unknown>;
} catch (e) {
  console.error(`quantize: ${(e as Error).message}`);
  Deno.exit(2);
}
const nCalib = calibSizeOf(config as { budget: "smoke" | "quick" | "paper"; calibSize?: number });
log(
  `model ${name} (${path}), method ${method.id}, W${a.w}A${a.a}, budget ${a.budget}, ${nCalib} calibration images`,
);

// Calibration sample.
const calibSet = await ImageNetDataset.fromList(a.calib!);
const cs = sampleCalibration(calibSet, nCalib, Number(a.seed));
let calib: Tensor | null = null;
for await (const b of calibSet.batches({ spec: calibSpec, batchSize: nCalib, ids: cs.ids })) {
  calib = upload(b.images, b.shape, backend);
}
const calibGeometry = describeGeometry(calibSpec.geometry);
log(`calibration ${cs.n} images (${calibGeometry}), ids sha256 ${cs.hash.slice(0, 16)}…`);

// Quantize.
const tq = performance.now();
// A killed run continues after its last reconstructed unit (the key names the computation; the
// loop itself checks the options, units and model file's sha256 before resuming).
const checkpoint = {
  dir: a.checkpoints!,
  key: JSON.stringify([
    "quantize",
    path,
    method.id,
    config,
    cs.hash,
    calibSpec,
    backend.name,
  ]),
  process: { started, commit },
  onResume: (r: { unitsDone: number; earlier: Segment[] }) => (resumed = r),
};
let resumed: { unitsDone: number; earlier: Segment[] } | undefined;
const res = await method.run(
  { graph, bn, calib: calib!, modelName: name, log, checkpoint },
  rawConfig as never,
);
const quantSeconds = (performance.now() - tq) / 1000;
calib!.dispose();

// Evaluate.
const evalSet = await ImageNetDataset.fromList(a.data!);
const limit = a.limit ? Number(a.limit) : undefined;
async function* batches(): AsyncGenerator<LabelledBatch> {
  for await (const b of evalSet.batches({ spec, batchSize: 32, limit })) {
    const images = upload(b.images, b.shape, backend);
    yield { images, labels: b.labels };
    images.dispose();
    sample();
  }
}
const sim = await evaluate(res.model, batches());
log(`simulated top-1 ${sim.top1.toFixed(2)} top-5 ${sim.top5.toFixed(2)} on ${sim.n} images`);
let fp: { top1: number; top5: number } | undefined;
if (!a["no-fp"]) {
  res.model.setQuantState(false, false);
  fp = await evaluate(res.model, batches());
  res.model.setQuantState(true, true);
  log(`fp32 top-1 ${fp.top1.toFixed(2)}`);
}

const bytes = await toQdqOnnx(res.model);
const outPath = a.out ?? `out/${name}.${method.id}.w${a.w}a${a.a}.qdq.onnx`;
await Deno.mkdir(outPath.split("/").slice(0, -1).join("/") || ".", { recursive: true });
await Deno.writeFile(outPath, bytes);
// "disabled": onnxruntime runs the Q/DQ nodes as written (the simulated arithmetic); "all" lets it
// fuse them into integer kernels (QLinearConv, …) whose bias quantization and requantization
// round slightly differently. Both are reported.
async function* hostBatches(): AsyncGenerator<HostBatch> {
  for await (const b of evalSet.batches({ spec, batchSize: 32, limit })) {
    yield { images: b.images, labels: b.labels, shape: b.shape };
    sample();
  }
}
const ortTop1Of = async (level: "disabled" | "all") =>
  (await ortAccuracy(bytes, hostBatches(), level, navigator.hardwareConcurrency)).top1;
const ortTop1 = await ortTop1Of("disabled");
// The fused run is a diagnostic: when onnxruntime's optimiser rejects the file (1.30 does on some
// 2-bit models: "two nodes with same node name"), the record keeps the error instead of the run
// ending with nothing written.
const fused = await attempt(() => ortTop1Of("all"));
const ortInt8Top1 = fused.ok ? fused.value : undefined;
log(
  `onnxruntime (QDQ ${outPath}) top-1 ${ortTop1.toFixed(2)} as written, ` +
    (fused.ok
      ? `${fused.value.toFixed(2)} with fused integer kernels`
      : `fused integer kernels failed: ${fused.error}`),
);

sample();
const record = {
  schema: "ptq-bench/quantize@1",
  versions: {
    ptq_bench: commit,
    deno: Deno.version.deno,
    onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
  },
  model: { name, path, sha256: graph.source?.sha256 },
  method: method.id,
  bits: { w: Number(a.w), a: Number(a.a) },
  budget: a.budget,
  seed: Number(a.seed),
  config: res.config,
  calibration: {
    n: cs.n,
    hash: cs.hash,
    dir: a.calib,
    preprocess: { choice: input.calib, geometry: calibGeometry, spec: calibSpec },
  },
  eval: { dir: a.data, n: sim.n },
  top1: sim.top1,
  top5: sim.top5,
  onnxruntime_top1: ortTop1,
  onnxruntime_int8_top1: ortInt8Top1,
  onnxruntime_int8_error: fused.ok ? undefined : fused.error,
  fp32: fp,
  units: res.units,
  // Set when the run continued from a unit checkpoint: the processes that did the earlier units
  // (started, wall_s, peak_rss_mb and versions are this process's; units[].seconds cover all).
  resumed: resumed && { units_done: resumed.unitsDone, earlier: resumed.earlier },
  started,
  quantize_s: quantSeconds,
  wall_s: (performance.now() - t0) / 1000,
  peak_rss_mb: peakRss / 2 ** 20,
  backend: { name: backend.name, device: backend.deviceInfo, memory: backend.memory() },
  exported: outPath,
};
const text = JSON.stringify(record, null, 2);
if (a.json) await Deno.writeTextFile(a.json, text + "\n");
await removeCheckpoint(checkpoint);
console.log(
  JSON.stringify({
    top1: sim.top1,
    onnxruntime_top1: ortTop1,
    onnxruntime_int8_top1: ortInt8Top1,
    fp32_top1: fp?.top1,
    wall_s: record.wall_s,
    peak_rss_mb: record.peak_rss_mb,
  }),
);
