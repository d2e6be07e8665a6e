/**
 * QDrop — Wei, Gong, Li, Liu, Yu, "QDrop: Randomly Dropping Quantization for Extremely Low-bit
 * Post-Training Quantization", ICLR 2022 (arXiv 2203.05740).
 *
 * Objective: BRECQ's block reconstruction
 * `min_{V, s_a} ‖B̂(x̃; V, s_a, M) − B(x)‖² + λ Σ (1 − |2h(V) − 1|^β)`, where inside the block each
 * activation element is left unquantized with probability `dropProb` (= 0.5; random mask `M`
 * per iteration), and the block input `x̃` takes each element from the quantized-model input
 * with probability `inputMixProb` (= 0.5), else from the FP-model input.
 *
 * Deviations from the paper and its official code: the `deviations` list of the registry
 * entry below (data, shown in every report).
 *
 * @module
 */
import { z } from "zod";
import { type Method, parseConfig, reconFields } from "./_quant/config.ts";
import { runBaseline } from "./_quant/baseline.ts";
import { BIAS_ROUNDING_DEVIATION } from "./_quant/quantized_model.ts";
import { DROP_KEYS, RECON_KEYS } from "./_quant/recipe_keys.ts";

const config = z.object({
  ...reconFields,
  /** Probability that an activation element inside the unit stays in float (official `prob`). */
  dropProb: z.number().min(0).max(1).default(0.5),
  /** Probability that a block-input element comes from the quantized model (else FP). */
  inputMixProb: z.number().min(0).max(1).default(0.5),
}).strict();

/** QDrop block reconstruction. */
export const qdrop: Method<typeof config> = {
  id: "qdrop",
  paper: {
    title: "QDrop: Randomly Dropping Quantization for Extremely Low-bit Post-Training Quantization",
    authors: "Wei, Gong, Li, Liu, Yu",
    venue: "ICLR 2022",
    url: "https://arxiv.org/abs/2203.05740",
  },
  config,
  deviations: [
    "The official `prob` (probability of keeping the float value, 0.5) maps to `dropProb = 0.5`; the mixed block input follows the PD-Quant/QDrop code's `input_prob = 0.5`.",
    "Masks are drawn with xoshiro128** seeded from the run's seeded generator (reproducible), not torch's generator.",
    "Budgets below `paper` (smoke, quick, custom) cut the iterations per unit and, for smoke, the calibration set; every record names its budget.",
    "LSQ's gradient scaling (QDrop's `use_grad_scaling`, 1/√(numel·qmax)) and its per-forward clamp of the step to ≥ float32 ε are omitted; Adam's update cancels a constant gradient scale except against its ε.",
    "Batches are drawn without replacement; the official code draws indices with replacement (`torch.randint`).",
    "Under the PD-Quant recipes QDrop runs with AdaRound lr 3e-3 (PD-Quant's value, inferred for its baseline rows); QDrop's code uses Adam's default 1e-3.",
    "The weight grid's zero point for each candidate range of the 2-D L_p search is found by an integer ternary search (then exhaustively among the last few), not by enumerating all 2^b, and ties go to the widest range; where the error is not unimodal in the zero point the official enumeration can pick a different, near-equal grid.",
    "The rounding regularizer switches on at 0-based iteration warmup·iters and β lags the official 1-based counter by one iteration (β ends at ≈ 2.001, not 2).",
    "Calibration images are a seeded sample in the model's evaluation preprocessing; the official codes take the first N images of a shuffled train loader with RandomResizedCrop(224) and horizontal flip.",
    "Activation ranges are observed at once on the FP model (all quantizers off) on the first 256 calibration images, as QDrop's `enable_calibration_woquantization` does; the ranges come from ptq-bench's histogram L_p search.",
    BIAS_ROUNDING_DEVIATION,
  ],
  recipeKeys: { ...RECON_KEYS, ...DROP_KEYS },
  run(ctx, raw) {
    const c = parseConfig(config, raw, "qdrop");
    return runBaseline(ctx, c, {
      granularity: "block",
      adaround: true,
      lsq: true,
      dropProb: c.dropProb,
      inputMixProb: c.inputMixProb,
      actInit: "fp-model",
    });
  },
};
