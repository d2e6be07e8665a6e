/**
 * The shared driver of multipoint quantization and its equal-memory baselines (per-layer mixed
 * precision, OCS): place the quantizers, measure each budgeted layer's output-error Gram matrices
 * on the FP model, decide every layer's weight as a sum of same-bit symmetric points, set it on the
 * model (`QuantModel.setPoints`), then, with quantized activations, initialise the activation
 * ranges unit by unit on the quantized stream as RTN does.
 *
 * **Budget.** Memory is counted in bits per weight of the integers (per-channel float scales, one
 * per point, are not counted, as no method here counts its per-channel scales). The budgeted
 * layers are the body layers (with `headStem8bit`, the first and last layer are 8-bit single
 * points outside the budget, as in every method of the harness). Multipoint spends the budget
 * per layer (`⌊C·B/b⌋` points for a layer of `C` channels); mixed precision over all budgeted
 * layers together (the bits of a layer cost its number of weights); OCS splits `⌊r·Cᵢₙ⌋` input
 * channels of each layer with the expand ratio `r = B/b − 1`.
 *
 * @module
 */
import type { MethodContext, MethodResult } from "../_quant/config.ts";
import { placeQuantizers, type WeightSite } from "../_quant/placement.ts";
import { QuantModel, type WeightPoints } from "../_quant/quantized_model.ts";
import { RECON_DEFAULTS, reconstruct, type UnitReport } from "../_quant/recon.ts";
import { blockUnits } from "../_quant/units.ts";
import { SCALE_EPS } from "../_quant/scheme.ts";
import { Random } from "../../runtime/mod.ts";
import { allocateBits, allocatePoints } from "./alloc.ts";
import { fitPoint, greedyPoints, gridLevels, type Point, pointsError } from "./fit.ts";
import {
  fromRows,
  gramOf,
  type LayerGeometry,
  layerGeometry,
  type LayerGram,
  layerGrams,
  toRows,
} from "./gram.ts";
import { ocsChannels, splitRow } from "./ocs.ts";

/** The three ways of spending the memory budget. */
export type PointsScheme = "multipoint" | "mixed-precision" | "ocs";

/** The parsed fields the driver reads. */
export interface PointsConfig {
  wBits: number;
  aBits: number;
  budgetBits?: number;
  overhead: number;
  headStem8bit: boolean;
  seed: number;
  maxRows: number;
  chunk: number;
  actObserver: "mse" | "minmax" | "percentile" | "ema-minmax";
  p: number;
  biasRounding: "int32" | "float";
  calibSize?: number;
  /** Multipoint only. */
  maxPoints?: number;
  scaleFit?: "weight" | "output";
  allocation?: "output-error" | "random";
  /** Mixed precision only. */
  minBits?: number;
  maxBits?: number;
}

/** The budget in average bits per weight of the budgeted layers. */
export function budgetOf(c: Pick<PointsConfig, "wBits" | "budgetBits" | "overhead">): number {
  return c.budgetBits ?? c.wBits * (1 + c.overhead);
}

/** One layer's decided weight, channel-first. */
interface Decided {
  bits: number;
  /** Points per channel (channel-first rows). */
  points: Point[][];
  /** OCS: the split input channels. */
  split?: number[];
}

/** Relative output error `Σ_c d_cᵀHd_c / Σ_c w_cᵀHw_c` of channel-first rows against points. */
function relError(rows: Float32Array, g: LayerGram, decide: (c: number) => Point[]): number {
  const { channels: C, K } = g.geometry;
  let err = 0, energy = 0;
  for (let c = 0; c < C; c++) {
    const w = rows.subarray(c * K, (c + 1) * K), H = gramOf(g, c);
    const pts = decide(c);
    err += pointsError(w, pts, pts.length, H);
    energy += pointsError(w, [], 0, H);
  }
  return energy > 0 ? err / energy : 0;
}

/** One point per channel at `bits` (L2 fit): the plain symmetric per-channel quantizer. */
function singlePoints(rows: Float32Array, C: number, K: number, bits: number): Point[][] {
  const L = gridLevels(bits);
  return Array.from({ length: C }, (_, c) => [fitPoint(rows.subarray(c * K, (c + 1) * K), L)]);
}

/** Channel-first points to the model's form (weight layout, padded with zero points). */
function toWeightPoints(d: Decided, g: LayerGeometry): WeightPoints {
  const { channels: C, K } = g;
  const n = Math.max(...d.points.map((p) => p.length));
  const ints: Int8Array[] = [], scales: Float32Array[] = [];
  for (let p = 0; p < n; p++) {
    const rows = new Int8Array(C * K), sc = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      const pt = d.points[c][p];
      const first = d.points[c][0].a;
      sc[c] = pt && pt.a > 0 ? pt.a : first > 0 ? first : SCALE_EPS;
      if (pt) rows.set(pt.q, c * K);
    }
    ints.push(fromRows(rows, g));
    scales.push(sc);
  }
  return { bits: d.bits, ints, scales };
}

