/**
 * BRECQ, joint (QDrop prob = 1) — the BRECQ baseline of the QDrop / PD-Quant / MRECG codebases: QDrop's block
 * reconstruction with dropping switched off (`prob = 1.0`), i.e. rounding and activation steps
 * optimised together. It is not the protocol of BRECQ's official code (`brecq.ts`, two stages).
 *
 * Paper: Li, Gong, Tan, Yang, Hu, Zhang, Yu, Wang, Gu, "BRECQ: Pushing the Limit of
 * Post-Training Quantization by Block Reconstruction", ICLR 2021 (arXiv 2102.05426).
 * Code of this variant: wimh966/QDrop (ef37616) `qdrop/solver/recon.py` `reconstruction()` with
 * `drop_prob: 1.0` (the quantized block input alone, no activation dropping; `w_opt =
 * torch.optim.Adam(w_para)`, `a_opt` at `scale_lr` 4e-5 with `CosineAnnealingLR`, `lp_loss` with
 * p = 2); the same as bytedance/MRECG (6e48c48) `configs/brecq/*.yaml` (`prob: 1.0`,
 * `scale_lr: 4.0e-5`, `MRECG.py` `subgraph_reconstruction`).
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
import { BIAS_ROUNDING_DEVIATION } from "./_quant/quantized_model.ts";
import { describes, RECON_KEYS } from "./_quant/recipe_keys.ts";

const config = z.object({ ...reconFields }).strict();

/** Block reconstruction with AdaRound weights and LSQ activation steps, trained jointly. */
export const brecqJoint: Method<typeof config> = {
  id: "brecq-joint",
  paper: {
    title: "BRECQ: Pushing the Limit of Post-Training Quantization by Block Reconstruction",
    authors: "Li, Gong, Tan, Yang, Hu, Zhang, Yu, Wang, Gu",
    venue: "ICLR 2021",
    url: "https://arxiv.org/abs/2102.05426",
    code: "https://github.com/wimh966/QDrop/blob/ef37616/qdrop/solver/recon.py",
  },
  config,
  deviations: [
    "Not the protocol of BRECQ's official code (yhhhli/BRECQ, method `brecq`: rounding with float activations, then the activation steps alone at lr 4e-4 with an L2.4 loss): this is the re-implementations' BRECQ, QDrop's reconstruction with `prob = 1.0`, rounding and steps trained together.",
    "The Fisher-weighted (diagonal Fisher) output loss of the paper is not used: like the QDrop / PD-Quant / MRECG re-implementations of BRECQ (`prob = 1.0`), the loss is the plain squared error `(ŷ − y)².sum(1).mean()`.",
    "Blocks come from the graph structure (`models/units.ts`), not from named PyTorch modules.",
    "Budgets below `paper` (smoke, quick, custom) cut the iterations per unit and, for smoke, the calibration set; every record names its budget.",
    "The rounding regularizer switches on at 0-based iteration warmup·iters and β lags the official 1-based counter by one iteration (β ends at ≈ 2.001, not 2).",
    "Calibration images are a seeded sample in the model's evaluation preprocessing; the official codes take the first N images of a shuffled train loader with RandomResizedCrop(224) and horizontal flip.",
    "Activation ranges are observed at once on the FP model on the first 256 calibration images (QDrop's and MQBench's way), with ptq-bench's histogram L_p search.",
    BIAS_ROUNDING_DEVIATION,
  ],
  recipeKeys: { ...RECON_KEYS, prob: describes(1.0), input_prob: describes(1.0) },
  run(ctx, raw) {
    const c = parseConfig(config, raw, "brecq-joint");
    return runBaseline(ctx, c, {
      granularity: "block",
      adaround: true,
      lsq: true,
      dropProb: 0,
      inputMixProb: 1,
      actInit: "fp-model",
    });
  },
};
