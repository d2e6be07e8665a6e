/**
 * The shared driver of the baselines (RTN, AdaRound, BRECQ, QDrop, and the methods built on
 * them): place quantizers, initialise them, reconstruct over a unit list with the method's
 * switches, in one joint stage or in official BRECQ's two ({@linkcode TwoStages}).
 *
 * @module
 */
import type { Unit } from "../../models/graph.ts";
import { removeCheckpoint } from "./checkpoint.ts";
import { defaultLambda, type MethodContext, type MethodResult, OFFICIAL_ITERS } from "./config.ts";
import type { ObserverKind, WeightObserverKind } from "./observers.ts";
import { placeQuantizers } from "./placement.ts";
import { QuantModel } from "./quantized_model.ts";
import {
  initActQuantizers,
  RECON_DEFAULTS,
  type ReconHooks,
  type ReconOptions,
  reconstruct,
  type UnitReport,
} from "./recon.ts";
import { blockUnits, layerUnits } from "./units.ts";

/** The parsed fields the driver reads. */
export interface BaselineConfig {
  wBits: number;
  aBits: number;
  /** Quantized layers' biases on the int32 grid (as integer kernels use them), or in float. */
  biasRounding?: "int32" | "float";
  calibSize?: number;
  seed: number;
  headStem8bit: boolean;
  weightObserver: WeightObserverKind;
  actObserver: ObserverKind;
  p: number;
  chunk: number;
  iters?: number;
  batch?: number;
  lambda?: number;
  betaStart?: number;
  betaEnd?: number;
  warmup?: number;
  weightLr?: number;
  actLr?: number;
  recLoss?: "official" | "per-sample";
  logEvery?: number;
}

/** The method's fixed switches. */
export interface BaselineMode {
  granularity: "layer" | "block";
  adaround: boolean;
  lsq: boolean;
  dropProb: number;
  inputMixProb: number;
  /** Force 0 iterations (RTN). */
  noOptimisation?: boolean;
  /** Compute no reconstruction loss (RTN: nothing is reconstructed). */
  noLoss?: boolean;
  /** Custom units (MRECG merges). */
  units?: (ctx: MethodContext, units: Unit[]) => Unit[];
  hooks?: ReconHooks;
  /** Which activations `headStem8bit` puts at 8 bits (`placement.ts`; default `"last-input"`). */
  headStemActs?: "last-input" | "brecq";
  /** Official BRECQ's two stages instead of one joint optimisation (no hooks). */
  twoStages?: TwoStages;
  /** Activation ranges observed on the FP model at once (`ReconOptions.actInit`). */
  actInit?: "fp-model";
}

/**
 * Official BRECQ's protocol (yhhhli/BRECQ `main_imagenet.py`): (1) every unit's rounding with
 * FP activations (`act_quant=False`); (2) every activation quantizer initialised at once on the
 * quantized model from the first `initSamples` calibration images; (3) every unit's activation
 * steps alone (`act_quant=True`) on the FP model's unit inputs, with the loss `|ŷ − y|^lossP`.
 * With `headStem8bit` the first layer's unit is in neither stage (`ignore_reconstruction`).
 */
export interface TwoStages {
  /** Activation-stage iterations per unit (`--iters_a`). */
  iters: number;
  /** Activation-stage Adam lr of the steps (`--lr`), cosine to 0. */
  lr: number;
  /** Activation-stage loss exponent (`--p`). */
  lossP: number;
  /** Images the activation observers see in step 2 (`cali_data[:64]`). */
  initSamples: number;
}