/** Multipoint: greedy points per channel, allocated by output error under the layer's budget. */
function multipoint(
  rows: Float32Array,
  gram: LayerGram,
  c: PointsConfig,
  budget: number,
  rng: Random,
): Decided {
  const { channels: C, K } = gram.geometry;
  const L = gridLevels(c.wBits), maxPoints = c.maxPoints ?? 4;
  const w = (ch: number) => rows.subarray(ch * K, (ch + 1) * K);
  const fitH = (ch: number) => (c.scaleFit === "output" ? gramOf(gram, ch) : undefined);
  const greedy = Array.from({ length: C }, (_, ch) => greedyPoints(w(ch), L, maxPoints, fitH(ch)));
  const total = Math.max(C, Math.floor((C * budget) / c.wBits + 1e-9));
  // A channel whose greedy fit stopped early (exact) gains nothing from further points.
  const error = (ch: number, k: number) =>
    pointsError(w(ch), greedy[ch], Math.min(k, greedy[ch].length), gramOf(gram, ch));
  const alloc = allocatePoints(
    C,
    maxPoints,
    total,
    error,
    c.allocation === "random" ? rng : undefined,
  );
  return {
    bits: c.wBits,
    points: greedy.map((g, ch) => g.slice(0, Math.min(alloc.points[ch], g.length))),
  };
}

/** OCS at expand ratio `ratio`: split, then one point per channel on the expanded weight. */
function ocs(rows: Float32Array, g: LayerGeometry, bits: number, ratio: number): Decided {
  const { channels: C, K } = g;
  const taps = g.node.opType === "Conv" ? g.shape[2] * g.shape[3] : 1;
  const cin = K / taps;
  // A grouped convolution cannot duplicate one input channel of one group: left unsplit.
  const n = g.groups === 1 ? Math.floor(ratio * cin + 1e-9) : 0;
  const split = ocsChannels(rows, C, K, taps, n);
  const L = gridLevels(bits);
  const points = Array.from({ length: C }, (_, c) => {
    const { main, dup } = splitRow(rows.subarray(c * K, (c + 1) * K), split, taps);
    if (!split.length) return [fitPoint(main, L)];
    const idx = split.flatMap((j) => Array.from({ length: taps }, (_, t) => j * taps + t));
    const expanded = new Float32Array(K + idx.length);
    expanded.set(main);
    idx.forEach((k, i) => (expanded[K + i] = dup[k]));
    const p = fitPoint(expanded, L);
    const q0 = p.q.slice(0, K), q1 = new Int8Array(K);
    idx.forEach((k, i) => (q1[k] = p.q[K + i]));
    return [{ a: p.a, q: q0 }, { a: p.a, q: q1 }];
  });
  return { bits, points, split };
}

