import { assertEquals, assertThrows } from "../../runtime/assert.ts";
import { methodConfigFromRecipe, METHODS } from "../mod.ts";
import { configFromRecipe, describes, ignored, to } from "./recipe_keys.ts";

Deno.test("recipe keys map onto config fields, check descriptive keys and refuse unknown ones", () => {
  const keys = {
    weight: to("lambda"),
    prob: to("dropProb", (v) => 1 - Number(v)),
    lp: describes(2.4),
    bn_fold: ignored("folded anyway"),
  };
  assertEquals(configFromRecipe("m", keys, { weight: 0.1, prob: 0.25, lp: 2.4, bn_fold: true }), {
    lambda: 0.1,
    dropProb: 0.75,
  });
  assertThrows(() => configFromRecipe("m", keys, { lp: 2 }), RangeError, "always runs lp=2.4");
  assertThrows(() => configFromRecipe("m", keys, { nope: 1 }), RangeError, 'Recipe key "nope"');
});

Deno.test("each baseline's recipe keys say what its official code's settings mean to it", () => {
  const cfg = (id: keyof typeof METHODS, recipe: Record<string, number | string>) =>
    methodConfigFromRecipe(METHODS[id], recipe, 7);
  // QDrop's prob is the probability of keeping quantization: 0.5 drops half.
  assertEquals(cfg("qdrop", { prob: 0.5, input_prob: 0.5 }), {
    seed: 7,
    dropProb: 0.5,
    inputMixProb: 0.5,
  });
  // BRECQ is the prob = 1 case: accepted as a description, anything else refused.
  assertEquals(cfg("brecq", { prob: 1, input_prob: 1, weight: 0.01 }), { seed: 7, lambda: 0.01 });
  assertThrows(() => cfg("brecq", { prob: 0.5 }), RangeError, "always runs prob=1");
  // AdaRound is layer-wise; RTN optimises nothing, so iterations are accepted and dropped.
  assertThrows(() => cfg("adaround", { granularity: "block" }), RangeError, "granularity");
  assertEquals(cfg("rtn", { iters: 20, w_bits: 4 }), { seed: 7, wBits: 4 });
  assertEquals(cfg("mrecg", { base: "brecq", prob: 1 }).base, "brecq");
  assertEquals(cfg("pdquant", { lamb_c: 0.02, act_init: "ema_mse" }), {
    seed: 7,
    lambC: 0.02,
    actObserver: "mse",
  });
});

Deno.test("every registered method cites its paper, lists deviations and accepts the bits keys", () => {
  for (const m of Object.values(METHODS)) {
    assertEquals(typeof m.paper.title, "string");
    assertEquals(m.deviations.length > 0, true, m.id);
    assertEquals("w_bits" in m.recipeKeys && "a_bits" in m.recipeKeys, true, m.id);
  }
});
