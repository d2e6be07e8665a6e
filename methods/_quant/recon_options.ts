/**
 * The types of the reconstruction loop (`recon.ts`): its options with the official defaults, the
 * hooks methods add to it and what they see, and the per-unit report. Kept apart so that the
 * loop's parts (`unit_inputs.ts`, `recon_unit.ts`, `checkpoint.ts`) import them in one direction.
 *
 * @module
 */
import type { Tensor } from "../../runtime/mod.ts";
import type { Graph, Unit } from "../../models/graph.ts";
import type { QuantModel } from "./quantized_model.ts";

/** Options of `reconstruct`. Defaults are the official ones. */
export interface ReconOptions {
  /** Iterations per unit (20000). 0: initialise and round to nearest only (RTN). */
  iters: number;
  /** Samples per iteration (32). */
  batch: number;
  /** Optimise AdaRound's `V` (true) or keep nearest rounding (false). */
  adaround: boolean;
  /** Train the activation step sizes (LSQ) of the unit's quantizers. */
  lsq: boolean;
  /** Adam lr of `V` (1e-3, PyTorch's default as in the official code). */
  weightLr: number;
  /** Adam lr of the activation steps (4e-5), cosine to 0 over `iters`. */
  actLr: number;
  /** Rounding regularizer weight λ (0.01 ResNet/RegNet, 0.1 MobileNetV2). */
  lambda: number;
  betaStart: number;
  betaEnd: number;
  /** Fraction of iterations without the regularizer, with β fixed at `betaStart` (0.2). */
  warmup: number;
  /** QDrop: probability that an activation element inside the unit stays in float (0.5; 0 = BRECQ). */
  dropProb: number;
  /**
   * QDrop: probability that an input element takes the quantized value, else the FP one (0.5;
   * 1 = the quantized input alone; 0 = the FP input alone, as BRECQ's activation stage).
   */
  inputMixProb: number;
  recLoss: "official" | "per-sample";
  /**
   * Exponent p of the reconstruction loss `|pred − tgt|^p` (absent: 2, the squared error;
   * BRECQ's activation stage: 2.4).
   */
  lossP?: number;
  /**
   * One of BRECQ's two stages instead of the joint optimisation (absent):
   * - `"weights"`: activation quantizers stay off and uninitialised (FP activations); only the
   *   rounding `V` is optimised (`lsq` is ignored);
   * - `"acts"`: weights stay as they are (frozen by an earlier stage); the unit's activation
   *   quantizers, initialised beforehand, are switched on and only their steps are optimised.
   */
  stage?: "weights" | "acts";
  /** Units (by name) that are not optimised: nearest rounding, observer-initialised steps. */
  skipUnits?: string[];
  /**
   * Where activation ranges are observed: absent, unit by unit on the quantized model's stream as
   * each unit is reached (PD-Quant's way); `"fp-model"`, every observer at once on the FP model
   * before the first unit (QDrop's `enable_calibration_woquantization`, MQBench's for MRECG).
   */
  actInit?: "fp-model";
  /** Samples the activation observers see (the first min(256, N)). */
  actInitSamples: number;
  /** Observer batch (256: one batch; the EMA applies across batches). */
  actInitBatch: number;
  /** Rows per forward when caching (memory only; no effect on results). */
  chunk: number;
  /**
   * Samples for the before/after loss report; 0 without iterations (RTN) computes no loss and no
   * FP targets (the report's losses are NaN).
   */
  evalSamples: number;
  logEvery: number;
  seed: number;
}

/** Official defaults (the `paper` budget). */
export const RECON_DEFAULTS: ReconOptions = {
  iters: 20000,
  batch: 32,
  adaround: true,
  lsq: true,
  weightLr: 1e-3,
  actLr: 4e-5,
  lambda: 0.01,
  betaStart: 20,
  betaEnd: 2,
  warmup: 0.2,
  dropProb: 0,
  inputMixProb: 1,
  recLoss: "official",
  actInitSamples: 256,
  actInitBatch: 256,
  chunk: 32,
  evalSamples: 256,
  logEvery: 500,
  seed: 1005,
};

/** What a hook sees of the unit being reconstructed. */
export interface UnitContext {
  unit: Unit;
  index: number;
  model: QuantModel;
  graph: Graph;
  /** Cached inputs `[N, …]` of the unit in the quantized model. */
  quantInputs: Record<string, Tensor>;
  /** Cached FP inputs `[N, …]` (uncorrected). */
  fpInputs: Record<string, Tensor>;
  /** Calibration images `[N, …]`. */
  images: Tensor;
  options: ReconOptions;
}

/** What an extra-loss hook sees at one iteration (all tensors live until the step ends). */
export interface IterationContext extends Omit<UnitContext, "quantInputs" | "fpInputs"> {
  iter: number;
  /** Batch indices into the calibration set (i32 `[B]`). */
  indices: Tensor;
  /** The batch's pure quantized inputs. */
  quantInputs: Record<string, Tensor>;
  /** The batch's FP inputs (corrected, if a correction hook ran). */
  fpInputs: Record<string, Tensor>;
  /** The unit's output on the (mixed) input, with activation drop, as the local loss sees it. */
  output: Tensor;
  /** The FP target of the batch. */
  target: Tensor;
  /** Runs the unit (current soft weights and steps) on given inputs, optionally with drop. */
  runUnit(inputs: Record<string, Tensor>, drop?: boolean): Tensor;
  /**
   * Runs the rest of the network from the unit's output to the graph's first output (later
   * units unquantized; other live values from the quantized stream), with gradients.
   */
  runRest(unitOutput: Tensor): Tensor;
  /** FP logits of the batch's calibration images (computed once for the set, then gathered). */
  fpLogits(): Tensor;
}

/** Hooks that methods add to the loop. */
export interface ReconHooks {
  /** Replaces the FP inputs of a unit (e.g. distribution correction); returns `[N, …]` tensors. */
  correctFpInputs?(ctx: UnitContext): Promise<Record<string, Tensor>> | Record<string, Tensor>;
  /** An extra loss term added to the total at each iteration (return null for none). */
  extraLoss?(ctx: IterationContext): Tensor | null;
}

/** The per-unit report. */
export interface UnitReport {
  name: string;
  kind: Unit["kind"];
  layers: string[];
  acts: string[];
  iters: number;
  /** Reconstruction loss on the first `evalSamples` samples before and after optimisation. */
  lossBefore: number;
  lossAfter: number;
  seconds: number;
}
