/**
 * Composite neural-network ops built from primitives: softmax, log-softmax, layer norm,
 * batch norm (running or batch statistics), and the losses the methods use.
 *
 * @module
 */
import {
  add,
  div,
  exp,
  log,
  max,
  mean,
  mul,
  reshape,
  sqrt,
  square,
  sub,
  sum,
  variance,
} from "./math.ts";
import { noGrad, type Tensor, upload } from "./tensor.ts";
import { normAxis } from "./ops.ts";

/** Log-softmax along an axis (numerically stable: the max is subtracted, without gradient). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const ax = normAxis(axis, x.rank);
  const m = noGrad(() => max(x, ax, true));
  const shifted = sub(x, m);
  return sub(shifted, log(sum(exp(shifted), ax, true)));
}

/** Softmax along an axis. */
export function softmax(x: Tensor, axis = -1): Tensor {
  const ax = normAxis(axis, x.rank);
  const m = noGrad(() => max(x, ax, true));
  const e = exp(sub(x, m));
  return div(e, sum(e, ax, true));
}

/** Layer normalisation over the trailing `normShape.length` axes (ONNX LayerNormalization). */
export function layerNorm(x: Tensor, gamma?: Tensor, beta?: Tensor, eps = 1e-5, axis = -1): Tensor {
  const a0 = normAxis(axis, x.rank);
  const axes = Array.from({ length: x.rank - a0 }, (_, i) => a0 + i);
  const mu = mean(x, axes, true);
  const xc = sub(x, mu);
  const v = mean(square(xc), axes, true);
  let y = div(xc, sqrt(add(v, eps)));
  if (gamma) y = mul(y, gamma);
  if (beta) y = add(y, beta);
  return y;
}

/** Per-channel parameters of a BatchNorm layer (NCHW, channel axis 1). */
export interface BatchNormParams {
  gamma: Tensor;
  beta: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  eps: number;
}

const chan = (t: Tensor, rank: number) =>
  reshape(t, [1, t.size, ...new Array(Math.max(0, rank - 2)).fill(1)]);

/** BatchNorm with running statistics (inference). */
export function batchNorm(x: Tensor, p: BatchNormParams): Tensor {
  const scale = div(chan(p.gamma, x.rank), sqrt(add(chan(p.runningVar, x.rank), p.eps)));
  return add(mul(sub(x, chan(p.runningMean, x.rank)), scale), chan(p.beta, x.rank));
}

/** The per-channel mean and biased variance of a batch (over N and spatial axes). */
export function batchStats(x: Tensor): { mean: Tensor; var: Tensor } {
  const axes = [0, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 2)];
  return { mean: mean(x, axes), var: variance(x, axes) };
}

/**
 * BatchNorm with the statistics of the batch itself (training mode), returning the output and
 * the batch statistics so callers can update running statistics or match them (FDDA, PD-Quant).
 */
export function batchNormTrain(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  eps = 1e-5,
): { y: Tensor; mean: Tensor; var: Tensor } {
  const s = batchStats(x);
  const xhat = div(sub(x, chan(s.mean, x.rank)), sqrt(add(chan(s.var, x.rank), eps)));
  return { y: add(mul(xhat, chan(gamma, x.rank)), chan(beta, x.rank)), ...s };
}

/** Cross-entropy of logits `[N, K]` against integer labels, mean over the batch. */
export function crossEntropy(logits: Tensor, labels: ArrayLike<number>): Tensor {
  const [n, k] = logits.shape;
  if (labels.length !== n) {
    throw new RangeError(`crossEntropy: ${labels.length} labels for ${n} rows`);
  }
  const oneHot = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    if (!(c >= 0 && c < k)) throw new RangeError(`crossEntropy: label ${c} out of range [0, ${k})`);
    oneHot[i * k + c] = 1;
  }
  const target = upload(oneHot, [n, k], logits.backend);
  return div(mul(sum(mul(logSoftmax(logits, -1), target)), -1), n);
}

/**
 * KL(softmax(p / T) ‖ softmax(q / T)) averaged over the batch, with `p` the target logits
 * (no gradient flows to them) and `q` the prediction logits. Matches
 * `F.kl_div(log_softmax(q/T), softmax(p/T), reduction="batchmean")`.
 */
export function klDivergence(target: Tensor, pred: Tensor, temperature = 1): Tensor {
  const lp = noGrad(() => logSoftmax(div(target, temperature), -1));
  const p = noGrad(() => exp(lp));
  const lq = logSoftmax(div(pred, temperature), -1);
  return div(sum(mul(p, sub(lp, lq))), pred.shape[0]);
}

/** Mean squared error over all elements. */
export const mse = (a: Tensor, b: Tensor): Tensor => mean(square(sub(a, b)));

/**
 * Per-sample squared L2 error summed over features and averaged over the batch (the
 * BRECQ/QDrop reconstruction loss).
 */
export function perSampleL2(a: Tensor, b: Tensor): Tensor {
  return div(sum(square(sub(a, b))), a.shape[0]);
}
