/**
 * Classification metrics from logits.
 *
 * **Ties.** The rank of the true class `y` is the number of classes `j` with `l_j > l_y`, plus
 * the number with `l_j = l_y` and `j < y`: ties go to the lower class index, as `argmax` does
 * (NumPy, PyTorch on CPU), and the count is the same whatever sort the caller would have used.
 * A prediction is top-k correct when that rank is below k. A NaN true-class logit is never
 * correct; NaN logits of other classes never outrank it.
 *
 * @module
 */

/** Counts and rates of top-k accuracy. */
export interface TopKResult {
  n: number;
  correct: Record<number, number>;
  /** `correct[k] / n`, in [0, 1]. */
  accuracy: Record<number, number>;
}

/** The rank of class `label` in row `row` of `logits` (`[n, numClasses]`), see the module doc. */
export function rankOfLabel(
  logits: Float32Array,
  numClasses: number,
  row: number,
  label: number,
): number {
  const base = row * numClasses;
  const v = logits[base + label];
  if (Number.isNaN(v)) return numClasses;
  let rank = 0;
  for (let j = 0; j < numClasses; j++) {
    const w = logits[base + j];
    if (w > v || (w === v && j < label)) rank++;
  }
  return rank;
}

/**
 * Top-k accuracy of `logits` (`[n, numClasses]`, row-major) against `labels`.
 *
 * @example
 * ```ts
 * import { topK } from "./metrics.ts";
 * const logits = Float32Array.from([0.1, 0.9, 0.0, 0.5, 0.2, 0.3]);
 * const r = topK(logits, Int32Array.from([1, 2]), 3, [1, 2]);
 * console.log(r.accuracy); // { 1: 0.5, 2: 1 }
 * ```
 */
export function topK(
  logits: Float32Array,
  labels: ArrayLike<number>,
  numClasses: number,
  ks: readonly number[] = [1, 5],
): TopKResult {
  const n = labels.length;
  if (logits.length !== n * numClasses) {
    throw new RangeError(
      `Cannot score ${logits.length} logits against ${n} labels of ${numClasses} classes`,
    );
  }
  const correct: Record<number, number> = {};
  for (const k of ks) correct[k] = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!(Number.isInteger(y) && y >= 0 && y < numClasses)) {
      throw new RangeError(`Label ${y} of row ${i} is outside 0–${numClasses - 1}`);
    }
    const r = rankOfLabel(logits, numClasses, i, y);
    for (const k of ks) if (r < k) correct[k]++;
  }
  const accuracy: Record<number, number> = {};
  for (const k of ks) accuracy[k] = n > 0 ? correct[k] / n : NaN;
  return { n, correct, accuracy };
}

/**
 * Accumulates top-1/top-5 over batches: the one top-k counter of the harness (runtime
 * evaluation, onnxruntime evaluation, the `eval` task).
 */
export class TopKAccumulator {
  /** The class count of `add`'s logits rows (unused by `addTopIndices`). */
  readonly numClasses: number | undefined;
  readonly ks: readonly number[];
  #n = 0;
  #correct: Record<number, number> = {};

  constructor(numClasses?: number, ks: readonly number[] = [1, 5]) {
    this.numClasses = numClasses;
    this.ks = ks;
    for (const k of ks) this.#correct[k] = 0;
  }

  /** Adds one batch. */
  add(logits: Float32Array, labels: ArrayLike<number>): void {
    if (this.numClasses === undefined) {
      throw new TypeError("TopKAccumulator.add needs the class count given to the constructor");
    }
    const r = topK(logits, labels, this.numClasses, this.ks);
    this.#n += r.n;
    for (const k of this.ks) this.#correct[k] += r.correct[k];
  }

  /**
   * Adds one batch given, for each row, its top-`k` class indices best first (as a device-side
   * top-k returns them, ties to the lower index): a label outside its row's list ranks `k`.
   */
  addTopIndices(indices: ArrayLike<number>, k: number, labels: ArrayLike<number>): void {
    if (indices.length !== labels.length * k) {
      throw new RangeError(
        `Cannot score ${indices.length} indices as top-${k} of ${labels.length} rows`,
      );
    }
    for (let i = 0; i < labels.length; i++) {
      let rank = k;
      for (let j = 0; j < k; j++) {
        if (indices[i * k + j] === labels[i]) {
          rank = j;
          break;
        }
      }
      for (const kk of this.ks) if (rank < kk) this.#correct[kk]++;
    }
    this.#n += labels.length;
  }

  /** The totals so far. */
  result(): TopKResult {
    const accuracy: Record<number, number> = {};
    for (const k of this.ks) accuracy[k] = this.#n > 0 ? this.#correct[k] / this.#n : NaN;
    return { n: this.#n, correct: { ...this.#correct }, accuracy };
  }
}

/** Top-1 and top-5 of a result in percent (0 when no image was scored). */
export function percentOf(r: TopKResult): { top1: number; top5: number } {
  const n = Math.max(r.n, 1);
  return { top1: (100 * (r.correct[1] ?? 0)) / n, top5: (100 * (r.correct[5] ?? 0)) / n };
}
