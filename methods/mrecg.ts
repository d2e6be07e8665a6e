/**
 * MRECG — Ma, Li, Zheng, Ling, Xiao, Wang, Wen, Chao, Ji, "Solving Oscillation Problem in
 * Post-Training Quantization Through a Theoretical Perspective", CVPR 2023 (arXiv 2303.11906);
 * official code `bytedance/MRECG` (6e48c48), which consumes precomputed merge schemes and does
 * not compute module capacity at all.
 *
 * Objective: the base method's block reconstruction (BRECQ, or QDrop) over **mixed-granularity
 * units**: the adjacent units whose module capacities (ModCap) differ most are merged, top-k, and
 * reconstructed jointly; every other unit keeps the base granularity.
 *
 * Units (`partition: "official"`, the default) are those of the official code
 * ({@linkcode mqbenchUnits}: `extract_block` in `MRECG.py`): residual blocks, and the other layers
 * chained up to three at a time until an output forks. Those are the units the official schemes
 * count: ResNet-18 10, ResNet-50 18, MobileNetV2 18 (stem + first inverted residual as one unit,
 * 16 inverted residuals, last conv + classifier as one), RegNetX-600MF 18 — each scheme's total
 * length. `partition: "graph"` uses the harness's graph-derived blocks (`blockUnits`; MobileNetV2:
 * 20) instead.
 *
 * ModCap as implemented here (the paper body was not available; a secondary summary of the paper
 * is all we had):
 * - **data-dependent** (default): the squared Frobenius norm of the unit's output difference
 *   before and after quantization, `‖B(x) − B̂(x̂)‖²` per sample, measured with round-to-nearest
 *   quantizers (MSE observers) on the calibration set — the reconstruction loss a unit starts
 *   from. This is the secondary source's definition.
 * - **data-free**: `Σ_layers params_l · b_l / s_l²` over the unit's quantizable layers, with
 *   `b_l` the weight bits and `s_l` the layer's stride: the bit budget of the unit's parameters,
 *   scaled down by the spatial reduction a strided layer applies. The summary only says the
 *   formula involves the parameter count, the bit-width and a stride-dependent scaling; this
 *   combination is ptq-bench's assumption.
 * - **capacity differential** of adjacent units `i, i+1`: `|ModCap_i − ModCap_{i+1}| /
 *   max(ModCap_i, ModCap_{i+1})` (relative, so that shallow and deep units compare). Only pairs
 *   of *topologically homogeneous* units (the same unit kind: two residual blocks, two inverted
 *   residuals, …) are candidates, as the paper restricts the comparison.
 * - **top-k**: the k largest differentials; chosen pairs that share a unit chain into one
 *   merged unit (e.g. 7–8 and 8–9 give 7+8+9). Default k: the number of merged adjacent pairs
 *   in the official scheme when one is given and fits the graph's units (ResNet-18 2,
 *   ResNet-50 4, MobileNetV2 7, RegNetX-600MF 4), else `round(0.3 × candidate pairs)` (the
 *   official k's are 27–44 % of the adjacent pairs).
 * - `capacity: "scheme-where-it-fits"` (default) applies the official merge scheme when one is
 *   given and its length equals the model's unit count, as the official code applies it, and
 *   chooses merges by data-dependent capacity otherwise (the proxies).
 * - `capacity: "scheme"` applies an official merge scheme instead (`[1, 2, [3, 3], …]`: an
 *   integer is a unit, a list of length L merges L consecutive units); when a scheme is given
 *   with another capacity mode, the run records how well the chosen merges match it.
 *
 * Deviations from the paper and its official code: the `deviations` list of the registry
 * entry below (data, shown in every report).
 *
 * @module
 */
import { z } from "zod";
import type { Graph, Unit } from "../models/graph.ts";
import { type Method, type MethodContext, parseConfig, reconFields } from "./_quant/config.ts";
import { runBaseline } from "./_quant/baseline.ts";
import { BIAS_ROUNDING_DEVIATION } from "./_quant/quantized_model.ts";
import { DROP_KEYS, RECON_KEYS, to } from "./_quant/recipe_keys.ts";
import { blockUnits, mergeUnits, mqbenchUnits } from "./_quant/units.ts";

const SchemeEntry = z.union([z.number().int(), z.array(z.number().int()).min(2)]);

const config = z.object({
  ...reconFields,
  /** The base method: BRECQ (no dropping) or QDrop. */
  base: z.enum(["brecq", "qdrop"]).default("qdrop"),
  /** How merges are chosen. */
  capacity: z.enum(["scheme-where-it-fits", "data-dependent", "data-free", "scheme"]).default(
    "scheme-where-it-fits",
  ),
  /** Number of adjacent-pair merges (default: see the module doc). */
  k: z.number().int().nonnegative().optional(),
  /** An official merge scheme (applied with `capacity: "scheme"`, compared against otherwise). */
  scheme: z.array(SchemeEntry).optional(),
  /** The units merges are made of: the official code's (default) or the graph-derived blocks. */
  partition: z.enum(["official", "graph"]).default("official"),
  /** QDrop knobs (used when `base` is qdrop). */
  dropProb: z.number().min(0).max(1).default(0.5),
  inputMixProb: z.number().min(0).max(1).default(0.5),
}).strict();

