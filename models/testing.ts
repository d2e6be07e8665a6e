/**
 * Test helpers (internal): run a model through onnxruntime-node and compare outputs.
 *
 * @module
 */
import * as ort from "onnxruntime-node";
import type { Tensor } from "../runtime/mod.ts";

/** Runs ONNX bytes through onnxruntime with float32 feeds; returns every output as a host array. */
export async function ortRun(
  bytes: Uint8Array,
  feeds: Record<string, { data: Float32Array; shape: readonly number[] }>,
): Promise<Record<string, { data: Float32Array; shape: number[] }>> {
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    graphOptimizationLevel: "disabled",
  });
  const f: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) {
    f[k] = new ort.Tensor("float32", v.data, [...v.shape]);
  }
  const out = await session.run(f);
  const res: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (const [k, v] of Object.entries(out)) {
    res[k] = { data: Float32Array.from(v.data as Float32Array), shape: [...v.dims] };
  }
  await session.release();
  return res;
}

/** Max abs difference and the same relative to the largest reference magnitude. */
export function compare(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
): { maxAbs: number; rel: number; scale: number } {
  if (got.length !== want.length) {
    throw new RangeError(`compare: ${got.length} values vs ${want.length}`);
  }
  let maxAbs = 0, scale = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return { maxAbs, rel: maxAbs / Math.max(scale, 1e-12), scale };
}

/** Host copy of a tensor's data. */
export async function host(t: Tensor): Promise<Float32Array> {
  return Float32Array.from(await t.data());
}
