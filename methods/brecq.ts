/**
 * BRECQ — Li, Gong, Tan, Yang, Hu, Zhang, Yu, Wang, Gu, "BRECQ: Pushing the Limit of
 * Post-Training Quantization by Block Reconstruction", ICLR 2021 (arXiv 2102.05426), as its
 * official code runs it: yhhhli/BRECQ at e455d62. (The QDrop / PD-Quant / MRECG codebases'
 * BRECQ, rounding and steps trained together, is `brecq-joint`.)
 *
 * Protocol (`main_imagenet.py` L181–244; argparse defaults L139–167), over blocks (graph-derived residual / inverted-residual
 * / depthwise-separable blocks; other layers alone), in network order:
 * 1. **Initialise the weights**: per output channel, BRECQ's own `scale_method='mse'`: 80 ranges
 *    `[min, max]·(1 − i/100)`, the one with the lowest mean `|w − q(w)|^2.4` (`quant/quant_layer.py`
 *    L116–130); first and last layer at 8 bits, and the first layer left out of both stages
 *    (`set_first_last_layer_to_8bit`, `quant/quant_model.py` L52–62; `recon_model`,
 *    `main_imagenet.py` L204–224: its weights round to nearest, its 8-bit output step stays as
 *    initialised).
 * 2. **Weight stage** (`act_quant=False`, `opt_mode='mse'`, `asym=True`, L200–202, 227;
 *    `quant/block_recon.py` L34–55, L70–106): activations in float; per unit
 *    `min_V ‖B̂(x̂; V) − B(x)‖² + λ Σ (1 − |2h(V) − 1|^β)` on the quantized model's unit input `x̂`
 *    (`quant/data_utils.py` L123–131), the loss `(ŷ − y)².sum(1).mean()` (`lp_loss`, p = 2,
 *    `quant_layer.py` L23–30), Adam at PyTorch's default lr 1e-3, 20,000 iterations of 32
 *    (`--iters_w`, `batch_size`), λ 0.01 (`--weight`; 0.1 for MobileNetV2 as the README's
 *    command), β 20 → 2 after a 20 % warm-up; hard rounding at the end of each unit.
 * 3. **Initialise the activations** at once on the quantized model from the first 64
 *    calibration images (L233–235), each step by the same 80-range search; the network output is
 *    not quantized (L238); 8 bits for the first layer's output and the second-to-last layer's
 *    output (`set_first_last_layer_to_8bit`: in ResNets that output is unquantized, so the
 *    classifier input keeps the body's bits).
 * 4. **Activation stage** (`act_quant=True`, L240–241; `block_recon.py` L57–77): per unit, the
 *    weights fixed, `min_{s_a} |B̂(x; s_a) − B(x)|^2.4 .sum(1).mean()` on the FP model's unit
 *    input `x` (`asym` left False), Adam lr 4e-4 with cosine decay to 0, 5,000 iterations of 32
 *    (`--iters_a`, `--lr`, `--p`).
 *
 * Deviations from the paper and its official code: the `deviations` list of the registry
 * entry below (data, shown in every report).
 *
 * @module
 */
import { z } from "zod";
import { type Method, OFFICIAL_ITERS, parseConfig, reconFields } from "./_quant/config.ts";
import { runBaseline } from "./_quant/baseline.ts";
import { BIAS_ROUNDING_DEVIATION } from "./_quant/quantized_model.ts";
import { describes, ignored, type RecipeValue, RECON_KEYS, to } from "./_quant/recipe_keys.ts";

/** The official activation-stage iterations per unit (`--iters_a`). */
const OFFICIAL_ACT_ITERS = 5000;

const config = z.object({
  ...reconFields,
  /** Weight init: BRECQ's 80-range search (`shrink`), or the harness's `mse` / `minmax`. */
  weightObserver: z.enum(["shrink", "mse", "minmax"]).default("shrink"),
  /** Activation init (once, before the activation stage): as `weightObserver`, per tensor. */
  actObserver: z.enum(["shrink", "mse", "minmax", "percentile", "ema-minmax"]).default("shrink"),
  /** Activation stage: Adam lr of the steps (`--lr`), cosine to 0. */
  actLr: z.number().positive().default(4e-4),
  /** Activation stage: iterations per unit (`--iters_a`); default `iters · 5000 / 20000`. */
  actIters: z.number().int().nonnegative().optional(),
  /** Activation stage: exponent of the loss `|ŷ − y|^p` (`--p`). */
  actLossP: z.number().positive().default(2.4),
  /** Images the activation observers see before the activation stage (`cali_data[:64]`). */
  actInitSamples: z.number().int().positive().default(64),
}).strict();

