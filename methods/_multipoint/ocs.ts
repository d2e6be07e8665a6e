/**
 * OCS, outlier channel splitting (Zhao, Hu, Dotzel, De Sa, Zhang, "Improving Neural Network
 * Quantization without Retraining using Outlier Channel Splitting", ICML 2019), as a baseline at
 * equal memory: the input channels holding the largest-magnitude weights are duplicated and both
 * copies halved, which leaves the layer's FP function unchanged (`w·x = (w/2)·x + (w/2)·x`) and
 * shrinks the range the grid must cover; the expanded weight is then quantized.
 *
 * The expanded layer `Conv([x, x_S], [W', W_S/2])` equals `Conv(x, W' + scatter(W_S/2))`, so no
 * graph surgery is needed: the quantized expanded weight is exported as two same-scale points, the
 * main columns (split ones halved) and the duplicates at their original columns (zero elsewhere).
 *
 * @module
 */

/**
 * The input channels to split: the `n` channels (of `cin`, each `taps` consecutive weights of
 * every row) whose largest |weight| over all output channels is largest, in that order.
 */
export function ocsChannels(
  rows: Float32Array,
  C: number,
  K: number,
  taps: number,
  n: number,
): number[] {
  const cin = K / taps;
  const peak = new Float64Array(cin);
  for (let c = 0; c < C; c++) {
    for (let k = 0; k < K; k++) {
      const j = Math.floor(k / taps), v = Math.abs(rows[c * K + k]);
      if (v > peak[j]) peak[j] = v;
    }
  }
  const order = Array.from({ length: cin }, (_, j) => j).sort((a, b) => peak[b] - peak[a] || a - b);
  return order.slice(0, Math.max(0, Math.min(n, cin)));
}

/**
 * One output channel's expanded weights: `main` (length `K`, the split channels halved) and `dup`
 * (the halved copies, at their original positions, zero elsewhere); `main + dup` is the original
 * row exactly (halving a float is exact).
 */
export function splitRow(
  row: ArrayLike<number>,
  split: readonly number[],
  taps: number,
): { main: Float32Array; dup: Float32Array } {
  const main = Float32Array.from(row);
  const dup = new Float32Array(row.length);
  for (const j of split) {
    for (let t = 0; t < taps; t++) {
      const k = j * taps + t;
      main[k] = row[k] / 2;
      dup[k] = row[k] / 2;
    }
  }
  return { main, dup };
}
