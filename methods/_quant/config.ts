/**
 * Config pieces shared by the reconstruction baselines: bits, observers, iterations, the
 * rounding λ per model, and the method interface (what a method's registry entry carries).
 *
 * A method's defaults are the official code's (20,000 iterations per unit, `iters_w` /
 * `max_count`); budgets (smoke, quick, paper, custom) are a property of a run, not of a method,
 * and live in one table with the runs (`papers/cells.ts`), which always passes `iters`.
 *
 * @module
 */
import { z } from "zod";
import type { Graph } from "../../models/graph.ts";
import type { FoldedBatchNorm } from "../../models/fold_bn.ts";
import type { Tensor } from "../../runtime/mod.ts";
import { Bits } from "./scheme.ts";
import type { QuantModel } from "./quantized_model.ts";
import type { UnitReport } from "./recon.ts";
import type { CheckpointSpec } from "./checkpoint.ts";
import type { RecipeKeys } from "./recipe_keys.ts";
import type { Accuracy } from "./eval.ts";

/** Iterations per unit in the official codes (`iters_w` / `max_count`). */
export const OFFICIAL_ITERS = 20000;
/** Calibration images in the official codes (`num_samples`). */
export const OFFICIAL_CALIBRATION = 1024;

/** Fields every baseline's config has, with the official defaults. */
export const commonFields = {
  wBits: Bits.default(4),
  /** Activation bits; 32 leaves activations in float. */
  aBits: z.union([Bits, z.literal(32)]).default(4),
  /** Calibration images the run asked for (recorded; the calibration tensor decides). */
  calibSize: z.number().int().positive().optional(),
  seed: z.number().int().default(1005),
  /** First/last layer weights and the activation feeding the last layer at 8 bits. */
  headStem8bit: z.boolean().default(true),
  weightObserver: z.enum(["mse", "minmax"]).default("mse"),
  actObserver: z.enum(["mse", "minmax", "percentile", "ema-minmax"]).default("mse"),
  /** The L_p exponent of the MSE observers (2.4). */
  p: z.number().positive().default(2.4),
  /**
   * The bias of a layer whose input and weight are quantized: `int32` on the accumulator grid
   * `s_x · s_w[c]`, as the deployed integer model (onnxruntime's fused kernels) adds it; `float`
   * unrounded, as the official codes' fake-quant model does (`quantized_model.ts`).
   */
  biasRounding: z.enum(["int32", "float"]).default("int32"),
  /** Rows per forward while caching (memory only). */
  chunk: z.number().int().positive().default(32),
};

/** Fields of the reconstructing baselines. */
export const reconFields = {
  ...commonFields,
  /** Iterations per unit (the official 20,000 unless the run's budget says otherwise). */
  iters: z.number().int().nonnegative().default(OFFICIAL_ITERS),
  batch: z.number().int().positive().default(32),
  /** Rounding regularizer λ (default: 0.1 for MobileNetV2-like models, else 0.01). */
  lambda: z.number().positive().optional(),
  betaStart: z.number().positive().default(20),
  betaEnd: z.number().positive().default(2),
  warmup: z.number().min(0).max(1).default(0.2),
  weightLr: z.number().positive().default(1e-3),
  actLr: z.number().positive().default(4e-5),
  recLoss: z.enum(["official", "per-sample"]).default("official"),
  logEvery: z.number().int().positive().default(500),
};

/** The official rounding λ for a model: 0.1 for MobileNetV2, 0.01 for ResNet / RegNet / others. */
export function defaultLambda(modelName: string): number {
  return /mobilenet|mbv2/i.test(modelName) ? 0.1 : 0.01;
}

/** Validates a config, throwing a TypeError that names each failing path. */
export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown, id: string): z.output<S> {
  const r = schema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) =>
    `  ${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`
  );
  throw new TypeError(`Invalid ${id} config:\n${lines.join("\n")}`);
}

/** What a method gets. */
export interface MethodContext {
  /** The FP graph (BN folded). */
  graph: Graph;
  /** The BatchNorm layers folded into `graph`, by folded layer name (PD-Quant's DC uses them). */
  bn?: Map<string, FoldedBatchNorm>;
  /** Calibration images `[N, …]` for the graph's first input. */
  calib: Tensor;
  /** The calibration images' class labels, where the suite knows them (FDDA needs them). */
  calibLabels?: ArrayLike<number>;
  /**
   * Evaluates a model on the run's evaluation images (the same images and limit as the run's
   * final evaluation), for methods that select among epochs (FDDA's official protocol).
   */
  evaluate?: (model: QuantModel) => Promise<Accuracy>;
  /** Registry name or file name, used for per-model defaults (λ). */
  modelName: string;
  log?: (msg: string) => void;
  /**
   * Keep a checkpoint after each reconstructed unit and continue from one (the key must name the
   * whole computation: method config, model, calibration sample); the caller removes it once
   * the result is stored.
   */
  checkpoint?: CheckpointSpec;
}

/** A model's accuracy after one training epoch (0-based). */
export interface EpochAccuracy extends Accuracy {
  epoch: number;
}

/**
 * Model selection of an epoch-based method: the official protocol (the best test accuracy over
 * the evaluated epochs, i.e. selection on the test set) beside the test-free one (the returned
 * model, the last epoch).
 */
export interface Selection {
  /** Accuracy after each evaluated epoch, in order. */
  perEpoch: EpochAccuracy[];
  /** The official protocol's pick (absent when no epoch was evaluated). */
  official?: EpochAccuracy & { rule: string };
  /** The returned model's epoch (the run's own evaluation measures it). */
  testFree: { epoch: number; rule: string };
}

/**
 * A few images a method made, for the report (FDDA: generated images per class at the end of
 * training); the runner stores them beside the record, never in it.
 */
export interface ImageSamples {
  /** `[N, C, H, W]` values in the model's input space (after its normalisation). */
  pixels: Float32Array;
  shape: [number, number, number, number];
  /** The class of each image. */
  labels: number[];
  /** What the images are, in words. */
  note: string;
}

/** What a method returns. */
export interface MethodResult {
  model: QuantModel;
  units: UnitReport[];
  /** The fully resolved config (budget expanded, per-model defaults filled). */
  config: Record<string, unknown>;
  /** Epoch selection (FDDA): both protocols, recorded beside the run's own evaluation. */
  selection?: Selection;
  /** Images the method made (FDDA's synthetic calibration images), shown in the report. */
  samples?: ImageSamples;
}

/**
 * A method's registry entry: everything the rest of the harness needs to know about it.
 */
export interface Method<S extends z.ZodType = z.ZodType> {
  id: string;
  /** The paper (and where there is one, the official code) the method reproduces. */
  paper: { title: string; authors: string; venue: string; url: string; code?: string };
  /** Its config schema, with the official defaults. */
  config: S;
  /**
   * Every difference from the paper and its official code, as shown in reports (data, one
   * sentence or short paragraph each).
   */
  deviations: readonly string[];
  /** The recipe keys it accepts and where each goes in `config` (see `recipe_keys.ts`). */
  recipeKeys: RecipeKeys;
  /**
   * How the calibration sample is drawn where the method needs more than a seeded random
   * sample: `perClass` images of each class at most (FDDA: one real image per class).
   */
  calibration?: { perClass: number };
  run(ctx: MethodContext, config?: z.input<S>): Promise<MethodResult>;
}
