/**
 * A seeded random generator (PCG-XSH-RR 32-bit with a 64-bit state): uniform, normal, bernoulli,
 * permutation. Library code never uses `Math.random`; every run records its seeds.
 *
 * @module
 */
import type { Backend } from "./backend.ts";
import { getBackend, type Tensor, upload } from "./tensor.ts";
import { sizeOf } from "./ops.ts";

const MUL = 6364136223846793005n;
const MASK = (1n << 64n) - 1n;

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
  #state: bigint;
  #inc: bigint;
  #spare: number | null = null;
  readonly seed: number;

  constructor(seed: number, stream = 54) {
    this.seed = seed;
    this.#inc = ((BigInt(stream) << 1n) | 1n) & MASK;
    this.#state = 0n;
    this.nextU32();
    this.#state = (this.#state + BigInt.asUintN(64, BigInt(Math.trunc(seed)))) & MASK;
    this.nextU32();
  }

  /** A new independent generator derived from this one (for a sub-task), deterministic. */
  fork(stream: number): Random {
    return new Random(this.nextU32(), stream);
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const old = this.#state;
    this.#state = (old * MUL + this.#inc) & MASK;
    const xorshifted = Number(((old >> 18n) ^ old) >> 27n & 0xffffffffn);
    const rot = Number(old >> 59n);
    return ((xorshifted >>> rot) | (xorshifted << ((-rot) & 31))) >>> 0;
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