/** The codebases' `mse` init is, in BRECQ's code, its 80-range search. */
const brecqInit = (v: RecipeValue) => (v === "mse" || v === "ema_mse" ? "shrink" : v);

/** BRECQ's official two-stage block reconstruction. */
export const brecq: Method<typeof config> = {
  id: "brecq",
  paper: {
    title: "BRECQ: Pushing the Limit of Post-Training Quantization by Block Reconstruction",
    authors: "Li, Gong, Tan, Yang, Hu, Zhang, Yu, Wang, Gu",
    venue: "ICLR 2021",
    url: "https://arxiv.org/abs/2102.05426",
    code: "https://github.com/yhhhli/BRECQ/tree/e455d62",
  },
  config,
  deviations: [
    "The paper's Fisher-weighted (diagonal Fisher) output loss is not used; neither does the released code: `main_imagenet.py` passes `opt_mode='mse'` (the Fisher path in `quant/data_utils.py` is never run).",
    "Blocks come from the graph structure (`models/units.ts`), not from named PyTorch modules; the first layer is left out where it forms a unit of its own (the partition's usual case; merged into a larger unit it would be reconstructed).",
    "The 80-range init search widens `[min, max]` to contain 0 (the official code does not, so a one-sided weight channel gets a grid without 0, whose zero point lies outside [0, 2^b − 1] and which no integer kernel or QDQ file represents); scores are summed in float64 with a tabulated |u|^2.4 instead of float32.",
    "Activation steps are searched on a 4,096-bin histogram of the 64 images' values (bin centres weighted by counts, exact extremes), not on the values themselves.",
    "Batches are drawn with xoshiro128** seeded from the run's seed (the same sequence in both stages), not torch's global generator.",
    "λ = 0.1 for MobileNetV2-like models follows the README's MobileNetV2 command (`--weight 0.1`); elsewhere the argparse default 0.01.",
    "Budgets below `paper` (smoke, quick, custom) cut the iterations per unit of both stages in proportion (activation stage: a quarter of the weight stage's, 5,000 of 20,000 at the paper budget) and, for smoke, the calibration set; every record names its budget.",
    "The rounding regularizer switches on at 0-based iteration warmup·iters and β lags the official 1-based counter by one iteration (β ends at ≈ 2.001, not 2).",
    "Calibration images are a seeded sample in the model's evaluation preprocessing; the official codes take the first N images of a shuffled train loader with RandomResizedCrop(224) and horizontal flip.",
    BIAS_ROUNDING_DEVIATION,
  ],
  recipeKeys: {
    ...RECON_KEYS,
    weight_init: to("weightObserver", brecqInit),
    weight_observer: to("weightObserver", brecqInit),
    act_init: to("actObserver", brecqInit),
    act_observer: to("actObserver", brecqInit),
    adaround_lr: ignored(
      "the joint variant's lr for V (brecq-joint); BRECQ's weight stage runs Adam at PyTorch's " +
        "default 1e-3 (`block_recon.py` `torch.optim.Adam(opt_params)`), config `weightLr`",
    ),
    act_lr: ignored(
      "the joint variant's LSQ lr (4e-5, brecq-joint); BRECQ's activation stage runs its own " +
        "`--lr` (4e-4, recipe key `lr`)",
    ),
    // BRECQ neither drops nor mixes: its weight stage takes the quantized unit input alone.
    prob: describes(1.0),
    input_prob: describes(1.0),
    // The official code's own names for the activation stage.
    iters_a: to("actIters"),
    lr: to("actLr"),
    p: to("actLossP"),
  },
  run(ctx, raw) {
    const c = parseConfig(config, raw, "brecq");
    return runBaseline(ctx, c, {
      granularity: "block",
      adaround: true,
      lsq: true,
      dropProb: 0,
      inputMixProb: 1,
      headStemActs: "brecq",
      twoStages: {
        iters: c.actIters ?? Math.round(c.iters * OFFICIAL_ACT_ITERS / OFFICIAL_ITERS),
        lr: c.actLr,
        lossP: c.actLossP,
        initSamples: c.actInitSamples,
      },
    });
  },
};
