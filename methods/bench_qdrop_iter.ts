/**
 * `deno run -A methods/bench_qdrop_iter.ts [--model FILE.onnx] [--units N] [--iters K]`
 *
 * Times QDrop reconstruction iterations (batch 32, W4A4, drop 0.5, input mix 0.5, AdaRound + LSQ)
 * on the first `--units` blocks of a real model (default: the shared MobileNetV2 1.0 224), with
 * 32 random calibration images. Prints the median seconds per iteration per unit. Run with
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
import { blockUnits } from "./_quant/units.ts";
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
    units: { type: "string", default: "3" },
    iters: { type: "string", default: "4" },
  },
});

const graph = foldBatchNorm(loadOnnx(a.model!)).graph;
const placement = placeQuantizers(graph, { wBits: 4, aBits: 4 });
const model = await QuantModel.create(graph, placement, {});
const units = blockUnits(graph).slice(0, Number(a.units));
const shape = graph.inputs[0].shape.map((d) => (typeof d === "number" && d > 0 ? d : 32));
shape[0] = 32;
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
    dropProb: 0.5,
    inputMixProb: 0.5,
    lambda: 0.1,
    logEvery: 1,
    evalSamples: 32,
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
