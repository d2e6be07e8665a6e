/**
 * A seeded random generator (PCG-XSH-RR 32-bit with a 64-bit state): uniform, normal, bernoulli,
 * permutation. Library code never uses `Math.random`; every run records its seeds.
 *
 * @module
 */
import type { Backend } from "./backend.ts";
import { getBackend, type Tensor, upload } from "./tensor.ts";
import { sizeOf } from "./ops.ts";

// The 64-bit LCG multiplier 6364136223846793005 as two 32-bit halves.
const MUL_HI = 0x5851f42d;
const MUL_LO = 0x4c957f2d;
const U64 = (1n << 64n) - 1n;

/** A generator's saved state: 64-bit state and increment as 32-bit halves, Box-Muller's spare. */
export interface RandomState {
  seed: number;
  s: [number, number, number, number];
  spare: number | null;
}

/**
 * A deterministic generator. The same seed gives the same sequence on every machine.
 *
 * @example
 * ```ts
 * import { Random } from "./random.ts";
 * const r = new Random(42);
 * console.log(r.uniform() === new Random(42).uniform()); // true
 * ```
 */
export class Random {
  // The 64-bit state and increment as 32-bit halves: plain number arithmetic is ~20x faster
  // than BigInt and gives the same bits.
  #hi = 0;
  #lo = 0;
  #incHi: number;
  #incLo: number;
  #spare: number | null = null;
  readonly seed: number;

  constructor(seed: number, stream = 54) {
    if (!Number.isFinite(seed)) throw new RangeError(`Random: seed must be finite, got ${seed}`);
    this.seed = seed;
    const inc = ((BigInt(Math.trunc(stream)) << 1n) | 1n) & U64;
    this.#incHi = Number(inc >> 32n);
    this.#incLo = Number(inc & 0xffffffffn);
    // pcg32_srandom_r: state = 0; step; state += seed; step.
    this.nextU32();
    const s = BigInt.asUintN(64, BigInt(Math.trunc(seed)));
    const lo = this.#lo + Number(s & 0xffffffffn);
    this.#hi = (this.#hi + Number(s >> 32n) + (lo > 0xffffffff ? 1 : 0)) >>> 0;
    this.#lo = lo >>> 0;
    this.nextU32();
  }

  /** The generator's full state (to save with a checkpoint). */
  state(): RandomState {
    return {
      seed: this.seed,
      s: [this.#hi, this.#lo, this.#incHi, this.#incLo],
      spare: this.#spare,
    };
  }

  /** Continues from a saved {@linkcode state} (the same sequence follows as after the save). */
  restore(st: RandomState): void {
    [this.#hi, this.#lo, this.#incHi, this.#incLo] = st.s;
    this.#spare = st.spare;
  }

  /** A new independent generator derived from this one (for a sub-task), deterministic. */
  fork(stream: number): Random {
    return new Random(this.nextU32(), stream);
  }

  /** A uniform 32-bit unsigned integer (PCG-XSH-RR output of the old state). */
  nextU32(): number {
    const h = this.#hi, l = this.#lo;
    // state = state * MUL + inc (mod 2^64), with the 32x32 -> 64 product done in 16-bit limbs.
    const a0 = l & 0xffff, a1 = l >>> 16, b0 = MUL_LO & 0xffff, b1 = MUL_LO >>> 16;
    const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
    const lo = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
    const hi = p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) + Math.imul(h, MUL_LO) +
      Math.imul(l, MUL_HI);
    const lo2 = lo + this.#incLo;
    this.#lo = lo2 >>> 0;
    this.#hi = (hi + this.#incHi + (lo2 > 0xffffffff ? 1 : 0)) >>> 0;
    // output: rotr32(((old >> 18) ^ old) >> 27, old >> 59)
    const xh = (h >>> 18) ^ h;
    const xl = ((l >>> 18) | (h << 14)) ^ l;
    const x = ((xl >>> 27) | (xh << 5)) >>> 0;
    const rot = h >>> 27;
    return ((x >>> rot) | (x << ((-rot) & 31))) >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    if (this.#spare !== null) {
      const s = this.#spare;
      this.#spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** A random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): number[] {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }

  /** `k` distinct indices from 0..n-1, in draw order. */
  sample(n: number, k: number): number[] {
    if (k > n) throw new RangeError(`Cannot sample ${k} of ${n} without replacement`);
    return this.permutation(n).slice(0, k);
  }

  /** A host array of uniform values in [lo, hi). */
  uniformArray(n: number, lo = 0, hi = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * this.uniform();
    return a;
  }

  /** A host array of normal values. */
  normalArray(n: number, mean = 0, std = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = mean + std * this.normal();
    return a;
  }

  /** Tensor of uniform values in [lo, hi). */
  rand(shape: readonly number[], lo = 0, hi = 1, backend: Backend = getBackend()): Tensor {
    return upload(this.uniformArray(sizeOf(shape), lo, hi), shape, backend);
  }

  /** Tensor of normal values. */
  randn(shape: readonly number[], mean = 0, std = 1, backend: Backend = getBackend()): Tensor {
    return upload(this.normalArray(sizeOf(shape), mean, std), shape, backend);
  }

  /** Tensor of 0/1 values, 1 with probability `p`. */
  bernoulli(shape: readonly number[], p: number, backend: Backend = getBackend()): Tensor {
    const n = sizeOf(shape);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.uniform() < p ? 1 : 0;
    return upload(a, shape, backend);
  }
}
