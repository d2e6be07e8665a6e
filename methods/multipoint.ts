/**
 * Multipoint quantization — Liu, Ye, Zhou, Liu, "Post-training Quantization with Multiple Points:
 * Mixed Precision without Mixed Precision", AAAI 2021 (arXiv 2002.09049). No official code exists;
 * this is reconstructed from the paper's abstract and a secondary summary of it, and every choice
 * they leave open is listed in the registry entry's `deviations`.
 *
 * Weights only. Each output channel's weight vector `w` is approximated by `Σᵢ aᵢ·qᵢ`, every `qᵢ`
 * an integer vector on the same symmetric `b`-bit grid, built greedily (each point fits the
 * residual of the earlier ones: `_multipoint/fit.ts`). The number of points per channel is chosen
 * from the layer's output error `‖X(w − ŵ)‖²` on its calibration inputs under a memory budget in
 * average bits per weight: every channel gets one point, and each further point goes to the
 * channel whose output error it reduces most (`_multipoint/alloc.ts`). Every operand stays at `b`
 * bits ("mixed precision without mixed precision"): a layer with several points is a sum of
 * same-bit layers, `y = Σᵢ (aᵢ ⊙ qᵢ) * x`, exported as one DequantizeLinear per point added
 * before the layer (exactly the simulated float32 weight, `QuantModel.setPoints`).
 *
 * The equal-memory baselines of the paper's comparison are registered beside it:
 * {@linkcode mixedPrecision} (bits per layer from the same output-error measure under the same
 * budget) and {@linkcode ocs} (outlier channel splitting with the expand ratio the budget gives).
 *
 * @module
 */
import { z } from "zod";
import { type Method, parseConfig } from "./_quant/config.ts";
import { BIAS_ROUNDING_DEVIATION } from "./_quant/quantized_model.ts";
import { describes, ignored, type RecipeKeys, to } from "./_quant/recipe_keys.ts";
import { Bits } from "./_quant/scheme.ts";
import { runPoints } from "./_multipoint/driver.ts";

/** Fields the three schemes share. */
const pointsFields = {
  /** Bits of every point (every stored integer and every multiply operand). */
  wBits: Bits.default(4),
  /** Activation bits; 32 (the default: the paper quantizes weights only) leaves them in float. */
  aBits: z.union([Bits, z.literal(32)]).default(32),
  /** The memory budget in average bits per weight of the body layers (default `wBits·(1 + overhead)`). */
  budgetBits: z.number().positive().optional(),
  /** Extra memory over `wBits` when `budgetBits` is not given (0.1: 10 %). */
  overhead: z.number().min(0).default(0.1),
  /** Calibration images the run asked for (recorded; the calibration tensor decides). */
  calibSize: z.number().int().positive().optional(),
  seed: z.number().int().default(1005),
  /** First and last layer as 8-bit single points, outside the budget. */
  headStem8bit: z.boolean().default(true),
  /** Input rows per layer (sampled over the calibration set) for the output-error measure. */
  maxRows: z.number().int().positive().default(2048),
  /** With quantized activations: their range observer (as RTN's, unit by unit). */
  actObserver: z.enum(["mse", "minmax", "percentile", "ema-minmax"]).default("mse"),
  /** The L_p exponent of the `mse` activation observer. */
  p: z.number().positive().default(2.4),
  /** The bias of a single-point layer with quantized input (see `quantized_model.ts`). */
  biasRounding: z.enum(["int32", "float"]).default("int32"),
  /** Rows per forward while measuring (memory only). */
  chunk: z.number().int().positive().default(32),
};

const multipointConfig = z.object({
  ...pointsFields,
  /** The most points one channel may get. */
  maxPoints: z.number().int().min(1).max(8).default(4),
  /**
   * How each point's scale is refitted once its integers are chosen: least squares on the weights
   * (`weight`), or on the layer output over the calibration rows (`output`).
   */
  scaleFit: z.enum(["weight", "output"]).default("weight"),
  /** Who gets the extra points: the largest output-error reduction, or random channels (ablation). */
  allocation: z.enum(["output-error", "random"]).default("output-error"),
}).strict();

