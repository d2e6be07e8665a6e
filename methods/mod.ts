/**
 * The method registry: every quantization method, by id, in one literal object.
 *
 * @example
 * ```ts
 * import { METHODS } from "./mod.ts";
 * console.log(Object.keys(METHODS)); // ["rtn", "adaround", "brecq", "qdrop", "pdquant", "mrecg"]
 * ```
 *
 * @module
 */
import { adaround } from "./adaround.ts";
import { brecq } from "./brecq.ts";
import { mrecg } from "./mrecg.ts";
import { pdquant } from "./pdquant.ts";
import { qdrop } from "./qdrop.ts";
import { rtn } from "./rtn.ts";

/** Every method, by id. */
export const METHODS = {
  rtn,
  adaround,
  brecq,
  qdrop,
  pdquant,
  mrecg,
} as const;

/** A registered method id. */
export type MethodId = keyof typeof METHODS;

/** The method of an id, or a RangeError listing the known ids. */
export function methodById(id: string): (typeof METHODS)[MethodId] {
  const m = (METHODS as Record<string, (typeof METHODS)[MethodId]>)[id];
  if (!m) throw new RangeError(`Unknown method "${id}"; known: ${Object.keys(METHODS).join(", ")}`);
  return m;
}

export type { Method, MethodContext, MethodResult } from "./_quant/config.ts";
export { BUDGETS } from "./_quant/config.ts";
export { QuantModel } from "./_quant/quantized_model.ts";
export { type ReconHooks, type ReconOptions, reconstruct } from "./_quant/recon.ts";
export { toQdqOnnx } from "./_quant/qdq.ts";
export { attempt, evaluate } from "./_quant/eval.ts";
