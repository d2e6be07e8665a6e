/**
 * Recipe keys: the papers' recipes speak the official code's command-line names (`weight`, `T`,
 * `lamb_c`, `prob`, …); a method's zod config uses ptq-bench names (`lambda`, `T`, `lambC`,
 * `dropProb`, …). Each method's registry entry carries a {@linkcode RecipeKeys} table that says,
 * for every recipe key it accepts, where the value goes, or which fixed behaviour the key only
 * describes. This module holds the rule kinds, the tables the baselines share, and the one
 * function that applies a table.
 *
 * @example
 * ```ts
 * import { configFromRecipe, RECON_KEYS } from "./recipe_keys.ts";
 * const c = configFromRecipe("demo", RECON_KEYS, { weight: 0.1, iters: 20 }, { seed: 7 });
 * console.log(c); // { seed: 7, lambda: 0.1, iters: 20 }
 * ```
 *
 * @module
 */

/** A JSON value (what recipes hold). */
export type RecipeValue = string | number | boolean | null | RecipeValue[] | {
  [key: string]: RecipeValue;
};

/** What one recipe key does to a method's config. */
export type RecipeKey =
  /** The value goes to config field `to` (through `map` where the meaning differs). */
  | { to: string; map?: (v: RecipeValue) => RecipeValue }
  /** The method always behaves so: the recipe's value must equal `describes`. */
  | { describes: RecipeValue }
  /** Accepted and not passed, for the reason given. */
  | { ignored: string };

/** Every recipe key a method accepts. */
export type RecipeKeys = Readonly<Record<string, RecipeKey>>;

/** The value goes to config field `field` (mapped by `map`). */
export function to(field: string, map?: (v: RecipeValue) => RecipeValue): RecipeKey {
  return map ? { to: field, map } : { to: field };
}

/** The key describes fixed behaviour: the recipe must say `value`. */
export function describes(value: RecipeValue): RecipeKey {
  return { describes: value };
}

/** The key is accepted and dropped, for `why`. */
export function ignored(why: string): RecipeKey {
  return { ignored: why };
}

/** The official codes' `ema_mse` observer is ptq-bench's `mse` range search. */
const observer = (v: RecipeValue) => (v === "ema_mse" ? "mse" : v);

/** Keys every method accepts: bits, calibration size, observers, the fixed quantizer shape. */
export const COMMON_KEYS: RecipeKeys = {
  w_bits: to("wBits"),
  a_bits: to("aBits"),
  calib_n: to("calibSize"),
  first_last_8bit: to("headStem8bit"),
  weight_init: to("weightObserver", observer),
  weight_observer: to("weightObserver", observer),
  act_init: to("actObserver", observer),
  act_observer: to("actObserver", observer),
  lp: describes(2.4),
  bias_rounding: to("biasRounding"),
  per_channel: describes(true),
  symmetric: describes(false),
  bn_fold: ignored(
    "BN is folded before quantization in every method; MRECG's code folds after each unit, " +
      "which gives the same folded weights",
  ),
  set: ignored(
    "a custom budget's replaced settings, listed for the record: their values are already in " +
      "the config under their own keys",
  ),
};

/** Keys of the reconstruction baselines (AdaRound rounding, LSQ activation steps). */
export const RECON_KEYS: RecipeKeys = {
  ...COMMON_KEYS,
  iters: to("iters"),
  batch: to("batch"),
  weight: to("lambda"),
  b_start: to("betaStart"),
  b_end: to("betaEnd"),
  warmup: to("warmup"),
  adaround_lr: to("weightLr"),
  act_lr: to("actLr"),
  act_lr_schedule: describes("cosine"),
};

/** QDrop's knobs: `prob` is the probability of *keeping* quantization (1.0 = BRECQ). */
export const DROP_KEYS: RecipeKeys = {
  prob: to("dropProb", (v) => 1 - Number(v)),
  input_prob: to("inputMixProb"),
};

/**
 * A method config from a recipe's resolved config: every key goes through `keys`; a key the
 * table does not know, or a descriptive key with another value, throws a RangeError naming it
 * (a recipe must not carry settings that silently do nothing). `extra` (the seed) comes first.
 */
export function configFromRecipe(
  method: string,
  keys: RecipeKeys,
  recipe: Readonly<Record<string, RecipeValue>>,
  extra: Record<string, RecipeValue> = {},
): Record<string, RecipeValue> {
  const out: Record<string, RecipeValue> = { ...extra };
  for (const [k, v] of Object.entries(recipe)) {
    const rule = Object.hasOwn(keys, k) ? keys[k] : undefined;
    if (!rule) {
      throw new RangeError(
        `Recipe key "${k}" has no counterpart in the ${method} config; ${method} accepts ` +
          Object.keys(keys).join(", "),
      );
    }
    if ("to" in rule) out[rule.to] = rule.map ? rule.map(v) : v;
    else if ("describes" in rule) {
      if (JSON.stringify(rule.describes) !== JSON.stringify(v)) {
        throw new RangeError(
          `Recipe key ${k}=${JSON.stringify(v)} is not supported by ${method}, which always ` +
            `runs ${k}=${JSON.stringify(rule.describes)}`,
        );
      }
    }
  }
  return out;
}
