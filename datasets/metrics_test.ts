import { assertEquals, assertThrows } from "../runtime/assert.ts";
import { percentOf, topK, TopKAccumulator } from "./metrics.ts";

Deno.test("top-1/top-5 count a label within the k best logits", () => {
  // 2 rows × 6 classes.
  const logits = Float32Array.from([
    ...[0.0, 0.1, 0.2, 0.3, 0.4, 0.5], // label 5 -> rank 0; label 0 -> rank 5
    ...[9, 8, 7, 6, 5, 4],
  ]);
  assertEquals(topK(logits, [5, 4], 6).correct, { 1: 1, 5: 2 });
  assertEquals(topK(logits, [0, 5], 6).correct, { 1: 0, 5: 0 });
});

Deno.test("ties go to the lower class index; a NaN true logit is never correct", () => {
  const logits = Float32Array.from([1, 1, 1, 0]);
  assertEquals(topK(logits, [0], 4, [1]).correct[1], 1);
  assertEquals(topK(logits, [1], 4, [1, 2]).correct, { 1: 0, 2: 1 });
  assertEquals(topK(logits, [2], 4, [2, 3]).correct, { 2: 0, 3: 1 });
  assertEquals(topK(Float32Array.from([NaN, 0]), [0], 2, [1, 2]).correct, { 1: 0, 2: 0 });
  assertEquals(topK(Float32Array.from([NaN, 0]), [1], 2, [1]).correct, { 1: 1 });
});

Deno.test("the accumulator sums batches; shape errors are RangeErrors", () => {
  const acc = new TopKAccumulator(3, [1]);
  acc.add(Float32Array.from([1, 0, 0]), [0]);
  acc.add(Float32Array.from([1, 0, 0, 0, 1, 0]), [1, 1]);
  assertEquals(acc.result().correct[1], 2);
  assertEquals(acc.result().n, 3);
  assertThrows(() => topK(new Float32Array(5), [0, 1], 3), RangeError);
  assertThrows(() => topK(new Float32Array(3), [3], 3), RangeError);
});

Deno.test("top-k from device top-k indices counts as from logits", () => {
  const logits = Float32Array.from([0.1, 0.9, 0.0, 0.5, 0.2, 0.3, 0.4, 0.4, 0.1]);
  const labels = Int32Array.from([1, 2, 1]);
  const fromLogits = new TopKAccumulator(3, [1, 2]);
  fromLogits.add(logits, labels);
  // Best first, ties to the lower index (row 2: classes 0 and 1 tie at 0.4).
  const fromIndices = new TopKAccumulator(undefined, [1, 2]);
  fromIndices.addTopIndices(Int32Array.from([1, 0, 0, 2, 0, 1]), 2, labels);
  assertEquals(fromIndices.result(), fromLogits.result());
  assertEquals(percentOf(fromIndices.result()), { top1: 100 / 3, top5: 0 });
});
