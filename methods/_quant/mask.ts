/**
 * Random 0/1 masks for QDrop (activation drop and input mixing): the runtime's counter-based
 * `randomMask` op, keyed by two 32-bit draws from the run's seeded {@linkcode Random} (one pair
 * per mask). The mask is computed on the tensor's backend (no host generation, no upload), in
 * parallel, and is the same on cpu and webgpu.
 *
 * @module
 */
import { type Random, runOp, type Tensor } from "../../runtime/mod.ts";

/** A tensor of `like`'s shape of 0/1 values, 1 with probability `p`, deterministic given `rng`. */
export function bernoulliMask(like: Tensor, p: number, rng: Random): Tensor {
  return runOp("randomMask", [like], { p, k0: rng.nextU32(), k1: rng.nextU32() });
}