const mixedConfig = z.object({
  ...pointsFields,
  /** The lowest bits a layer may get (default `max(2, wBits − 1)`). */
  minBits: Bits.optional(),
  /** The highest bits a layer may get. */
  maxBits: Bits.default(8),
}).strict();

const ocsConfig = z.object({ ...pointsFields }).strict();

/** Recipe keys of all three. */
const POINTS_KEYS: RecipeKeys = {
  w_bits: to("wBits"),
  a_bits: to("aBits"),
  calib_n: to("calibSize"),
  first_last_8bit: to("headStem8bit"),
  budget_bits: to("budgetBits"),
  memory_overhead: to("overhead"),
  calib_rows: to("maxRows"),
  act_observer: to("actObserver", (v) => (v === "ema_mse" ? "mse" : v)),
  bias_rounding: to("biasRounding"),
  per_channel: describes(true),
  symmetric: describes(true),
  bn_fold: ignored("BN is folded before quantization in every method"),
  iters: ignored("nothing is optimised by gradient steps"),
  batch: ignored("nothing is optimised by gradient steps"),
  set: ignored(
    "a custom budget's replaced settings, listed for the record: their values are already in " +
      "the config under their own keys",
  ),
};

/** Assumptions all three share (the paper's setup is unknown beyond its abstract). */
const SHARED_DEVIATIONS = [
  "No table, code or hyper-parameter of the paper could be read (only the abstract and a third-party summary): every setting below is an assumption of ptq-bench.",
  "Memory budget: average bits per weight of the body layers, counting the stored integers only (one float scale per point and output channel is not counted, as no method here counts its per-channel scales); default wBits·1.1 (10 % over a plain wBits model), the paper's overhead being unknown.",
  "The first and last layer are 8-bit single points outside the budget (headStem8bit), as every method of the harness; the paper's treatment of them is unknown.",
  "Activations stay in float by default (the paper quantizes weights only); aBits 8 quantizes them per tensor with RTN's observer, initialised unit by unit on the quantized stream.",
  "The output-error measure is ‖X(w − ŵ)‖² over at most 2,048 input rows per layer (positions × images, seeded) of the FP model's layer inputs on the calibration images (BN folded), through the Gram matrix XᵀX.",
  "Integers are stored in int8 tensors in the export (not packed to b bits); memory is counted at b bits.",
  "Calibration images are a seeded sample in the model's evaluation preprocessing; the paper's calibration set is unknown.",
];

/** Multipoint quantization (the paper's method). */
export const multipoint: Method<typeof multipointConfig> = {
  id: "multipoint",
  paper: {
    title:
      "Post-training Quantization with Multiple Points: Mixed Precision without Mixed Precision",
    authors: "Liu, Ye, Zhou, Liu",
    venue: "AAAI 2021",
    url: "https://arxiv.org/abs/2002.09049",
  },
  config: multipointConfig,
  deviations: [
    ...SHARED_DEVIATIONS,
    "Grid: every point is per output channel, symmetric, {−L, …, L} with L = 2^(b−1) − 1 (no −2^(b−1) level, so that −q is on the grid), zero point 0, the same b for every point.",
    "Point fit: the integers by a grid search over the candidate scales max|r|/t (t = 1…L: the largest residual on level t; t = L/α, α = 0.50…0.95: clipped), each with its closed-form least-squares scale ⟨r,q⟩/⟨q,q⟩, the smallest ‖r − a·q‖² winning; with scaleFit 'output' the scale is then refitted as rᵀHq/qᵀHq on the layer output. A vector on a grid is reproduced exactly.",
    "At most maxPoints = 4 points per channel; every channel has at least one.",
    "Allocation per layer: a layer of C channels gets ⌊C·B/b⌋ points (B the budget); every channel starts with one, and each further point goes to the channel whose output error it reduces most (all points of a layer cost the same bits), until the budget is spent or no point helps. The paper's rule (a global budget, per-layer budgets, or an error threshold) is unknown.",
    "Deployment: a layer with several points is exported as one int8 DequantizeLinear weight per point, added before one Conv/Gemm (by linearity the same as a sum of same-bit convolutions); onnxruntime runs it in float on that sum (no integer kernel takes several weights), so its bias stays float; single-point layers are ordinary QDQ layers.",
    BIAS_ROUNDING_DEVIATION,
  ],
  recipeKeys: {
    ...POINTS_KEYS,
    max_points: to("maxPoints"),
    scale_fit: to("scaleFit"),
    allocation: to("allocation"),
  },
  run(ctx, raw) {
    const c = parseConfig(multipointConfig, raw, "multipoint");
    return runPoints(ctx, c, "multipoint");
  },
};