/** Runs one scheme on the context's model. */
export async function runPoints(
  ctx: MethodContext,
  c: PointsConfig,
  scheme: PointsScheme,
): Promise<MethodResult> {
  const log = ctx.log ?? (() => {});
  const budget = budgetOf(c);
  if (budget < c.wBits) throw new RangeError(`${scheme}: budget ${budget} bits < wBits ${c.wBits}`);
  const placement = placeQuantizers(ctx.graph, {
    wBits: c.wBits,
    aBits: c.aBits,
    headStem8bit: c.headStem8bit,
  });
  const model = await QuantModel.create(ctx.graph, placement, {
    weightObserver: "minmax",
    actObserver: c.actObserver,
    p: c.p,
    biasRounding: c.biasRounding,
  });
  const budgeted = (s: WeightSite) => !(c.headStem8bit && s.role !== "body");
  const node = (s: WeightSite) => ctx.graph.nodes.find((n) => n.name === s.node)!;
  const geo = new Map(placement.weights.map((s) => [s.node, layerGeometry(ctx.graph, node(s))]));
  const rowsOf = new Map<string, Float32Array>();
  for (const s of placement.weights) {
    const w = await ctx.graph.initializers.get(s.weight)!.data() as Float32Array;
    rowsOf.set(s.node, toRows(w, geo.get(s.node)!));
  }
  const t0 = performance.now();
  const body = placement.weights.filter(budgeted);
  const grams = await layerGrams(ctx.graph, body.map((s) => geo.get(s.node)!), ctx.calib, {
    maxRows: c.maxRows,
    chunk: Math.min(c.chunk, 16),
    seed: c.seed,
  });
  log(
    `${scheme}: ${body.length} budgeted layers at ${budget.toFixed(3)} bits/weight, output-error ` +
      `Gram matrices in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const rng = new Random(c.seed, 92);
  const decided = new Map<string, Decided>();
  for (const s of placement.weights) {
    if (budgeted(s)) continue;
    const g = geo.get(s.node)!;
    decided.set(s.node, {
      bits: s.bits,
      points: singlePoints(rowsOf.get(s.node)!, g.channels, g.K, s.bits),
    });
  }
  if (scheme === "mixed-precision") {
    const minBits = c.minBits ?? Math.max(2, c.wBits - 1), maxBits = c.maxBits ?? 8;
    const cache = new Map<string, number>();
    const layers = body.map((s) => {
      const g = geo.get(s.node)!, rows = rowsOf.get(s.node)!, gram = grams.get(s.node)!;
      return {
        size: g.channels * g.K,
        error(bits: number): number {
          const key = `${s.node}@${bits}`;
          if (!cache.has(key)) {
            const pts = singlePoints(rows, g.channels, g.K, bits);
            cache.set(key, relError(rows, gram, (ch) => pts[ch]));
          }
          return cache.get(key)!;
        },
      };
    });
    const bits = allocateBits(layers, minBits, maxBits, budget);
    body.forEach((s, i) => {
      const g = geo.get(s.node)!;
      decided.set(s.node, {
        bits: bits[i],
        points: singlePoints(rowsOf.get(s.node)!, g.channels, g.K, bits[i]),
      });
    });
  } else {
    for (const s of body) {
      const rows = rowsOf.get(s.node)!;
      decided.set(
        s.node,
        scheme === "multipoint"
          ? multipoint(rows, grams.get(s.node)!, c, budget, rng)
          : ocs(rows, geo.get(s.node)!, c.wBits, budget / c.wBits - 1),
      );
    }
  }
  const units: UnitReport[] = [];
  const summary: Record<string, unknown> = {};
  let used = 0, size = 0;
  for (const s of placement.weights) {
    const d = decided.get(s.node)!, g = geo.get(s.node)!, rows = rowsOf.get(s.node)!;
    model.setPoints(s.node, toWeightPoints(d, g));
    const gram = grams.get(s.node);
    const npoints = d.points.reduce((a, p) => a + p.length, 0);
    const bitsUsed = d.split
      ? d.bits *
        (1 + d.split.length / (g.K / (g.node.opType === "Conv" ? g.shape[2] * g.shape[3] : 1)))
      : (d.bits * npoints) / g.channels;
    if (gram) {
      used += bitsUsed * g.channels * g.K;
      size += g.channels * g.K;
      const plain = singlePoints(rows, g.channels, g.K, c.wBits);
      const histogram: number[] = [];
      for (const p of d.points) histogram[p.length - 1] = (histogram[p.length - 1] ?? 0) + 1;
      summary[s.node] = {
        bits: d.bits,
        bits_per_weight: Math.round(bitsUsed * 1000) / 1000,
        ...(scheme === "multipoint"
          ? { channels_by_points: [...histogram].map((v) => v ?? 0) }
          : {}),
        ...(d.split ? { split_channels: d.split.length } : {}),
      };
      units.push({
        name: s.node,
        kind: "layer",
        layers: [s.node],
        acts: [],
        iters: 0,
        lossBefore: relError(rows, gram, (ch) => plain[ch]),
        lossAfter: relError(rows, gram, (ch) => d.points[ch]),
        seconds: 0,
      });
    }
  }
  const average = size ? used / size : 0;
  log(`${scheme}: ${average.toFixed(3)} bits/weight used of ${budget.toFixed(3)} (body layers)`);
  if (c.aBits < 32) {
    // Activation ranges as RTN initialises them: unit by unit on the quantized stream.
    await reconstruct(
      model,
      ctx.calib,
      blockUnits(ctx.graph),
      {
        ...RECON_DEFAULTS,
        iters: 0,
        adaround: false,
        lsq: false,
        dropProb: 0,
        inputMixProb: 1,
        chunk: c.chunk,
        seed: c.seed,
      },
      {},
      log,
    );
  }
  model.setQuantState(true, true);
  return {
    model,
    units,
    config: {
      ...c,
      scheme,
      budgetBits: budget,
      bitsPerWeight: Math.round(average * 1000) / 1000,
      calibSize: ctx.calib.shape[0],
      layers: summary as never,
    },
  };
}
