/**
 * Test helpers for the runtime: a central finite-difference gradient check and seeded host data.
 * Private to the tests (`_` prefix); the assertions are in `./assert.ts`.
 *
 * @module
 */
import { assertClose } from "./assert.ts";
import type { Backend, HostArray } from "./backend.ts";
import { backward } from "./autograd.ts";
import { mul, sum } from "./math.ts";
import { Random } from "./random.ts";
import { getBackend, noGrad, type Tensor, tidy, upload } from "./tensor.ts";

/** An input of {@linkcode gradcheck}: host data and shape; `grad: false` for constants. */
export interface GradInput {
  data: HostArray | number[];
  shape: number[];
  grad?: boolean;
}

/** Options of {@linkcode gradcheck}. */
export interface GradcheckOptions {
  eps?: number;
  rtol?: number;
  atol?: number;
  backend?: Backend;
}

/**
 * Checks the gradients of `f` against central finite differences. The scalar checked is
 * `sum(f(...) * r)` with a fixed random `r` (so every output element matters); it is summed in
 * float64 on the host. Each input element is perturbed by ±eps in turn, and the actual f32 step
 * is used as the divisor.
 */
export function gradcheck(
  f: (...xs: Tensor[]) => Tensor,
  inputs: GradInput[],
  { eps = 1e-2, rtol = 1e-2, atol = 1e-3, backend = getBackend() }: GradcheckOptions = {},
): void {
  const host = inputs.map((s) =>
    s.data instanceof Int32Array ? s.data : Float32Array.from(s.data as ArrayLike<number>)
  );
  const make = (arrays: HostArray[]) => arrays.map((a, i) => upload(a, inputs[i].shape, backend));
  tidy(() => {
    const xs = make(host);
    xs.forEach((x, i) => inputs[i].grad !== false && x.dtype === "f32" && x.variable());
    const out = f(...xs);
    const r = new Random(7).normalArray(out.size);
    backward(sum(mul(out, upload(r, out.shape, backend))));
    const loss = (arrays: HostArray[]): number =>
      noGrad(() =>
        tidy(() => {
          const o = f(...make(arrays)).dataSync();
          let s = 0;
          for (let i = 0; i < o.length; i++) s += o[i] * r[i];
          return s;
        })
      );
    xs.forEach((x, i) => {
      if (!x.requiresGrad) return;
      const analytic = x.grad ? x.grad.dataSync() : new Float32Array(x.size);
      const numeric = new Float64Array(x.size);
      const d = host[i] as Float32Array;
      for (let j = 0; j < d.length; j++) {
        const v = d[j];
        const plus = d.slice(), minus = d.slice();
        plus[j] = v + eps;
        minus[j] = v - eps;
        const h = plus[j] - minus[j];
        const lp = loss(host.map((a, k) => (k === i ? plus : a)));
        const lm = loss(host.map((a, k) => (k === i ? minus : a)));
        numeric[j] = (lp - lm) / h;
      }
      // scale the absolute tolerance with the gradient's size so large gradients are not exempt
      let scale = 0;
      for (const v of numeric) scale = Math.max(scale, Math.abs(v));
      assertClose(analytic, numeric, {
        rtol,
        atol: atol * Math.max(1, scale),
        msg: `gradient of input ${i} [${x.shape}]`,
      });
      x.grad?.dispose();
      x.grad = null;
    });
  });
}

/** `n` distinct values spread over [lo, hi] in a seeded random order (no ties, no kinks). */
export function spread(n: number, lo = -1, hi = 1, seed = 3): Float32Array {
  const perm = new Random(seed).permutation(n);
  return Float32Array.from(perm, (p) => lo + ((hi - lo) * (p + 0.5)) / n);
}

/** Seeded normal host data. */
export function randn(n: number, seed = 1, std = 1): Float32Array {
  return new Random(seed).normalArray(n, 0, std);
}

/** Seeded uniform host data. */
export function randu(n: number, lo: number, hi: number, seed = 1): Float32Array {
  return new Random(seed).uniformArray(n, lo, hi);
}
