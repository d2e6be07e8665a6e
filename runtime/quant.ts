/**
 * Quantization primitives as composites: uniform affine fake-quant with the straight-through
 * estimator (whose gradient to the step size is LSQ's), and AdaRound's rectified sigmoid and
 * rounding regularizer.
 *
 * @module
 */
import { abs, add, clip, div, floor, ge, mul, pow, roundSte, sigmoid, sub, sum } from "./math.ts";
import type { QuantDrop } from "./ops.ts";
import { runOp, type Tensor, upload } from "./tensor.ts";

/**
 * Uniform affine fake-quantization `(clamp(round(x / s) + z, qmin, qmax) - z) * s`.
 *
 * `scale` and `zeroPoint` broadcast against `x` (a scalar for per-tensor, `[C, 1, 1, 1]` for
 * per-channel weights). Rounding uses the straight-through estimator, so the gradient to `x` is
 * 1 inside the clipping range and 0 outside, and the gradient to `scale` is LSQ's:
 * `round(x/s) - x/s` inside the range and `qmin - z` or `qmax - z` outside. The zero point gets
 * no gradient (it is rounded by the observer).
 *
 * Runs as the fused primitive `fakeQuant` (one pass forward, one per wanted gradient backward);
 * {@linkcode fakeQuantComposite} is the same function built from primitives. With `drop`
 * (QDrop), each element stays `x` where the runtime's `randomMask` with the same `p` and keys is
 * 1: exactly `where(randomMask(x), x, fakeQuant(x))`, without the mask tensor or the extra passes.
 */
export function fakeQuant(
  x: Tensor,
  scale: Tensor,
  zeroPoint: Tensor | number,
  qmin: number,
  qmax: number,
  drop?: QuantDrop,
): Tensor {
  const z = typeof zeroPoint === "number"
    ? upload(new Float32Array([zeroPoint]), [], x.backend)
    : zeroPoint;
  return runOp("fakeQuant", [x, scale, z], drop ? { qmin, qmax, drop } : { qmin, qmax });
}

/**
 * {@linkcode fakeQuant} as a composite of primitives (div, roundSte, add, clip, sub, mul): the
 * reference the fused op is tested against. Its forward is bit-identical on the cpu backend; its
 * gradients agree to float rounding (the composite's `x` gradient is `(g·s)/s`).
 */
export function fakeQuantComposite(
  x: Tensor,
  scale: Tensor,
  zeroPoint: Tensor | number,
  qmin: number,
  qmax: number,
): Tensor {
  const q = clip(add(roundSte(div(x, scale)), zeroPoint), qmin, qmax);
  return mul(sub(q, zeroPoint), scale);
}

/** AdaRound's stretch parameters ζ and γ. */
export const ADAROUND_ZETA = 1.1;
export const ADAROUND_GAMMA = -0.1;

/** AdaRound's rectified sigmoid `h(V) = clamp(sigmoid(V) (ζ - γ) + γ, 0, 1)`. */
export function rectifiedSigmoid(v: Tensor): Tensor {
  return clip(add(mul(sigmoid(v), ADAROUND_ZETA - ADAROUND_GAMMA), ADAROUND_GAMMA), 0, 1);
}

/** The V that makes `h(V)` equal `frac` (AdaRound's initialisation at the fractional part). */
export function adaroundInit(frac: number): number {
  const p = (frac - ADAROUND_GAMMA) / (ADAROUND_ZETA - ADAROUND_GAMMA);
  const c = Math.min(Math.max(p, 1e-6), 1 - 1e-6);
  return -Math.log(1 / c - 1);
}

/**
 * AdaRound's soft-quantized weight `s * (clamp(floor(W/s) + h(V) + z, qmin, qmax) - z)`.
 * With `hard`, `h(V)` is replaced by the final rounding `V >= 0`.
 */
export function adaroundWeight(
  w: Tensor,
  v: Tensor,
  scale: Tensor,
  zeroPoint: Tensor | number,
  qmin: number,
  qmax: number,
  hard = false,
): Tensor {
  const base = floor(div(w, scale));
  const h = hard ? ge(v, 0) : rectifiedSigmoid(v);
  const q = clip(add(add(base, h), zeroPoint), qmin, qmax);
  return mul(sub(q, zeroPoint), scale);
}

/** AdaRound's rounding regularizer `Σ (1 - |2h(V) - 1|^β)`. */
export function adaroundRegularizer(v: Tensor, beta: number): Tensor {
  const h = rectifiedSigmoid(v);
  return sum(sub(1, pow(abs(sub(mul(h, 2), 1)), beta)));
}
