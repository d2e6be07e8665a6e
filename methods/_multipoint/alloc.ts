/**
 * Budgeted allocation, greedy by the error reduction per bit:
 *
 * - {@linkcode allocatePoints}: multipoint's points per output channel within one layer. Every
 *   channel starts with one point; each further point (all points of a layer cost the same, `b`
 *   bits per weight of the channel) goes to the channel whose output error falls most by it,
 *   until the layer's budget is spent or no point reduces an error. `random` gives the extra
 *   points to channels drawn at random instead (the paper's ablation).
 * - {@linkcode allocateBits}: per-layer mixed precision: every layer starts at the lowest
 *   bit-width; each further bit of a layer (costing its number of weights) goes to the layer
 *   with the largest error reduction per bit that still fits the budget.
 *
 * @module
 */
import type { Random } from "../../runtime/mod.ts";

/** What {@linkcode allocatePoints} decided. */
export interface PointAllocation {
  /** Points per channel (≥ 1). */
  points: number[];
  /** The extra points the budget allowed (beyond one per channel). */
  allowed: number;
}

/**
 * Points per channel for `channels` channels, each at most `maxPoints`, in all at most
 * `totalPoints` (≥ `channels`). `error(c, k)` is channel `c`'s output error with its first `k`
 * points (k ≥ 1, nested: the greedy points are fixed in order). With `rng`, extra points go to
 * channels drawn uniformly among those below `maxPoints` (the random-allocation ablation).
 */
export function allocatePoints(
  channels: number,
  maxPoints: number,
  totalPoints: number,
  error: (c: number, k: number) => number,
  rng?: Random,
): PointAllocation {
  if (totalPoints < channels) {
    throw new RangeError(
      `allocatePoints: ${totalPoints} points cannot give ${channels} channels one`,
    );
  }
  const points = new Array<number>(channels).fill(1);
  const allowed = Math.min(totalPoints, channels * maxPoints) - channels;
  if (rng) {
    for (let n = 0; n < allowed; n++) {
      const open = points.flatMap((k, c) => (k < maxPoints ? [c] : []));
      points[open[rng.int(open.length)]]++;
    }
    return { points, allowed };
  }
  const cur = Array.from({ length: channels }, (_, c) => error(c, 1));
  const next = Array.from(
    { length: channels },
    (_, c) => (maxPoints > 1 ? error(c, 2) : Infinity),
  );
  for (let n = 0; n < allowed; n++) {
    let best = -1, gain = 0;
    for (let c = 0; c < channels; c++) {
      if (points[c] >= maxPoints) continue;
      const g = cur[c] - next[c];
      if (g > gain) {
        gain = g;
        best = c;
      }
    }
    if (best < 0) break;
    points[best]++;
    cur[best] = next[best];
    next[best] = points[best] < maxPoints ? error(best, points[best] + 1) : Infinity;
  }
  return { points, allowed };
}

/** One layer of {@linkcode allocateBits}. */
export interface BitsLayer {
  /** Its weights (the cost of one more bit). */
  size: number;
  /** Its (normalised) output error at `bits`. */
  error(bits: number): number;
}

/**
 * Bits per layer from `minBits…maxBits` with `Σ bitsₗ·sizeₗ ≤ budget·Σ sizeₗ` (`budget` in
 * average bits per weight, at least `minBits`): greedy by error reduction per bit.
 */
export function allocateBits(
  layers: readonly BitsLayer[],
  minBits: number,
  maxBits: number,
  budget: number,
): number[] {
  const total = layers.reduce((s, l) => s + l.size, 0);
  let left = budget * total - minBits * total;
  if (left < -1e-9 * total) {
    throw new RangeError(`allocateBits: a budget of ${budget} bits is below ${minBits}`);
  }
  const bits = layers.map(() => minBits);
  const cur = layers.map((l) => l.error(minBits));
  const next = layers.map((l) => (minBits < maxBits ? l.error(minBits + 1) : Infinity));
  for (;;) {
    let best = -1, rate = 0;
    layers.forEach((l, i) => {
      if (bits[i] >= maxBits || l.size > left + 1e-9 * total) return;
      const r = (cur[i] - next[i]) / l.size;
      if (r > rate) {
        rate = r;
        best = i;
      }
    });
    if (best < 0) break;
    bits[best]++;
    left -= layers[best].size;
    cur[best] = next[best];
    next[best] = bits[best] < maxBits ? layers[best].error(bits[best] + 1) : Infinity;
  }
  return bits;
}
