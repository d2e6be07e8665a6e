/**
 * `deno run -A methods/bench_qdrop_iter.ts [--model FILE.onnx] [--layers] [--from I] [--units N]
 * [--iters K] [--images N] [--w BITS] [--a BITS] [--drop P] [--mix P] [--lr LR]`
 *
 * Times reconstruction iterations (batch 32, AdaRound + LSQ; default QDrop's W4A4, drop 0.5,
 * input mix 0.5; AdaRound/BRECQ are `--drop 0 --mix 1`) on `--units` blocks, or single layers
 * with `--layers` (AdaRound's units), from unit `--from` of a real model (default: the shared
 * MobileNetV2 1.0 224), with `--images` random calibration images (default 32). Prints the median
 * seconds per iteration per unit (each iteration's seconds too, with `BENCH_STAMPS=1`). Run with
 * `PTQ_PROFILE=1` for the per-op table.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Random } from "../runtime/mod.ts";
import { loadOnnx } from "../models/onnx.ts";
import { foldBatchNorm } from "../models/fold_bn.ts";
import { placeQuantizers } from "./_quant/placement.ts";
import { QuantModel } from "./_quant/quantized_model.ts";
import { blockUnits, layerUnits } from "./_quant/units.ts";
import { RECON_DEFAULTS, reconstruct } from "./_quant/recon.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    model: {
      type: "string",
      default: new URL(
        "../../shared/assets/models/mobilenet_v2_1.0_224.tf2ptq_dequant.fp32.onnx",
        import.meta.url,
      ).pathname,
    },
    layers: { type: "boolean", default: false },
    from: { type: "string", default: "0" },
    units: { type: "string", default: "3" },
    iters: { type: "string", default: "4" },
    images: { type: "string", default: "32" },
    w: { type: "string", default: "4" },
    a: { type: "string", default: "4" },
    drop: { type: "string", default: "0.5" },
    mix: { type: "string", default: "0.5" },
    lr: { type: "string", default: String(RECON_DEFAULTS.weightLr) },
  },
});

const graph = foldBatchNorm(loadOnnx(a.model!)).graph;
const placement = placeQuantizers(graph, { wBits: Number(a.w), aBits: Number(a.a) });
const model = await QuantModel.create(graph, placement, {});
const units = (a.layers ? layerUnits(graph) : blockUnits(graph))
  .slice(Number(a.from), Number(a.from) + Number(a.units));
const shape = graph.inputs[0].shape.map((d) => (typeof d === "number" && d > 0 ? d : 32));
shape[0] = Number(a.images);
const images = new Random(1).randn(shape);
const stamps: number[][] = units.map(() => []);
let unit = 0;
const t0 = performance.now();
await reconstruct(
  model,
  images,
  units,
  {
    ...RECON_DEFAULTS,
    iters: Number(a.iters),
    weightLr: Number(a.lr),
    dropProb: Number(a.drop),
    inputMixProb: Number(a.mix),
    lambda: 0.1,
    logEvery: 1,
    evalSamples: Math.min(32, Number(a.images)),
  },
  {},
  (msg) => {
    if (msg.includes(" iter ")) stamps[unit].push(performance.now());
    if (msg.startsWith("unit ")) {
      console.error(msg);
      unit++;
    }
  },
);
const total = (performance.now() - t0) / 1000;
if (Deno.env.get("BENCH_STAMPS")) {
  console.error(
    stamps.map((s) => s.slice(1).map((v, i) => ((v - s[i]) / 1000).toFixed(2)).join(" ")),
  );
}
const per = stamps.map((s) => {
  const d = s.slice(1).map((v, i) => v - s[i]).sort((x, y) => x - y);
  return d.length ? d[Math.floor(d.length / 2)] / 1000 : NaN;
});
units.forEach((u, i) => console.log(`${u.name}: ${per[i].toFixed(3)} s/iteration (median)`));
console.log(
  `mean ${
    (per.reduce((s, v) => s + v, 0) / per.length).toFixed(3)
  } s/iteration over ${units.length} units; total ${total.toFixed(1)} s`,
);
model.dispose();
