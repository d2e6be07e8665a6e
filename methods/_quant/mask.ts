/**
 * Random 0/1 masks for QDrop, generated on the host with xoshiro128** seeded from the runtime's
 * {@linkcode Random} (one draw per mask), then uploaded. The runtime has no random op, and its
 * PCG generator works on BigInt (about 100 ns a value), too slow for masks of millions of
 * elements per iteration; xoshiro128** with 32-bit integer math costs a few ns a value.
 *
 * @module
 */
import {
  type Backend,
  getBackend,
  profileRegion,
  type Random,
  type Tensor,
  upload,
} from "../../runtime/mod.ts";

/** A tensor of 0/1 values, 1 with probability `p`, deterministic given `rng`'s state. */
export function bernoulliMask(
  shape: readonly number[],
  p: number,
  rng: Random,
  backend: Backend = getBackend(),
): Tensor {
  return profileRegion("bernoulliMask", () => bernoulliImpl(shape, p, rng, backend));
}

function bernoulliImpl(
  shape: readonly number[],
  p: number,
  rng: Random,
  backend: Backend,
): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let a = rng.nextU32() | 0, b = rng.nextU32() | 0, c = rng.nextU32() | 0, d = rng.nextU32() | 1;
  const thr = Math.floor(p * 4294967296);
  for (let i = 0; i < n; i++) {
    const r = Math.imul(b, 5);
    const res = Math.imul((r << 7) | (r >>> 25), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    out[i] = +(res < thr); // branch-free: a ?: mispredicts on half the elements
  }
  return upload(out, shape, backend);
}
