/**
 * Range observers on host `Float32Array`s: min-max, the official L_p (p = 2.4) grid search
 * ("MSE" init of BRECQ/QDrop/PD-Quant), percentile, and EMA min-max.
 *
 * The L_p search follows the official code (`perform_1D_search` / `perform_2D_search`):
 * - one-sided data (all ≥ 0 or all ≤ 0) or a symmetric scheme: a 1-D search over 100 thresholds
 *   `t_i = i/100 · max(|min|, max)`;
 * - otherwise a 2-D search: 100 ranges `r_i = i/100 · (max − min)` (min ≤ 0 ≤ max) and, for each,
 *   every zero point `z ∈ [qmin, qmax]`, i.e. the grid `δ = r_i / (qmax − qmin)` shifted by `z·δ`;
 * - the score is the mean of `|x − q(x)|^p` per channel, the first strict minimum wins.
 *
 * The search is not brute force: per range candidate each value's rounding error is computed
 * once, sorted values and prefix sums give the error inside each zero point's window in
 * O(log n), the clipped tails are summed from the outermost value inwards with an early exit once
 * the partial sum exceeds the best score, and the zero point of the 2-D search is found by an
 * integer ternary search (the error is nearly convex in it) instead of enumerating all 2^b
 * (a deviation: it can miss the official enumeration's choice on non-convex cases). Activations are searched on a
 * histogram (bin centres weighted by counts) of the values, collected in two passes (range, then
 * counts), so a search over millions of values costs a few thousand evaluations per candidate.
 *
 * The `shrink` search is BRECQ's own `scale_method='mse'` (yhhhli/BRECQ `quant/quant_layer.py`,
 * `UniformAffineQuantizer.init_quantization_scale`): 80 candidate ranges
 * `[min·(1 − i/100), max·(1 − i/100)]`, `i = 0 … 79`, each with `δ = range / (2^b − 1)` and
 * `z = round(−min_i / δ)`, scored by the mean of `|x − q(x)|^2.4`; the first strict minimum (the
 * widest range on ties) wins. `[min, max]` is widened to contain 0 (the official code does not
 * widen it, so for a one-sided channel its grid need not contain 0; such a grid has a zero point
 * outside `[0, 2^b − 1]`, which no integer kernel or QDQ export represents).
 *
 * @module
 */
import { type QParams, qparamsFromRange, qrange, type QuantScheme, SCALE_EPS } from "./scheme.ts";

/** The observers a method can pick. */
export type ObserverKind = "minmax" | "mse" | "shrink" | "percentile" | "ema-minmax";

/** The weight observers: min-max, the L_p search, and BRECQ's 80-factor shrink search. */
export type WeightObserverKind = "minmax" | "mse" | "shrink";

/** Options of the L_p search. */
export interface LpOptions {
  /** The exponent (2.4 in the official code). */
  p?: number;
  /** Number of range candidates (100; the `shrink` search: 80). */
  candidates?: number;
}

/** A range `[min, max]` per channel. */
export interface Range {
  min: Float32Array;
  max: Float32Array;
}