/**
 * The units MRECG merges: the official code's partition ({@linkcode mqbenchUnits}, the default)
 * or the graph-derived blocks (`"graph"`).
 */
export function mrecgUnits(graph: Graph, partition: "official" | "graph" = "official"): Unit[] {
  return partition === "official" ? mqbenchUnits(graph) : blockUnits(graph);
}

/** Groups of unit indices from an official scheme, or an error naming the mismatch. */
export function schemeGroups(scheme: (number | number[])[], units: number): number[][] {
  const groups: number[][] = [];
  let i = 0;
  for (const e of scheme) {
    const len = Array.isArray(e) ? e.length : 1;
    groups.push(Array.from({ length: len }, (_, j) => i + j));
    i += len;
  }
  if (i !== units) {
    throw new RangeError(
      `The merge scheme covers ${i} units but the graph has ${units} reconstruction units`,
    );
  }
  return groups;
}

/** Groups from the chosen pair indices (pair i merges units i and i+1). */
export function groupsFromPairs(pairs: number[], units: number): number[][] {
  const chosen = new Set(pairs);
  const groups: number[][] = [];
  for (let i = 0; i < units; i++) {
    if (i > 0 && chosen.has(i - 1)) groups[groups.length - 1].push(i);
    else groups.push([i]);
  }
  return groups;
}

/** Data-free capacity of a unit: Σ params · bits / stride². */
export function dataFreeCapacity(
  graph: Graph,
  unit: Unit,
  bitsOf: (layer: string) => number,
): number {
  let cap = 0;
  for (const name of unit.layers) {
    const node = unit.nodes.find((n) => n.name === name)!;
    const w = graph.initializers.get(node.inputs[1]);
    if (!w) continue;
    const strides = (node.attrs.strides as number[] | undefined) ?? [1, 1];
    const s = strides.reduce((p, v) => p * v, 1);
    cap += (w.size * bitsOf(name)) / (s * s);
  }
  return cap;
}

/** Relative differentials of adjacent homogeneous units, and the top-k pair indices. */
export function topKPairs(
  units: Unit[],
  caps: number[],
  k: number,
): { diffs: (number | null)[]; pairs: number[] } {
  const diffs = units.slice(0, -1).map((u, i) => {
    if (u.kind !== units[i + 1].kind || u.kind === "layer") return null;
    const m = Math.max(caps[i], caps[i + 1]);
    return m > 0 ? Math.abs(caps[i] - caps[i + 1]) / m : 0;
  });
  const order = diffs.flatMap((d, i) => (d === null ? [] : [i]))
    .sort((a, b) => (diffs[b]! - diffs[a]!) || a - b);
  return { diffs, pairs: order.slice(0, k).sort((a, b) => a - b) };
}

/** Default k: the official scheme's number of merged pairs where it fits, else 30 %. */
export function defaultK(official: number[][] | null, candidates: number): number {
  if (official) return pairsOf(official).size;
  return Math.max(1, Math.round(0.3 * candidates));
}

function pairsOf(groups: number[][]): Set<number> {
  return new Set(groups.flatMap((g) => g.slice(0, -1)));
}

