/**
 * The arithmetic of multipoint quantization (Liu, Ye, Zhou, Liu, "Post-training Quantization with
 * Multiple Points: Mixed Precision without Mixed Precision", AAAI 2021, arXiv 2002.09049), on host
 * vectors: one weight vector (one output channel) approximated by `Σᵢ aᵢ·qᵢ`, each `qᵢ` an integer
 * vector on the symmetric `b`-bit grid `{−L, …, L}` (`L = 2^(b−1) − 1`) and `aᵢ` a float scale,
 * built greedily: each new point fits the residual left by the earlier ones.
 *
 * **One point** ({@linkcode fitPoint}): for a residual `r` with `m = max|rⱼ|`, every candidate
 * scale `m / t` with `t ∈ {1, 2, …, L}` (the largest element on level `t`) and `t = L / α` with
 * `α ∈ {0.50, 0.55, …, 0.95}` (the largest elements clipped) gives the integers
 * `q = clamp(round(r·t / m), −L, L)`; for that `q` the scale is refitted in closed form (least
 * squares, `a = ⟨r, q⟩ / ⟨q, q⟩`), which leaves the squared error `‖r‖² − ⟨r, q⟩² / ⟨q, q⟩`. The
 * candidate with the smallest error wins. So the search is a grid search over the rounding
 * (the integers) with a closed-form scale per candidate; a vector already on a grid `a₀·q₀` is
 * reproduced exactly (the candidate `t = max|q₀|` rounds to `q₀`, and least squares returns `a₀`).
 *
 * **Output metric** (`scaleFit: "output"`): the integers are chosen as above, and the scale is
 * then refitted in the layer-output metric `‖X(r − a·q)‖² = (r − a·q)ᵀ H (r − a·q)` (`H = XᵀX`, the
 * Gram matrix of the layer's inputs on calibration data): `a = rᵀHq / qᵀHq`. Either refit makes
 * the error of its own metric non-increasing in the number of points (a point can only remove the
 * projection of the residual on `q`).
 *
 * @module
 */

/** The largest level of the symmetric `bits`-bit grid `{−L, …, L}`: `2^(bits−1) − 1`. */
export function gridLevels(bits: number): number {
  if (!Number.isInteger(bits) || bits < 2 || bits > 8) {
    throw new RangeError(`multipoint: point bits must be an integer in 2…8, got ${bits}`);
  }
  return 2 ** (bits - 1) - 1;
}

/** Clipping ratios of the candidate scales beyond `m / L`. */
const CLIP_RATIOS = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95];

/** One point: a float32 scale and integers on the grid. */
export interface Point {
  /** The scale `a` (a float32 value). */
  a: number;
  /** The integers, `|qⱼ| ≤ L`. */
  q: Int8Array;
}

/** The candidate divisors `t` of the scale `m / t` for a grid with largest level `L`. */
function candidates(L: number): number[] {
  const t: number[] = [];
  for (let i = 1; i <= L; i++) t.push(i);
  for (const a of CLIP_RATIOS) t.push(L / a);
  return t;
}

/** `xᵀ H y` for a symmetric `K × K` matrix stored row-major. */
export function bilinear(H: Float64Array, x: ArrayLike<number>, y: ArrayLike<number>): number {
  const K = x.length;
  let s = 0;
  for (let i = 0; i < K; i++) {
    const xi = x[i];
    if (xi === 0) continue;
    let row = 0;
    const off = i * K;
    for (let j = 0; j < K; j++) row += H[off + j] * y[j];
    s += xi * row;
  }
  return s;
}

/**
 * The best single point for residual `r` on the grid with largest level `L` (see the module
 * doc). With `H`, the scale is refitted in the output metric. A zero residual gives `a = 0`.
 */
export function fitPoint(r: ArrayLike<number>, L: number, H?: Float64Array): Point {
  const K = r.length;
  let m = 0, rr = 0;
  for (let j = 0; j < K; j++) {
    const v = Math.abs(r[j]);
    if (v > m) m = v;
    rr += r[j] * r[j];
  }
  const best = new Int8Array(K);
  if (m === 0) return { a: 0, q: best };
  const q = new Int8Array(K);
  let bestErr = Infinity, bestA = 0;
  for (const t of candidates(L)) {
    const inv = t / m;
    let rq = 0, qq = 0;
    for (let j = 0; j < K; j++) {
      let v = Math.round(r[j] * inv);
      if (v > L) v = L;
      else if (v < -L) v = -L;
      q[j] = v;
      rq += r[j] * v;
      qq += v * v;
    }
    if (qq === 0) continue;
    const err = rr - (rq * rq) / qq;
    if (err < bestErr - 1e-12 * rr) {
      bestErr = err;
      bestA = rq / qq;
      best.set(q);
    }
  }
  if (H) {
    const qHq = bilinear(H, best, best);
    if (qHq > 0) bestA = bilinear(H, r, best) / qHq;
  }
  return { a: Math.fround(bestA), q: best };
}

/** The float32 value of `Σᵢ aᵢ·qᵢ` as the deployed graph computes it (products, then sums in order). */
export function reconstruct(points: readonly Point[], K: number): Float32Array {
  const out = new Float32Array(K);
  points.forEach((p, i) => {
    for (let j = 0; j < K; j++) {
      const v = Math.fround(p.q[j] * p.a);
      out[j] = i === 0 ? v : Math.fround(out[j] + v);
    }
  });
  return out;
}

/**
 * Up to `maxPoints` greedy points for `w` (each fitted to the residual of the earlier ones, in the
 * float32 arithmetic of {@linkcode reconstruct}); stops early once the residual is zero.
 */
export function greedyPoints(
  w: ArrayLike<number>,
  L: number,
  maxPoints: number,
  H?: Float64Array,
): Point[] {
  const K = w.length;
  const points: Point[] = [];
  const r = Float64Array.from(w);
  for (let k = 0; k < maxPoints; k++) {
    const p = fitPoint(r, L, H);
    if (p.a === 0 && k > 0) break;
    points.push(p);
    const approx = reconstruct(points, K);
    let any = false;
    for (let j = 0; j < K; j++) {
      r[j] = w[j] - approx[j];
      if (r[j] !== 0) any = true;
    }
    if (!any) break;
  }
  return points;
}

/** `‖d‖²`, or `dᵀHd` with `H`, for `d = w − Σ` of the first `k` points (k = 0: `w` itself). */
export function pointsError(
  w: ArrayLike<number>,
  points: readonly Point[],
  k: number,
  H?: Float64Array,
): number {
  const K = w.length;
  const approx = k === 0 ? new Float32Array(K) : reconstruct(points.slice(0, k), K);
  const d = new Float64Array(K);
  for (let j = 0; j < K; j++) d[j] = w[j] - approx[j];
  if (H) return bilinear(H, d, d);
  let s = 0;
  for (let j = 0; j < K; j++) s += d[j] * d[j];
  return s;
}