/** Per-channel min and max of a `[channels, rest]` row-major array. */
export function minMax(data: ArrayLike<number>, channels = 1): Range {
  const k = data.length / channels;
  const min = new Float32Array(channels), max = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let lo = Infinity, hi = -Infinity;
    for (let i = c * k, e = i + k; i < e; i++) {
      const v = data[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    min[c] = lo;
    max[c] = hi;
  }
  return { min, max };
}

const TABLE_SIZE = 65536;
const TABLE_SCALE = TABLE_SIZE / 0.5;
const tables = new Map<number, Float64Array>();

/** `u^p` on `[0, 0.5]` in `TABLE_SIZE` steps (plus guard entries). */
function powTable(p: number): Float64Array {
  let t = tables.get(p);
  if (!t) {
    t = new Float64Array(TABLE_SIZE + 2);
    for (let i = 0; i < t.length; i++) t[i] = Math.pow(i / TABLE_SCALE, p);
    tables.set(p, t);
  }
  return t;
}

/**
 * The L_p search on one sorted set of values `x` (optionally weighted: histogram bins), for a
 * list of candidate grids `(δ, z)`. Returns the index of the first candidate with the lowest
 * `Σ w |x − q(x)|^p`, and that score.
 */
function searchSorted(
  x: Float64Array,
  w: Float64Array | null,
  cands: { delta: number; zps: number[] }[],
  qmin: number,
  qmax: number,
  p: number,
): { cand: number; zp: number; score: number } {
  const n = x.length;
  const table = powTable(p);
  const r = new Float64Array(n);
  const E = new Float64Array(n + 1);
  let best = Infinity, bestCand = 0, bestZp = cands[0].zps[0];
  // Largest ranges first: they are cheap (little clipping) and set a good bound early.
  for (let ci = cands.length - 1; ci >= 0; ci--) {
    const { delta, zps } = cands[ci];
    // Lower bound: pairs (x_j, x_{n-1-j}) wider than the window cannot both fit; each pair
    // costs at least 2·((gap − R)/2)^p. Skip the candidate once the bound exceeds the best.
    {
      const R = (qmax - qmin) * delta;
      let lb = 0;
      for (let j = 0, k = n - 1; j < k && lb < best; j++, k--) {
        const gap = x[k] - x[j] - R;
        if (gap <= 0) break;
        lb += Math.min(w ? w[j] : 1, w ? w[k] : 1) * 2 * Math.pow(gap / 2, p);
      }
      if (lb >= best) continue;
    }
    // |x − rδ|^p = δ^p · u^p with u = |x/δ − r| ∈ [0, 0.5]: a tabulated u^p (linear
    // interpolation on 65,536 steps, absolute error < 1e-10) instead of Math.pow per value.
    const dp = Math.pow(delta, p), inv = 1 / delta;
    for (let k = 0; k < n; k++) {
      const v = x[k] * inv;
      const rk = Math.round(v);
      r[k] = rk;
      const t = Math.abs(v - rk) * TABLE_SCALE;
      const j = t | 0;
      const e = table[j] + (table[j + 1] - table[j]) * (t - j);
      E[k + 1] = E[k] + (w ? w[k] : 1) * dp * e;
    }
    const score = (zp: number, cutoff: number): number => {
      const lo = qmin - zp, hi = qmax - zp;
      // a: first index with r >= lo; b: first index with r > hi (r is non-decreasing).
      let l = 0, h = n;
      while (l < h) {
        const m = (l + h) >> 1;
        if (r[m] < lo) l = m + 1;
        else h = m;
      }
      const a = l;
      h = n;
      while (l < h) {
        const m = (l + h) >> 1;
        if (r[m] <= hi) l = m + 1;
        else h = m;
      }
      const b = l;
      let s = E[b] - E[a];
      const loV = lo * delta, hiV = hi * delta;
      for (let k = 0; k < a && s < cutoff; k++) s += (w ? w[k] : 1) * Math.pow(loV - x[k], p);
      for (let k = n - 1; k >= b && s < cutoff; k--) s += (w ? w[k] : 1) * Math.pow(x[k] - hiV, p);
      return s;
    };
    const consider = (zp: number) => {
      const s = score(zp, best);
      if (s < best) {
        best = s;
        bestCand = ci;
        bestZp = zp;
      }
    };
    if (zps.length <= 8) {
      for (const zp of zps) consider(zp);
      continue;
    }
    // The clipping error is (nearly) convex in the zero point and the in-window rounding error
    // does not depend on it: an integer ternary search, then the remaining few exhaustively.
    let lo = 0, hi = zps.length - 1;
    while (hi - lo > 6) {
      const m1 = lo + Math.floor((hi - lo) / 3), m2 = hi - Math.floor((hi - lo) / 3);
      if (score(zps[m1], Infinity) <= score(zps[m2], Infinity)) hi = m2 - 1;
      else lo = m1 + 1;
    }
    for (let i = lo; i <= hi; i++) consider(zps[i]);
  }
  return { cand: bestCand, zp: bestZp, score: best };
}

/** Which search the official code runs for a value set. */
function searchKind(min: number, max: number, symmetric: boolean): "pos" | "neg" | "sym" | "2d" {
  if (min >= 0) return "pos";
  if (max <= 0) return "neg";
  return symmetric ? "sym" : "2d";
}

/**
 * The official L_p search on one sorted, optionally weighted, value set. Returns the best range
 * `[min, max]` (whose `qparamsFromRange` is the chosen grid).
 */
export function lpSearchRange(
  sorted: Float64Array,
  weights: Float64Array | null,
  scheme: Pick<QuantScheme, "bits" | "symmetric">,
  kind: "pos" | "neg" | "sym" | "2d",
  opts: LpOptions = {},
): { min: number; max: number; score: number } {
  const p = opts.p ?? 2.4, num = opts.candidates ?? 100;
  const { qmin, qmax } = qrange(scheme);
  const levels = qmax - qmin;
  const xmin = Math.min(sorted[0], 0), xmax = Math.max(sorted[sorted.length - 1], 0);
  const cands: { delta: number; zps: number[] }[] = [];
  const ranges: [number, number][] = [];
  if (kind === "2d") {
    const xrange = xmax - xmin;
    const zps = Array.from({ length: levels + 1 }, (_, i) => qmin + i);
    for (let i = 1; i <= num; i++) {
      const delta = Math.max(xrange / num * i / levels, 1e-30);
      cands.push({ delta, zps });
      ranges.push([0, xrange / num * i]);
    }
  } else {
    const xrange = Math.max(-xmin, xmax);
    for (let i = 1; i <= num; i++) {
      const t = Math.max(xrange / num * i, 1e-30);
      const lo = kind === "pos" ? 0 : -t, hi = kind === "neg" ? 0 : t;
      const qp = qparamsFromRange([lo], [hi], scheme);
      cands.push({ delta: qp.scale[0], zps: [qp.zeroPoint[0]] });
      ranges.push([lo, hi]);
    }
  }
  const best = searchSorted(sorted, weights, cands, qmin, qmax, p);
  const [lo, hi] = ranges[best.cand];
  if (kind !== "2d") return { min: lo, max: hi, score: best.score };
  // 2-D: the grid [−z·δ, (levels − z)·δ] relative to qmin.
  const delta = cands[best.cand].delta, z = best.zp - qmin;
  return { min: lo - z * delta, max: hi - z * delta, score: best.score };
}

/** Rounds half to even (torch.round). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * BRECQ's shrink search on one sorted, optionally weighted, value set: the candidates
 * `[lo·(1 − 0.01 i), hi·(1 − 0.01 i)]`, `i = 0 … candidates − 1`, of `[lo, hi] = [min(x, 0), max(x, 0)]`;
 * returns the step and zero point of the best one (the widest on ties) and its score
 * `Σ w |x − q(x)|^p`.
 *
 * @example
 * ```ts
 * import { shrinkSearch } from "./observers.ts";
 * // Four levels on [0, 3]: no shrinking beats the full range.
 * const r = shrinkSearch(Float64Array.from([0, 1, 2, 3]), null, { bits: 2, symmetric: false });
 * console.log(r.scale, r.zeroPoint); // 1 0
 * ```
 */
export function shrinkSearch(
  sorted: Float64Array,
  weights: Float64Array | null,
  scheme: Pick<QuantScheme, "bits" | "symmetric">,
  opts: LpOptions = {},
): { scale: number; zeroPoint: number; score: number } {
  const p = opts.p ?? 2.4, num = opts.candidates ?? 80;
  const { qmin, qmax } = qrange(scheme);
  const xmin = Math.min(sorted[0], 0), xmax = Math.max(sorted[sorted.length - 1], 0);
  // Narrowest first: `searchSorted` visits the list from its end, so the widest range is seen
  // first and keeps ties, as the official loop from i = 0 with a strict `<` does.
  const cands: { delta: number; zps: number[] }[] = [];
  for (let i = num - 1; i >= 0; i--) {
    const f = 1.0 - i * 0.01;
    const lo = xmin * f, hi = xmax * f;
    if (scheme.symmetric) {
      cands.push({ delta: Math.max(Math.max(-lo, hi) / qmax, SCALE_EPS), zps: [0] });
    } else {
      const delta = Math.max((hi - lo) / (qmax - qmin), SCALE_EPS);
      cands.push({ delta, zps: [qmin + roundHalfEven(-lo / delta)] });
    }
  }
  const best = searchSorted(sorted, weights, cands, qmin, qmax, p);
  return { scale: cands[best.cand].delta, zeroPoint: best.zp, score: best.score };
}

/** Per-channel weight parameters by BRECQ's shrink search, each channel on its own range. */
export function shrinkWeightQParams(
  data: ArrayLike<number>,
  channels: number,
  scheme: Pick<QuantScheme, "bits" | "symmetric">,
  opts: LpOptions = {},
): QParams {
  const k = data.length / channels;
  const scale = new Float32Array(channels), zeroPoint = new Float32Array(channels);
  const buf = new Float64Array(k);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < k; i++) buf[i] = data[c * k + i];
    buf.sort();
    const r = shrinkSearch(buf, null, scheme, opts);
    scale[c] = r.scale;
    zeroPoint[c] = r.zeroPoint;
  }
  return { scale, zeroPoint };
}

