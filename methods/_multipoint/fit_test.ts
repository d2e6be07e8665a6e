import { assert, assertEquals } from "../../runtime/assert.ts";
import { Random } from "../../runtime/mod.ts";
import { allocateBits, allocatePoints } from "./alloc.ts";
import { fitPoint, greedyPoints, gridLevels, pointsError, reconstruct } from "./fit.ts";
import { ocsChannels, splitRow } from "./ocs.ts";

/** A random symmetric positive semi-definite `K × K` matrix `XᵀX` of `n` random rows. */
function gram(K: number, n: number, seed: number): Float64Array {
  const r = new Random(seed), H = new Float64Array(K * K);
  for (let s = 0; s < n; s++) {
    const x = Array.from({ length: K }, () => r.normal());
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) H[i * K + j] += x[i] * x[j];
  }
  return H;
}

Deno.test("the grid of b bits is symmetric {−L…L}", () => {
  assertEquals([2, 3, 4, 8].map(gridLevels), [1, 3, 7, 127]);
});

Deno.test("a vector on the grid is reproduced exactly by one point", () => {
  const L = gridLevels(4);
  for (
    const [a0, q0] of [[0.037, [1, -2, 3, 0, -3]], [1.5, [7, -7, 2, 5]], [0.25, [
      1,
      0,
      -1,
    ]]] as const
  ) {
    const w = q0.map((q) => Math.fround(a0 * q));
    const p = fitPoint(w, L);
    assertEquals(Array.from(p.q), [...q0]);
    assertEquals(Array.from(reconstruct([p], w.length)), w);
    assertEquals(greedyPoints(w, L, 4).length, 1, "exact after one point: no more points");
  }
});

Deno.test("the greedy error never increases with the points, in either metric", () => {
  const r = new Random(3);
  for (const bits of [2, 3, 4]) {
    const L = gridLevels(bits);
    for (let t = 0; t < 20; t++) {
      const K = 9 + t;
      const w = Array.from({ length: K }, () => r.normal() * (t % 3 === 0 ? 5 : 1));
      w[t % K] *= 6; // an outlier
      const pts = greedyPoints(w, L, 6);
      let prev = pointsError(w, pts, 0);
      for (let k = 1; k <= pts.length; k++) {
        const e = pointsError(w, pts, k);
        assert(e <= prev * (1 + 1e-6) + 1e-12, `b=${bits} K=${K} k=${k}: ${e} > ${prev}`);
        prev = e;
      }
      // Two points strictly beat one on a vector off the grid.
      assert(pointsError(w, pts, 2) < pointsError(w, pts, 1));
      const H = gram(K, 3 * K, t);
      const ptsH = greedyPoints(w, L, 6, H);
      let prevH = pointsError(w, ptsH, 0, H);
      for (let k = 1; k <= ptsH.length; k++) {
        const e = pointsError(w, ptsH, k, H);
        assert(e <= prevH * (1 + 1e-6) + 1e-9, `output metric b=${bits} k=${k}: ${e} > ${prevH}`);
        prevH = e;
      }
    }
  }
});

Deno.test("the error falls geometrically with the points (4-bit: ×10 or more per point)", () => {
  const r = new Random(11);
  const w = Array.from({ length: 64 }, () => r.normal());
  const pts = greedyPoints(w, gridLevels(4), 3);
  const e0 = pointsError(w, pts, 0);
  const rel = [1, 2, 3].map((k) => pointsError(w, pts, k) / e0);
  assert(rel[0] < 0.05 && rel[1] < rel[0] / 10 && rel[2] < rel[1] / 10, JSON.stringify(rel));
});

Deno.test("point allocation respects the budget and follows the error reduction", () => {
  const C = 10;
  // Channel c's error with k points: (c + 1) · 4^−k: the large-error channels gain most.
  const error = (c: number, k: number) => (c + 1) * 4 ** -k;
  for (const total of [10, 11, 13, 25, 40, 100]) {
    const a = allocatePoints(C, 4, total, error);
    const used = a.points.reduce((s, k) => s + k, 0);
    assert(used <= total, `${used} > ${total}`);
    assert(a.points.every((k) => k >= 1 && k <= 4));
    assertEquals(used, Math.min(total, 40));
  }
  assertEquals(allocatePoints(C, 4, 13, error).points, [1, 1, 1, 1, 1, 1, 1, 2, 2, 2]);
  const rnd = allocatePoints(C, 4, 13, error, new Random(1));
  assertEquals(rnd.points.reduce((s, k) => s + k, 0), 13);
  // No point is given where it does not reduce the error.
  assertEquals(allocatePoints(3, 4, 9, () => 1).points, [1, 1, 1]);
});

Deno.test("mixed-precision bits respect the average-bits budget", () => {
  const layers = [100, 400, 50, 1000].map((size, i) => ({
    size,
    error: (b: number) => (i + 1) * 2 ** (-2 * b),
  }));
  for (const budget of [3, 3.2, 4, 4.4, 6, 8]) {
    const bits = allocateBits(layers, 3, 8, budget);
    const avg = bits.reduce((s, b, i) => s + b * layers[i].size, 0) / 1550;
    assert(avg <= budget + 1e-9, `budget ${budget}: ${avg}`);
    assert(bits.every((b) => b >= 3 && b <= 8));
  }
  assertEquals(allocateBits(layers, 3, 8, 3), [3, 3, 3, 3]);
});

Deno.test("OCS splitting preserves the layer's FP function", () => {
  const r = new Random(5);
  const C = 4, cin = 6, taps = 3, K = cin * taps;
  const rows = Float32Array.from({ length: C * K }, () => r.normal());
  rows[2 * K + 4 * taps + 1] = 9; // input channel 4 holds the outlier
  const split = ocsChannels(rows, C, K, taps, 2);
  assertEquals(split[0], 4);
  const x = Float32Array.from({ length: K }, () => r.normal());
  for (let c = 0; c < C; c++) {
    const row = rows.subarray(c * K, (c + 1) * K);
    const { main, dup } = splitRow(row, split, taps);
    for (let k = 0; k < K; k++) assertEquals(main[k] + dup[k], row[k]);
    // The expanded layer reads the split channels twice: the same output.
    let y = 0, yExpanded = 0;
    for (let k = 0; k < K; k++) y += row[k] * x[k];
    for (let k = 0; k < K; k++) yExpanded += main[k] * x[k];
    for (const j of split) {
      for (let t = 0; t < taps; t++) yExpanded += dup[j * taps + t] * x[j * taps + t];
    }
    assert(Math.abs(y - yExpanded) <= 1e-5 * (1 + Math.abs(y)), `${y} vs ${yExpanded}`);
    // The split halves the range the grid must cover where the outlier was.
    if (c === 2) assertEquals(Math.max(...main.map(Math.abs)), 4.5);
  }
});
