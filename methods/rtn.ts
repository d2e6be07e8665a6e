/**
 * RTN — round-to-nearest post-training quantization (the common baseline of every paper here;
 * e.g. the "Min-Max"/"MSE" rows of PD-Quant's and QDrop's tables).
 *
 * Objective: none optimised. Weights: per-channel asymmetric grids chosen by the official L_p
 * (p = 2.4) search, then rounded to nearest. Activations: per-tensor asymmetric grids chosen by
 * the same search on calibration data, unit by unit, each unit's observers seeing the already
 * quantized upstream (as the reconstruction methods initialise them).
 *
 * Deviations from the paper and its official code: the `deviations` list of the registry
 * entry below (data, shown in every report).
 *
 * @module
 */
import { z } from "zod";
import { type Method, parseConfig } from "./_quant/config.ts";
import { commonFields } from "./_quant/config.ts";
import { runBaseline } from "./_quant/baseline.ts";
import { BIAS_ROUNDING_DEVIATION } from "./_quant/quantized_model.ts";
import { COMMON_KEYS, ignored } from "./_quant/recipe_keys.ts";

const config = z.object({ ...commonFields }).strict();

/** Round-to-nearest with MSE-searched ranges. */
export const rtn: Method<typeof config> = {
  id: "rtn",
  paper: {
    title: "Round-to-nearest with L_p-searched ranges (baseline; initialisation of BRECQ/QDrop)",
    authors: "—",
    venue: "—",
    url: "https://github.com/wimh966/QDrop",
  },
  config,
  deviations: [
    '"RTN" has no single paper; this is the initialisation BRECQ/QDrop/PD-Quant start from (their `init mode mse`), without any reconstruction.',
    "Activation ranges come from a histogram (4096 bins) L_p search rather than element-wise.",
    "The weight grid's zero point for each candidate range of the 2-D L_p search is found by an integer ternary search (then exhaustively among the last few), not by enumerating all 2^b, and ties go to the widest range; where the error is not unimodal in the zero point the official enumeration can pick a different, near-equal grid.",
    "Calibration images are a seeded sample in the model's evaluation preprocessing; the official codes take the first N images of a shuffled train loader with RandomResizedCrop(224) and horizontal flip.",
    "Activation ranges are initialised unit by unit on the quantized model's stream (PD-Quant's way); QDrop's code initialises every observer at once on the FP model, MRECG's with an EMA-MSE over 16 × 256 FP batches (likely to matter at A2/A3).",
    BIAS_ROUNDING_DEVIATION,
  ],
  recipeKeys: {
    ...COMMON_KEYS,
    iters: ignored("RTN optimises nothing"),
    batch: ignored("RTN optimises nothing"),
  },
  run(ctx, raw) {
    const c = parseConfig(config, raw, "rtn");
    return runBaseline(ctx, c, {
      granularity: "block",
      adaround: false,
      lsq: false,
      dropProb: 0,
      inputMixProb: 1,
      noOptimisation: true,
      noLoss: true,
    });
  },
};