/** Per-layer mixed precision at the same memory (the paper's baseline "MP"). */
export const mixedPrecision: Method<typeof mixedConfig> = {
  id: "mixed-precision",
  paper: {
    title: "Per-layer mixed precision at equal memory (baseline of the multipoint paper)",
    authors: "—",
    venue: "—",
    url: "https://arxiv.org/abs/2002.09049",
  },
  config: mixedConfig,
  deviations: [
    ...SHARED_DEVIATIONS,
    "Bits per layer from max(2, wBits − 1)…8, all layers starting at the lowest; each further bit goes to the layer with the largest reduction of its relative output error ‖X(W − Ŵ)‖²/‖XW‖² per bit spent (its number of weights) that still fits the budget, over all body layers together. How the paper's mixed-precision baseline chose its bits is unknown.",
    "Each layer's weights: one symmetric per-channel point at the layer's bits, fitted as multipoint's first point (grid search over the rounding, least-squares scale).",
    BIAS_ROUNDING_DEVIATION,
  ],
  recipeKeys: { ...POINTS_KEYS, min_bits: to("minBits"), max_bits: to("maxBits") },
  run(ctx, raw) {
    const c = parseConfig(mixedConfig, raw, "mixed-precision");
    return runPoints(ctx, c, "mixed-precision");
  },
};

/** Outlier channel splitting at the same memory. */
export const ocs: Method<typeof ocsConfig> = {
  id: "ocs",
  paper: {
    title:
      "Improving Neural Network Quantization without Retraining using Outlier Channel Splitting",
    authors: "Zhao, Hu, Dotzel, De Sa, Zhang",
    venue: "ICML 2019",
    url: "https://arxiv.org/abs/1901.09504",
    code: "https://github.com/cornell-zhang/dnn-quant-ocs",
  },
  config: ocsConfig,
  deviations: [
    ...SHARED_DEVIATIONS,
    "Expand ratio from the budget, r = B/wBits − 1, ⌊r·C_in⌋ input channels split per layer; the channels whose largest |weight| (over all output channels) is largest, each split once (the official OCS can split a halved channel again).",
    "Grouped (depthwise) convolutions are not split (one input channel of one group cannot be duplicated), so they are plain wBits layers; the paper's summary notes OCS does not handle them.",
    "Quantizer: per output channel, symmetric, the expanded weight fitted as multipoint's first point (grid search over the rounding, least-squares scale), not OCS's per-tensor ranges and clipping options.",
    "No graph surgery: the expanded layer Conv([x, x_S], [W′, W_S/2]) equals Conv(x, W′ + scatter(W_S/2)), exported as two same-scale int8 DequantizeLinear points added before the layer (run in float by onnxruntime, bias float).",
    BIAS_ROUNDING_DEVIATION,
  ],
  recipeKeys: POINTS_KEYS,
  run(ctx, raw) {
    const c = parseConfig(ocsConfig, raw, "ocs");
    return runPoints(ctx, c, "ocs");
  },
};
