/**
 * Recipe configs speak the papers' command-line names (`weight`, `T`, `lamb_c`, `prob`, …); the
 * methods' zod schemas use ptq-bench names (`lambda`, `T`, `lambC`, `dropProb`, …). This module
 * is the one place that maps one to the other, and says which recipe keys only describe what the
 * method does anyway.
 *
 * @module
 */
import type { JsonValue } from "./record.ts";

/** A run's method: the registry id and the fixed settings the recipe's method name implies. */
export function methodOf(method: string): { id: string; fixed: Record<string, JsonValue> } {
  const m = /^mrecg\+(brecq|qdrop)$/.exec(method);
  if (m) return { id: "mrecg", fixed: { base: m[1] } };
  return { id: method, fixed: {} };
}

/** Recipe keys that describe behaviour the methods always have (checked, not passed). */
const DESCRIPTIVE: Record<string, JsonValue> = {
  act_lr_schedule: "cosine",
  per_channel: true,
  symmetric: false,
  lp: 2.4,
  granularity: "layer",
};

/**
 * Maps a resolved recipe config to a method config. Unknown keys throw (a recipe must not carry
 * settings that silently do nothing); descriptive keys are checked against the method's fixed
 * behaviour.
 */
export function toMethodConfig(
  method: string,
  config: Record<string, JsonValue>,
  extra: { budget: string; seed: number },
): Record<string, JsonValue> {
  const { fixed } = methodOf(method);
  // A custom budget's iterations and calibration size arrive as `iters` / `calib_n` below, which
  // override whatever the method's own budget would choose.
  const budget = extra.budget === "custom" ? "paper" : extra.budget;
  const out: Record<string, JsonValue> = { ...fixed, budget, seed: extra.seed };
  const observer = (v: JsonValue) => (v === "ema_mse" ? "mse" : v);
  const probToDrop = (v: JsonValue) => 1 - Number(v);
  const map: Record<string, (v: JsonValue) => void> = {
    w_bits: (v) => (out.wBits = v),
    a_bits: (v) => (out.aBits = v),
    iters: (v) => (out.iters = v),
    calib_n: (v) => (out.calibSize = v),
    batch: (v) => (out.batch = v),
    first_last_8bit: (v) => (out.headStem8bit = v),
    weight: (v) => (out.lambda = v),
    b_start: (v) => (out.betaStart = v),
    b_end: (v) => (out.betaEnd = v),
    warmup: (v) => (out.warmup = v),
    adaround_lr: (v) => (out.weightLr = v),
    act_lr: (v) => (out.actLr = v),
    weight_init: (v) => (out.weightObserver = observer(v)),
    weight_observer: (v) => (out.weightObserver = observer(v)),
    act_init: (v) => (out.actObserver = observer(v)),
    act_observer: (v) => (out.actObserver = observer(v)),
    // QDrop's `prob` is the probability of quantizing an activation element (1.0 = BRECQ).
    prob: (v) => {
      if (method !== "adaround") out.dropProb = probToDrop(v);
    },
    input_prob: (v) => (out.inputMixProb = v),
    T: (v) => (out.T = v),
    lamb_c: (v) => (out.lambC = v),
    lamb_r: (v) => (out.lambR = v),
    bn_lr: (v) => (out.bnLr = v),
    dc_steps: (v) => (out.dcSteps = v),
    dc_batch: (v) => (out.dcBatch = v),
    scheme: (v) => (out.scheme = v),
    // BN is folded before quantization in every method; MRECG's code folds after each unit,
    // which gives the same final weights (recorded as a deviation by the method).
    bn_fold: () => {},
    // A custom budget's replaced recipe settings, listed for the record: their values are
    // already in the config under their own keys.
    set: () => {},
  };
  for (const [k, v] of Object.entries(config)) {
    if (k in DESCRIPTIVE) {
      if (JSON.stringify(DESCRIPTIVE[k]) !== JSON.stringify(v) && k !== "granularity") {
        throw new RangeError(`Recipe key ${k}=${JSON.stringify(v)} is not supported by ptq-bench`);
      }
      continue;
    }
    const f = map[k];
    if (!f) throw new RangeError(`Recipe key "${k}" has no counterpart in the ${method} config`);
    f(v);
  }
  // Methods without the knobs: drop keys their schema does not know.
  if (method === "adaround" || method === "brecq") {
    delete out.dropProb;
    delete out.inputMixProb;
  }
  return out;
}
