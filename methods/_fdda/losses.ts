/**
 * FDDA's loss terms, as `trainer_DBNS_CBNS.py` of zysxmu/FDDA (3d50d5f) computes them. Every MSE
 * is `nn.MSELoss()` (mean over channels); statistics are per-channel BN-input means and biased
 * variances (`bn_stats.ts`).
 *
 * - **BNS** (`train`, `BNS_loss`): `Σ_l [mse(μ_l, μ^run_l) + mse(σ²_l, σ²^run_l)] / L` over all
 *   L BN layers (weighted 0.2 by the caller, `BNLoss_weight`).
 * - **D-BNS** (`cal_true_BNLoss`): over the layers from `start = int((L + 1)/2) − 2`,
 *   `Σ [mse(μ_l, N(μ^c_l, 0.5²)) + mse(σ²_l, N(σ²^c_l, 1.0²))] / (L − start)`, a fresh draw per
 *   element and call (`torch.normal(mean=centre, std)`).
 * - **C-BNS**: the same against the exact centres.
 * - **Early case** (epochs ≤ 4, class outside the correct set): D-BNS against standard-normal
 *   noise on every layer, `2 · Σ_l [mse(μ_l, N(0,1)) + mse(σ²_l, N(0,1))] / L`; C-BNS is 0.
 * - **KD** (`loss_fn_kd`): `KL(log_softmax(s/T) ‖ softmax(t/T))` (batchmean) `· α · T² + CE(s, y)`.
 *
 * @module
 */
import {
  add,
  crossEntropy,
  klDivergence,
  mse,
  mul,
  type Random,
  type Tensor,
  upload,
} from "../../runtime/mod.ts";

/** Per-channel BN-input statistics of one layer (`[C]` each). */
export interface LayerStats {
  mean: Tensor;
  var: Tensor;
}

/** Sum of tensors (one at least). */
function total(ts: Tensor[]): Tensor {
  let s = ts[0];
  for (let i = 1; i < ts.length; i++) s = add(s, ts[i]);
  return s;
}

/** The first layer of the deeper half: `int((L + 1) / 2) − 2`, at least 0. */
export function startLayer(layers: number): number {
  return Math.max(0, Math.trunc((layers + 1) / 2) - 2);
}

/** BNS: the batch statistics against the teacher's global targets, averaged over all layers. */
export function bnsLoss(stats: readonly LayerStats[], targets: readonly LayerStats[]): Tensor {
  return mul(
    total(stats.map((s, l) => add(mse(s.mean, targets[l].mean), mse(s.var, targets[l].var)))),
    1 / stats.length,
  );
}

/** `centre + N(0, std²)` elementwise, drawn from `rng` (one normal per element, in order). */
export function perturbed(centre: Float32Array, std: number, rng: Random): Tensor {
  const out = new Float32Array(centre.length);
  for (let i = 0; i < out.length; i++) out[i] = centre[i] + std * rng.normal();
  return upload(out, [out.length]);
}

/** Options of {@linkcode dbnsLoss}. */
export interface DbnsOptions {
  /** The first layer used (`startLayer(L)`). */
  start: number;
  /** Noise std on the centre's means (0.5) and variances (1.0). */
  stdMean: number;
  stdVar: number;
}

/**
 * D-BNS: over layers `start…L−1`, the batch statistics against noise-perturbed centres (the
 * noise drawn from `rng`, per layer the means then the variances), averaged over those layers.
 */
export function dbnsLoss(
  stats: readonly LayerStats[],
  centre: { mean: readonly Float32Array[]; var: readonly Float32Array[] },
  rng: Random,
  o: DbnsOptions,
): Tensor {
  const terms: Tensor[] = [];
  for (let l = o.start; l < stats.length; l++) {
    const tm = perturbed(centre.mean[l], o.stdMean, rng);
    const tv = perturbed(centre.var[l], o.stdVar, rng);
    terms.push(add(mse(stats[l].mean, tm), mse(stats[l].var, tv)));
  }
  return mul(total(terms), 1 / (stats.length - o.start));
}

/** C-BNS: over layers `start…L−1`, the batch statistics against the exact centres, averaged. */
export function cbnsLoss(
  stats: readonly LayerStats[],
  centre: { mean: readonly Float32Array[]; var: readonly Float32Array[] },
  start: number,
): Tensor {
  const terms: Tensor[] = [];
  for (let l = start; l < stats.length; l++) {
    const tm = upload(centre.mean[l], [centre.mean[l].length]);
    const tv = upload(centre.var[l], [centre.var[l].length]);
    terms.push(add(mse(stats[l].mean, tm), mse(stats[l].var, tv)));
  }
  return mul(total(terms), 1 / (stats.length - start));
}

/**
 * The early-epoch D-BNS of a class outside the correct set: every layer against standard-normal
 * noise (per layer the means' noise, then the variances'), `2 · Σ / L`.
 */
export function dbnsEarlyLoss(stats: readonly LayerStats[], rng: Random): Tensor {
  const zero = (n: number) => new Float32Array(n);
  const terms = stats.map((s) => {
    const tm = perturbed(zero(s.mean.size), 1, rng);
    const tv = perturbed(zero(s.var.size), 1, rng);
    return add(mse(s.mean, tm), mse(s.var, tv));
  });
  return mul(total(terms), 2 / stats.length);
}

/** The official KD loss: `KL(s/T ‖ t/T)·α·T² + CE(s, labels)` (KL batchmean). */
export function kdLoss(
  student: Tensor,
  teacher: Tensor,
  labels: ArrayLike<number>,
  T: number,
  alpha: number,
): Tensor {
  return add(mul(klDivergence(teacher, student, T), alpha * T * T), crossEntropy(student, labels));
}