/**
 * Per-channel weight ranges by the official L_p search (p = 2.4, 100 candidates, 2-D for
 * two-sided tensors). `data` is `[channels, rest]` row-major (OIHW flattened).
 * Whether a search is one-sided is decided for the whole tensor, as the official code does.
 */
export function lpWeightRange(
  data: ArrayLike<number>,
  channels: number,
  scheme: Pick<QuantScheme, "bits" | "symmetric">,
  opts: LpOptions = {},
): Range {
  const all = minMax(data, 1);
  const kind = searchKind(all.min[0], all.max[0], scheme.symmetric);
  const k = data.length / channels;
  const min = new Float32Array(channels), max = new Float32Array(channels);
  const buf = new Float64Array(k);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < k; i++) buf[i] = data[c * k + i];
    buf.sort();
    const r = lpSearchRange(buf, null, scheme, kind, opts);
    min[c] = r.min;
    max[c] = r.max;
  }
  return { min, max };
}

/** Mean `|x − q(x)|^p` per channel for given quantization parameters (for tests and reports). */
export function lpError(
  data: ArrayLike<number>,
  qp: QParams,
  scheme: Pick<QuantScheme, "bits" | "symmetric">,
  p = 2.4,
): Float64Array {
  const { qmin, qmax } = qrange(scheme);
  const channels = qp.scale.length, k = data.length / channels;
  const out = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = qp.scale[c], z = qp.zeroPoint[c];
    let acc = 0;
    for (let i = c * k, e = i + k; i < e; i++) {
      const q = Math.min(Math.max(Math.round(data[i] / s) + z, qmin), qmax);
      acc += Math.pow(Math.abs(data[i] - (q - z) * s), p);
    }
    out[c] = acc / k;
  }
  return out;
}

