/**
 * Quantization schemes: bit-width, granularity and symmetry, and the integer range they imply.
 *
 * Every CNN codebase the papers build on is asymmetric (a zero point, unsigned integers
 * `[0, 2^b − 1]`); symmetric schemes use signed integers `[−2^(b−1), 2^(b−1) − 1]` with a zero
 * point of 0.
 *
 * @example
 * ```ts
 * import { QuantScheme, qrange } from "./scheme.ts";
 * const s = QuantScheme.parse({ bits: 4, granularity: "per-channel" });
 * console.log(qrange(s)); // { qmin: 0, qmax: 15 }
 * ```
 *
 * @module
 */
import { z } from "zod";

/** Bit-widths the harness supports. */
export const Bits = z.number().int().min(2).max(8);

/** A quantizer's scheme. */
export const QuantScheme = z.object({
  bits: Bits,
  granularity: z.enum(["per-tensor", "per-channel"]).default("per-tensor"),
  symmetric: z.boolean().default(false),
});
export type QuantScheme = z.infer<typeof QuantScheme>;

/** The integer range of a scheme. */
export function qrange(s: Pick<QuantScheme, "bits" | "symmetric">): { qmin: number; qmax: number } {
  return s.symmetric
    ? { qmin: -(2 ** (s.bits - 1)), qmax: 2 ** (s.bits - 1) - 1 }
    : { qmin: 0, qmax: 2 ** s.bits - 1 };
}

/** Per-channel (or one-element per-tensor) quantization parameters on the host. */
export interface QParams {
  scale: Float32Array;
  zeroPoint: Float32Array;
}

/** Smallest scale any observer returns (as torch's `eps` of float32). */
export const SCALE_EPS = 1.1920928955078125e-7;

/**
 * Scale and zero point covering `[min, max]` (always widened to contain 0), as the official
 * `calculate_qparams`: `s = (max⁺ − min⁻) / (qmax − qmin)`, `z = clamp(qmin − round(min⁻ / s))`.
 * Symmetric schemes use `s = max(|min|, max) / qmax` and `z = 0`.
 */
export function qparamsFromRange(
  min: ArrayLike<number>,
  max: ArrayLike<number>,
  s: Pick<QuantScheme, "bits" | "symmetric">,
): QParams {
  const { qmin, qmax } = qrange(s);
  const n = min.length;
  const scale = new Float32Array(n), zeroPoint = new Float32Array(n);
  for (let c = 0; c < n; c++) {
    const lo = Math.min(min[c], 0), hi = Math.max(max[c], 0);
    if (s.symmetric) {
      scale[c] = Math.max(Math.max(-lo, hi) / qmax, SCALE_EPS);
      zeroPoint[c] = 0;
    } else {
      const sc = Math.max((hi - lo) / (qmax - qmin), SCALE_EPS);
      scale[c] = sc;
      zeroPoint[c] = Math.min(Math.max(qmin - Math.round(lo / sc), qmin), qmax);
    }
  }
  return { scale, zeroPoint };
}
