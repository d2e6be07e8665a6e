/**
 * The shared driver of the four baselines (RTN, AdaRound, BRECQ, QDrop): place quantizers,
 * initialise them, reconstruct over a unit list with the method's switches.
 *
 * @module
 */
import type { Unit } from "../../models/graph.ts";
import { defaultLambda, type MethodContext, type MethodResult, OFFICIAL_ITERS } from "./config.ts";
import { placeQuantizers } from "./placement.ts";
import { QuantModel } from "./quantized_model.ts";
import { RECON_DEFAULTS, type ReconHooks, type ReconOptions, reconstruct } from "./recon.ts";
import { blockUnits, layerUnits } from "./units.ts";

/** The parsed fields the driver reads. */
export interface BaselineConfig {
  wBits: number;
  aBits: number;
  calibSize?: number;
  seed: number;
  headStem8bit: boolean;
  weightObserver: "mse" | "minmax";
  actObserver: "mse" | "minmax" | "percentile" | "ema-minmax";
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
  /** Custom units (MRECG merges). */
  units?: (ctx: MethodContext, units: Unit[]) => Unit[];
  hooks?: ReconHooks;
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
  });
  const model = await QuantModel.create(ctx.graph, placement, {
    weightObserver: c.weightObserver,
    actObserver: c.actObserver,
    p: c.p,
  });
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
    recLoss: c.recLoss ?? RECON_DEFAULTS.recLoss,
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
  const reports = await reconstruct(model, ctx.calib, units, o, mode.hooks, log, ctx.checkpoint);
  model.setQuantState(true, true);
  return {
    model,
    units: reports,
    config: {
      ...c,
      iters,
      lambda,
      calibSize: ctx.calib.shape[0],
      recon: o,
      mode: { ...mode, hooks: undefined, units: undefined },
    },
  };
}