/** Weight quantization parameters by the named observer. */
export function weightQParams(
  data: ArrayLike<number>,
  channels: number,
  scheme: Pick<QuantScheme, "bits" | "symmetric">,
  kind: WeightObserverKind,
  opts: LpOptions = {},
): QParams {
  if (kind === "shrink") return shrinkWeightQParams(data, channels, scheme, opts);
  const r = kind === "mse" ? lpWeightRange(data, channels, scheme, opts) : minMax(data, channels);
  return qparamsFromRange(r.min, r.max, scheme);
}

/** Options of an {@linkcode ActivationObserver}. */
export interface ActivationObserverOptions extends LpOptions {
  kind: ObserverKind;
  /** EMA factor on the range across batches: `r ← m·r + (1 − m)·r_batch` (0.9). */
  momentum?: number;
  /** Histogram bins for the L_p search and percentiles (4096). */
  bins?: number;
  /** Percentile observer: the fraction clipped at each side (1e-4). */
  percentile?: number;
}

/**
 * A per-tensor activation observer fed batch by batch. Each batch is seen in two passes
 * through callbacks: `beginBatch()`, `observeRange(chunk)` for every chunk, `beginCounts()`,
 * `observeCounts(chunk)` for every chunk, then `endBatch()`. Across batches the range is an
 * EMA (`momentum`, 0.9 as the official EMA observers); `minmax` takes the running min/max.
 */
export class ActivationObserver {
  readonly o: Required<ActivationObserverOptions>;
  range: { min: number; max: number } | null = null;
  #bmin = Infinity;
  #bmax = -Infinity;
  #hist: Float64Array | null = null;
  #lo = 0;
  #width = 1;

