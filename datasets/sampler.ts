/**
 * Seeded calibration sampling. The sample is `Random(seed).sample(N, n)` over the dataset's ids
 * in dataset order (draw order kept), so the same dataset, `n` and seed give the same ids on
 * every machine. Results record the ids and a SHA-256 of them (`ids.join("\n")`, UTF-8).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { Random } from "../runtime/random.ts";

/** Anything with an ordered list of sample ids. */
export interface HasIds {
  readonly ids: readonly string[];
}

/** A drawn calibration sample, as recorded in results. */
export interface CalibrationSample {
  seed: number;
  n: number;
  /** Positions in the dataset, in draw order. */
  indices: number[];
  /** The sampled ids, in draw order. */
  ids: string[];
  /** Hex SHA-256 of `ids.join("\n")`. */
  hash: string;
}

/** Hex SHA-256 of an id list joined by newlines. */
export function hashIds(ids: readonly string[]): string {
  return createHash("sha256").update(ids.join("\n"), "utf8").digest("hex");
}

/**
 * Draws `n` distinct samples without replacement.
 *
 * @example
 * ```ts
 * import { sampleCalibration } from "./sampler.ts";
 * const s = sampleCalibration({ ids: ["a", "b", "c", "d"] }, 2, 7);
 * console.log(s.ids.length, s.hash.length); // 2 64
 * ```
 */
export function sampleCalibration(dataset: HasIds, n: number, seed: number): CalibrationSample {
  const all = dataset.ids;
  if (!(Number.isInteger(n) && n > 0)) {
    throw new RangeError(`Calibration size must be a positive integer, got ${n}`);
  }
  if (n > all.length) {
    throw new RangeError(`Cannot draw ${n} calibration samples from ${all.length}`);
  }
  if (!Number.isInteger(seed)) throw new RangeError(`Seed must be an integer, got ${seed}`);
  const indices = new Random(seed).sample(all.length, n);
  const ids = indices.map((i) => all[i]);
  return { seed, n, indices, ids, hash: hashIds(ids) };
}
