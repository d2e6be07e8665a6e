/**
 * The one onnxruntime evaluator: top-1/top-5 of an ONNX classifier (an exported QDQ model, or an
 * FP32 one) on labelled host batches, counted by the harness's one top-k accumulator.
 *
 * `level: "disabled"` runs the graph as written (for a QDQ export: the QuantizeLinear /
 * DequantizeLinear arithmetic of the simulated model); `"all"` lets onnxruntime fuse Q/DQ pairs
 * into integer kernels (QLinearConv, …), whose bias quantization and requantization round
 * differently.
 *
 * @module
 */
import * as ort from "onnxruntime-node";
import { percentOf, TopKAccumulator } from "../datasets/metrics.ts";

/** A labelled batch in host memory: images `[B, …]` (`shape`) and integer labels. */
export interface HostBatch {
  images: Float32Array;
  labels: Int32Array;
  shape: number[];
}

/**
 * Accuracy of an ONNX model on onnxruntime-node over host batches (percent). With `top1`, each
 * image's highest-scoring class (ties to the lower index) is appended to it, in order.
 */
export async function ortAccuracy(
  bytes: Uint8Array,
  batches: AsyncIterable<HostBatch>,
  level: "disabled" | "all",
  threads = navigator.hardwareConcurrency,
  top1?: number[],
): Promise<{ top1: number; top5: number; n: number }> {
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    graphOptimizationLevel: level,
  });
  try {
    let acc: TopKAccumulator | undefined;
    const inName = session.inputNames[0], outName = session.outputNames[0];
    for await (const b of batches) {
      const out = await session.run({ [inName]: new ort.Tensor("float32", b.images, b.shape) });
      const logits = out[outName].data as Float32Array;
      acc ??= new TopKAccumulator(logits.length / b.labels.length, [1, 5]);
      acc.add(logits, b.labels);
      if (top1) pushArgmax(logits, b.labels.length, top1);
    }
    const r = acc?.result() ?? { n: 0, correct: {}, accuracy: {} };
    return { ...percentOf(r), n: r.n };
  } finally {
    await session.release();
  }
}

/** Appends each of `rows` logits rows' argmax (the first of equal maxima) to `out`. */
function pushArgmax(logits: Float32Array, rows: number, out: number[]): void {
  const k = logits.length / rows;
  for (let i = 0; i < rows; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
    out.push(best);
  }
}

/** The onnxruntime version the records name. */
export function ortVersion(): string {
  return ort.env.versions.node ?? ort.env.versions.common;
}
