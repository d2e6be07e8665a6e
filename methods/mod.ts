/**
 * The method registry: every quantization method, by id, in one literal object.
 *
 * @example
 * ```ts
 * import { METHODS } from "./mod.ts";
 * console.log(Object.keys(METHODS)); // ["rtn", "adaround", "brecq", "brecq-joint", "qdrop", "pdquant", "mrecg", "fdda", "multipoint", "mixed-precision", "ocs", "evolq"]
 * ```
 *
 * @module
 */
import { adaround } from "./adaround.ts";
import { brecq } from "./brecq.ts";
import { brecqJoint } from "./brecq_joint.ts";
import { evolq } from "./evolq.ts";
import { fdda } from "./fdda.ts";
import { mrecg } from "./mrecg.ts";
import { mixedPrecision, multipoint, ocs } from "./multipoint.ts";
import { pdquant } from "./pdquant.ts";
import { qdrop } from "./qdrop.ts";
import { rtn } from "./rtn.ts";
import type { Method } from "./_quant/config.ts";
import { configFromRecipe, type RecipeValue } from "./_quant/recipe_keys.ts";

/** Every method, by id: adding a method is its file plus one line here. */
export const METHODS = {
  rtn,
  adaround,
  brecq,
  "brecq-joint": brecqJoint,
  qdrop,
  pdquant,
  mrecg,
  fdda,
  multipoint,
  "mixed-precision": mixedPrecision,
  ocs,
  evolq,
} as const satisfies Record<string, Method>;

/** A registered method id. */
export type MethodId = keyof typeof METHODS;

/** A method registry: ids to entries (`METHODS`, or a test's own). */
export type MethodRegistry = Readonly<Record<string, Method>>;

/** The method of an id, or a RangeError listing the known ids. */
export function methodById(id: string, registry: MethodRegistry = METHODS): Method {
  const m = Object.hasOwn(registry, id) ? registry[id] : undefined;
  if (!m) {
    throw new RangeError(`Unknown method "${id}"; known: ${Object.keys(registry).join(", ")}`);
  }
  return m;
}

/**
 * A method's config from a recipe's resolved config (recipe key names, as the papers' code names
 * its settings), through the method's own `recipeKeys` table; the seed goes in as `seed`.
 */
export function methodConfigFromRecipe(
  method: Method,
  recipe: Readonly<Record<string, RecipeValue>>,
  seed: number,
): Record<string, RecipeValue> {
  return configFromRecipe(method.id, method.recipeKeys, recipe, { seed });
}

export type {
  EpochAccuracy,
  ImageSamples,
  Method,
  MethodContext,
  MethodResult,
  Selection,
} from "./_quant/config.ts";
export { OFFICIAL_CALIBRATION, OFFICIAL_ITERS, parseConfig } from "./_quant/config.ts";
export {
  COMMON_KEYS,
  configFromRecipe,
  describes,
  DROP_KEYS,
  ignored,
  type RecipeKey,
  type RecipeKeys,
  type RecipeValue,
  RECON_KEYS,
  to,
} from "./_quant/recipe_keys.ts";
export {
  checkpointProgress,
  type CheckpointSpec,
  removeCheckpoint,
  type Segment,
} from "./_quant/checkpoint.ts";
export { QuantModel } from "./_quant/quantized_model.ts";
export { type ReconHooks, type ReconOptions, reconstruct } from "./_quant/recon.ts";
export { toQdqOnnx } from "./_quant/qdq.ts";
export { attempt, evaluate } from "./_quant/eval.ts";
