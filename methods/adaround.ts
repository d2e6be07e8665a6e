/**
 * AdaRound — Nagel, Amjad, van Baalen, Louizos, Blankevoort, "Up or Down? Adaptive Rounding for
 * Post-Training Quantization", ICML 2020 (arXiv 2004.10568).
 *
 * Objective, per layer (layer-wise reconstruction, in network order):
 * `min_V ‖f(Ŵ(V) x̂) − f(W x)‖² + λ Σ (1 − |2h(V) − 1|^β)`, with `Ŵ(V) = s·(clamp(⌊W/s⌋ + h(V) + z) − z)`,
 * `h` the rectified sigmoid, `x̂` the quantized model's input to the layer and `f` the layer's
 * activation; β anneals 20 → 2 after a 20 % warm-up without the regularizer; finally `V ≥ 0`
 * rounds up. Activation steps of the layer's output quantizers are trained alongside with LSQ
 * (Adam 4e-5, cosine), as the BRECQ/QDrop codebases' layer reconstruction does.
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
import { describes, RECON_KEYS } from "./_quant/recipe_keys.ts";

const config = z.object({ ...reconFields }).strict();

/** Layer-wise AdaRound. */
export const adaround: Method<typeof config> = {
  id: "adaround",
  paper: {
    title: "Up or Down? Adaptive Rounding for Post-Training Quantization",
    authors: "Nagel, Amjad, van Baalen, Louizos, Blankevoort",
    venue: "ICML 2020",
    url: "https://arxiv.org/abs/2004.10568",
  },
  config,
  deviations: [
    "Implementation follows the BRECQ/QDrop codebase's `layer_reconstruction` (asymmetric per-channel weights with the L_p p = 2.4 init, activation quantization with LSQ steps, loss `(ŷ − y)².sum(1).mean()`), not the original paper's setting (symmetric per-tensor weights, FP activations, MSE on pre-activations for some layers).",
    "A layer unit is the layer plus the nodes after it up to the next layer (activation, a residual Add and its activation, pooling), so the residual Add's output quantizer is reconstructed with the branch's last layer.",
    "Budgets below `paper` (smoke, quick, custom) cut the iterations per unit and, for smoke, the calibration set; every record names its budget.",
    "Rounding and activation steps are learned together (MQBench's `pattern: layer`, as MRECG.py runs it); BRECQ's `layer_reconstruction` learns the rounding with activations in float, then the steps alone (5,000 iterations, Adam 4e-4, L2.4 loss on FP-model inputs).",
    "Weight grids come from the QDrop/PD-Quant 2-D L_p search; BRECQ's layer code starts from its 80-factor shrink search of [min, max].",
    "The first layer is reconstructed and its output uses the body's activation bits (QDrop/PD-Quant convention); BRECQ's code keeps that output at 8 bits and does not reconstruct the first layer.",
    "The rounding regularizer switches on at 0-based iteration warmup·iters and β lags the official 1-based counter by one iteration (β ends at ≈ 2.001, not 2).",
    "Under the PD-Quant recipes the AdaRound learning rate is PD-Quant's hard-coded 3e-3 (inferred for its baseline rows), not the Adam default 1e-3 of BRECQ's code; at short budgets this moves accuracy markedly.",
    "Calibration images are a seeded sample in the model's evaluation preprocessing; the official codes take the first N images of a shuffled train loader with RandomResizedCrop(224) and horizontal flip.",
    "Activation ranges are initialised unit by unit on the quantized model's stream (PD-Quant's way); QDrop's code initialises every observer at once on the FP model, MRECG's with an EMA-MSE over 16 × 256 FP batches (likely to matter at A2/A3).",
    BIAS_ROUNDING_DEVIATION,
  ],
  recipeKeys: { ...RECON_KEYS, granularity: describes("layer") },
  run(ctx, raw) {
    const c = parseConfig(config, raw, "adaround");
    return runBaseline(ctx, c, {
      granularity: "layer",
      adaround: true,
      lsq: true,
      dropProb: 0,
      inputMixProb: 1,
    });
  },
};