/** Runs a baseline. */
export async function runBaseline(
  ctx: MethodContext,
  c: BaselineConfig,
  mode: BaselineMode,
): Promise<MethodResult> {
  const log = ctx.log ?? (() => {});
  const placement = placeQuantizers(ctx.graph, {
    wBits: c.wBits,
    aBits: c.aBits,
    headStem8bit: c.headStem8bit,
    ...(mode.headStemActs ? { headStemActs: mode.headStemActs } : {}),
  });
  const model = await QuantModel.create(ctx.graph, placement, {
    // BRECQ's shrink search replaces the cheapest init below.
    weightObserver: c.weightObserver === "shrink" ? "minmax" : c.weightObserver,
    actObserver: c.actObserver,
    p: c.p,
    biasRounding: c.biasRounding ?? "int32",
  });
  if (c.weightObserver === "shrink") await model.setWeightQParams("shrink");
  const iters = mode.noOptimisation ? 0 : c.iters ?? OFFICIAL_ITERS;
  const lambda = c.lambda ?? defaultLambda(ctx.modelName);
  const o: ReconOptions = {
    ...RECON_DEFAULTS,
    iters,
    batch: c.batch ?? RECON_DEFAULTS.batch,
    adaround: mode.adaround,
    lsq: mode.lsq && c.aBits < 32,
    weightLr: c.weightLr ?? RECON_DEFAULTS.weightLr,
    actLr: c.actLr ?? RECON_DEFAULTS.actLr,
    lambda,
    betaStart: c.betaStart ?? RECON_DEFAULTS.betaStart,
    betaEnd: c.betaEnd ?? RECON_DEFAULTS.betaEnd,
    warmup: c.warmup ?? RECON_DEFAULTS.warmup,
    dropProb: mode.dropProb,
    inputMixProb: mode.inputMixProb,
    ...(mode.actInit ? { actInit: mode.actInit } : {}),
    recLoss: c.recLoss ?? RECON_DEFAULTS.recLoss,
    ...(mode.noLoss && iters === 0 ? { evalSamples: 0 } : {}),
    chunk: c.chunk,
    logEvery: c.logEvery ?? RECON_DEFAULTS.logEvery,
    seed: c.seed,
  };
  let units = mode.granularity === "layer" ? layerUnits(ctx.graph) : blockUnits(ctx.graph);
  if (mode.units) units = mode.units(ctx, units);
  log(
    `${units.length} units, ${placement.weights.length} weight / ${placement.acts.length} activation quantizers, ` +
      `${iters} iterations per unit, N = ${ctx.calib.shape[0]}`,
  );
  const staged = mode.twoStages && stageOptions(model, units, o, c, mode.twoStages);
  const reports = staged
    ? await runTwoStages(model, ctx, units, staged, log)
    : await reconstruct(model, ctx.calib, units, o, mode.hooks, log, ctx.checkpoint);
  model.setQuantState(true, true);
  return {
    model,
    units: reports,
    config: {
      ...c,
      iters,
      lambda,
      calibSize: ctx.calib.shape[0],
      recon: staged ? staged.weights : o,
      ...(staged ? { actRecon: staged.acts } : {}),
      mode: { ...mode, hooks: undefined, units: undefined },
    },
  };
}

/** The loop options of BRECQ's weight stage and activation stage (null: no activation stage). */
function stageOptions(
  model: QuantModel,
  units: Unit[],
  o: ReconOptions,
  c: BaselineConfig,
  t: TwoStages,
): { weights: ReconOptions; acts: ReconOptions | null } {
  const first = model.placement.weights.find((w) => w.role === "first")?.node;
  const skipUnits = c.headStem8bit
    ? units.filter((u) => u.layers.length === 1 && u.layers[0] === first).map((u) => u.name)
    : [];
  const weights: ReconOptions = { ...o, stage: "weights", lsq: false, skipUnits };
  const acts: ReconOptions | null = o.lsq && model.acts.size > 0
    ? {
      ...o,
      stage: "acts",
      adaround: false,
      iters: t.iters,
      actLr: t.lr,
      lossP: t.lossP,
      inputMixProb: 0,
      actInitSamples: t.initSamples,
      actInitBatch: t.initSamples,
      skipUnits,
    }
    : null;
  return { weights, acts };
}

/**
 * BRECQ's stages in order. The weight stage keeps its own checkpoint until the activation stage
 * is done, so that a run resumed in the activation stage finds the weight stage finished.
 */
async function runTwoStages(
  model: QuantModel,
  ctx: MethodContext,
  units: Unit[],
  staged: { weights: ReconOptions; acts: ReconOptions | null },
  log: (msg: string) => void,
): Promise<UnitReport[]> {
  const ck = ctx.checkpoint;
  const ckWeights = ck && { ...ck, key: `${ck.key} (BRECQ weight stage)` };
  log("BRECQ stage 1: rounding, activations in float");
  const reports = await reconstruct(model, ctx.calib, units, staged.weights, {}, log, ckWeights);
  if (staged.acts) {
    model.setQuantState(true, false);
    const input = ctx.graph.inputs[0].name;
    const o = staged.acts;
    await initActQuantizers(model, ctx.graph.nodes, [...model.acts.values()], {
      [input]: ctx.calib,
    }, o);
    log(`BRECQ stage 2: activation steps (initialised on ${o.actInitSamples} images)`);
    const acts = await reconstruct(model, ctx.calib, units, o, {}, log, ck);
    reports.push(...acts.map((r) => ({ ...r, name: `${r.name}:acts` })));
  }
  if (ckWeights) await removeCheckpoint(ckWeights);
  return reports;
}
