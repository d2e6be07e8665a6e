/**
 * BRECQ — Li, Gong, Tan, Yang, Hu, Zhang, Yu, Wang, Gu, "BRECQ: Pushing the Limit of
 * Post-Training Quantization by Block Reconstruction", ICLR 2021 (arXiv 2102.05426).
 *
 * Objective, per block (graph-derived residual / inverted-residual / depthwise-separable blocks;
 * stem and classifier as layers), in network order:
 * `min_{V, s_a} ‖B̂(x̂; V, s_a) − B(x)‖² + λ Σ (1 − |2h(V) − 1|^β)`, where `x̂` is the block input
 * from the already quantized blocks, `B(x)` the FP block on the FP input, `V` the AdaRound
 * variables of every layer in the block (Adam 1e-3) and `s_a` the block's activation steps (LSQ,
 * Adam 4e-5 with cosine decay). β 20 → 2 after a 20 % warm-up; hard rounding at the end.
 *
 * Deviations from the paper and its official code: the `deviations` list of the registry
 * entry below (data, shown in every report).
 *
 * @module
 */
import { z } from "zod";
import { type Method, parseConfig, reconFields } from "./_quant/config.ts";
import { runBaseline } from "./_quant/baseline.ts";
import { describes, RECON_KEYS } from "./_quant/recipe_keys.ts";

const config = z.object({ ...reconFields }).strict();

/** Block reconstruction with AdaRound weights and LSQ activation steps. */
export const brecq: Method<typeof config> = {
  id: "brecq",
  paper: {
    title: "BRECQ: Pushing the Limit of Post-Training Quantization by Block Reconstruction",
    authors: "Li, Gong, Tan, Yang, Hu, Zhang, Yu, Wang, Gu",
    venue: "ICLR 2021",
    url: "https://arxiv.org/abs/2102.05426",
  },
  config,
  deviations: [
    "The Fisher-weighted (diagonal Fisher) output loss of the paper is not used: like the QDrop / PD-Quant / MRECG re-implementations of BRECQ (`prob = 1.0`), the loss is the plain squared error `(ŷ − y)².sum(1).mean()`.",
    "Blocks come from the graph structure (`models/units.ts`), not from named PyTorch modules.",
    "Budgets below `paper` (smoke, quick, custom) cut the iterations per unit and, for smoke, the calibration set; every record names its budget.",
  ],
  recipeKeys: { ...RECON_KEYS, prob: describes(1.0), input_prob: describes(1.0) },
  run(ctx, raw) {
    const c = parseConfig(config, raw, "brecq");
    return runBaseline(ctx, c, {
      granularity: "block",
      adaround: true,
      lsq: true,
      dropProb: 0,
      inputMixProb: 1,
    });
  },
};