  constructor(
    readonly scheme: Pick<QuantScheme, "bits" | "symmetric">,
    o: ActivationObserverOptions,
  ) {
    const candidates = o.kind === "shrink" ? 80 : 100;
    this.o = { p: 2.4, candidates, momentum: 0.9, bins: 4096, percentile: 1e-4, ...o };
  }

  /** Whether the second (histogram) pass is needed. */
  get needsCounts(): boolean {
    return this.o.kind === "mse" || this.o.kind === "shrink" || this.o.kind === "percentile";
  }

  beginBatch(): void {
    this.#bmin = Infinity;
    this.#bmax = -Infinity;
    this.#hist = null;
  }

  observeRange(chunk: ArrayLike<number>): void {
    const r = minMax(chunk, 1);
    this.#bmin = Math.min(this.#bmin, r.min[0]);
    this.#bmax = Math.max(this.#bmax, r.max[0]);
  }

  beginCounts(): void {
    const bins = this.o.bins;
    this.#hist = new Float64Array(bins);
    this.#lo = this.#bmin;
    this.#width = Math.max((this.#bmax - this.#bmin) / bins, 1e-30);
  }

  observeCounts(chunk: ArrayLike<number>): void {
    const h = this.#hist!, lo = this.#lo, inv = 1 / this.#width, last = h.length - 1;
    for (let i = 0; i < chunk.length; i++) {
      const b = Math.floor((chunk[i] - lo) * inv);
      h[b < 0 ? 0 : b > last ? last : b]++;
    }
  }

  endBatch(): void {
    let lo = this.#bmin, hi = this.#bmax;
    if (this.needsCounts) {
      const h = this.#hist!;
      const xs: number[] = [], ws: number[] = [];
      h.forEach((c, i) => {
        if (c > 0) {
          xs.push(this.#lo + (i + 0.5) * this.#width);
          ws.push(c);
        }
      });
      // Keep the exact extremes so the search sees the true range.
      xs[0] = this.#bmin;
      xs[xs.length - 1] = this.#bmax;
      if (this.o.kind === "shrink") {
        const r = shrinkSearch(Float64Array.from(xs), Float64Array.from(ws), this.scheme, this.o);
        const { qmin, qmax } = qrange(this.scheme);
        lo = (qmin - r.zeroPoint) * r.scale;
        hi = (qmax - r.zeroPoint) * r.scale;
      } else if (this.o.kind === "mse") {
        const kind = searchKind(this.#bmin, this.#bmax, this.scheme.symmetric);
        const r = lpSearchRange(
          Float64Array.from(xs),
          Float64Array.from(ws),
          this.scheme,
          kind,
          this.o,
        );
        lo = r.min;
        hi = r.max;
      } else {
        const total = ws.reduce((a, b) => a + b, 0), cut = total * this.o.percentile;
        let acc = 0, i = 0;
        while (i < ws.length - 1 && acc + ws[i] <= cut) acc += ws[i++];
        lo = xs[i];
        acc = 0;
        let j = ws.length - 1;
        while (j > 0 && acc + ws[j] <= cut) acc += ws[j--];
        hi = xs[j];
      }
    }
    if (!this.range) this.range = { min: lo, max: hi };
    else if (this.o.kind === "minmax") {
      this.range = { min: Math.min(this.range.min, lo), max: Math.max(this.range.max, hi) };
    } else {
      const m = this.o.momentum;
      this.range = {
        min: m * this.range.min + (1 - m) * lo,
        max: m * this.range.max + (1 - m) * hi,
      };
    }
  }

  /** The quantization parameters of the current range. */
  qparams(): QParams {
    if (!this.range) throw new RangeError("ActivationObserver: no batch observed yet");
    return qparamsFromRange([this.range.min], [this.range.max], this.scheme);
  }

  /** Convenience: observe one batch given as a list of host chunks. */
  observe(chunks: ArrayLike<number>[]): void {
    this.beginBatch();
    for (const c of chunks) this.observeRange(c);
    if (this.needsCounts) {
      this.beginCounts();
      for (const c of chunks) this.observeCounts(c);
    }
    this.endBatch();
  }
}
