/**
 * Top-1 / top-5 accuracy of a quantized (or FP) model on labelled batches, on the runtime.
 *
 * @module
 */
import { noGrad, type Tensor, tidy, topk } from "../../runtime/mod.ts";
import { percentOf, TopKAccumulator } from "../../datasets/metrics.ts";
import type { QuantModel } from "./quantized_model.ts";

/** One labelled batch: images `[B, …]` and integer labels. */
export interface LabelledBatch {
  images: Tensor;
  labels: ArrayLike<number>;
}

/** Accuracy in percent over `n` images. */
export interface Accuracy {
  top1: number;
  top5: number;
  n: number;
}

/**
 * Evaluates `model` (a {@linkcode QuantModel} with its quantizers as set, or any logits function)
 * on batches; the caller owns (and may dispose) each batch's images. With `top1`, each image's
 * highest-scoring class (ties to the lower index) is appended to it, in order.
 */
export async function evaluate(
  model: QuantModel | ((x: Tensor) => Tensor),
  batches: AsyncIterable<LabelledBatch> | Iterable<LabelledBatch>,
  top1?: number[],
): Promise<Accuracy> {
  const f = typeof model === "function" ? model : (x: Tensor) => model.forward(x);
  const acc = new TopKAccumulator(undefined, [1, 5]);
  for await (const b of batches) {
    const top = tidy(() =>
      noGrad(() => {
        const logits = f(b.images);
        return topk(logits, Math.min(5, logits.shape[1]));
      })
    );
    const idx = await top.data();
    const k = top.shape[1];
    top.dispose();
    acc.addTopIndices(idx, k, b.labels);
    if (top1) { for (let i = 0; i < b.labels.length; i++) top1.push(idx[i * k]); }
  }
  const r = acc.result();
  return { ...percentOf(r), n: r.n };
}

/**
 * Runs an optional measurement (one the run can be recorded without), turning a failure into its
 * message so that the caller records it instead of losing the run.
 */
export async function attempt<T>(
  f: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}