/** MRECG on top of BRECQ or QDrop. */
export const mrecg: Method<typeof config> = {
  id: "mrecg",
  paper: {
    title:
      "Solving Oscillation Problem in Post-Training Quantization Through a Theoretical Perspective",
    authors: "Ma, Li, Zheng, Ling, Xiao, Wang, Wen, Chao, Ji",
    venue: "CVPR 2023",
    url: "https://arxiv.org/abs/2303.11906",
  },
  config,
  deviations: [
    "The ModCap formulas and the differential normalisation are ptq-bench's reconstruction (see above), not the paper's (unavailable); the data-dependent variant is measured with RTN quantizers on quantized-model inputs, the loss each unit starts from in reconstruction.",
    "Calibration follows the recipe (4,096 images at batch 256 for the official configs) scaled by the budget.",
    "Units follow the official partition (residual blocks; other layers chained, at most three, until an output forks), computed on the ONNX graph rather than on MQBench's FX graph with its hard-coded `add` node names: the layers in each unit are the same, non-layer ops (pooling, reshapes) may sit in the next unit. An official scheme applies only where its total length equals the model's unit count (the four official models; not the proxies, whose top-k merges are chosen by capacity).",
    "The official Academic backend does not fuse BN (it stays a float op after the quantized conv; the fused-ConvBn branch of `subgraph_reconstruction` is never reached); folding up front is equivalent for per-channel weights.",
    "Weight grids: MQBench's MSEObserver shrinks each channel's [min, max] over 80 factors (activations: 95 factors per tensor, EMA 0.9 over 16 batches); ptq-bench uses QDrop's 2-D L_p search.",
    "MQBench's Academic backend quantizes layer inputs: the network's input image is fake-quantized at 8 bits and the classifier's 8-bit quantizer sits after global pooling; ptq-bench leaves the image in float and quantizes before pooling.",
    "Each iteration draws 256 (ResNet-50: 128) images afresh from the whole calibration set; the official code picks one of its 16 fixed cached loader batches.",
    "The official scheme is applied where its length equals the model's unit count (the four official models); on the proxies, whose units differ, the merges are chosen by ptq-bench's data-dependent ModCap with the scheme's k, and the record gives their overlap with the scheme (`schemeMatch`).",
    "The rounding regularizer switches on at 0-based iteration warmup·iters and β lags the official 1-based counter by one iteration (β ends at ≈ 2.001, not 2).",
    "Calibration images are a seeded sample in the model's evaluation preprocessing; the official codes take the first N images of a shuffled train loader with RandomResizedCrop(224) and horizontal flip.",
    "Activation ranges are observed at once on the FP model, as MQBench does, but on the first 256 calibration images in one batch with ptq-bench's histogram L_p search; MQBench's EMAMSEObserver runs over all 16 cached batches of 256 (EMA 0.9) with 95 shrink factors.",
    BIAS_ROUNDING_DEVIATION,
  ],
  recipeKeys: { ...RECON_KEYS, ...DROP_KEYS, base: to("base"), scheme: to("scheme") },
  async run(ctx: MethodContext, raw) {
    const c = parseConfig(config, raw, "mrecg");
    const log = ctx.log ?? (() => {});
    const units = mrecgUnits(ctx.graph, c.partition);
    const drop = c.base === "qdrop"
      ? { dropProb: c.dropProb, inputMixProb: c.inputMixProb }
      : { dropProb: 0, inputMixProb: 1 };
    let groups: number[][];
    let capacities: number[] | null = null;
    let diffs: (number | null)[] | null = null;
    let official: number[][] | null = null;
    if (c.scheme) {
      try {
        official = schemeGroups(c.scheme, units.length);
      } catch (e) {
        if (c.capacity === "scheme") throw e;
        log(`official scheme not applicable: ${(e as Error).message}`);
      }
    }
    // The official code applies its scheme as given; where it does not fit the model's units
    // (the proxies), the merges are chosen by data-dependent capacity.
    const useScheme = c.capacity === "scheme" ||
      (c.capacity === "scheme-where-it-fits" && official !== null);
    const mode = c.capacity === "scheme-where-it-fits"
      ? (useScheme ? "scheme" : "data-dependent")
      : c.capacity;
    if (useScheme) {
      if (!official) throw new TypeError("mrecg: capacity 'scheme' needs a `scheme`");
      groups = official;
    } else {
      if (c.capacity === "data-free") {
        const bits = (l: string) =>
          (l === units[0].layers[0] || l === units.at(-1)!.layers.at(-1)) && c.headStem8bit
            ? 8
            : c.wBits;
        capacities = units.map((u) => dataFreeCapacity(ctx.graph, u, bits));
      } else {
        // Round-to-nearest pass: each unit's starting reconstruction loss is its capacity.
        // (no checkpoint: it is short, and it is not the run the caller's key names)
        const probe = await runBaseline({ ...ctx, checkpoint: undefined }, { ...c, iters: 0 }, {
          granularity: "block",
          adaround: false,
          lsq: false,
          dropProb: 0,
          inputMixProb: 1,
          noOptimisation: true,
          units: () => units,
        });
        capacities = probe.units.map((u) => u.lossBefore);
        probe.model.dispose?.();
      }
      const candidates = units.slice(0, -1).filter((u, i) =>
        u.kind === units[i + 1].kind && u.kind !== "layer"
      ).length;
      const k = Math.min(c.k ?? defaultK(official, candidates), candidates);
      const top = topKPairs(units, capacities, k);
      diffs = top.diffs;
      groups = groupsFromPairs(top.pairs, units.length);
    }
    const merged = mergeUnits(ctx.graph, units, groups);
    log(
      `MRECG (${mode}, base ${c.base}, ${c.partition} units): ${units.length} units -> ` +
        `${merged.length} ` +
        `(${groups.filter((g) => g.length > 1).map((g) => g.join("+")).join(", ") || "no merges"})`,
    );
    const res = await runBaseline(ctx, c, {
      granularity: "block",
      adaround: true,
      lsq: true,
      ...drop,
      units: () => merged,
      actInit: "fp-model",
    });
    let match: { official: number; chosen: number; common: number } | null = null;
    if (official && !useScheme) {
      const a = pairsOf(official), b = pairsOf(groups);
      match = { official: a.size, chosen: b.size, common: [...b].filter((p) => a.has(p)).length };
    }
    res.config = {
      ...res.config,
      base: c.base,
      capacity: mode,
      capacityChoice: c.capacity,
      partition: c.partition,
      units: units.map((u) => u.name),
      capacities,
      differentials: diffs,
      groups,
      officialGroups: official,
      schemeMatch: match,
    };
    return res;
  },
};
