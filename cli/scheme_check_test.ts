import { assert, assertEquals, assertThrows } from "../runtime/assert.ts";
import { parseGroups } from "../papers/mrecg/scheme_check.ts";
import { resolveModel } from "../models/registry.ts";
import { main, SPEC } from "./scheme_check.ts";
import { runTask } from "./_testing.ts";

Deno.test("scheme-check's --groups are a run's merged groups, refused when malformed", async () => {
  assertEquals(parseGroups("1+2+3,10+11"), [1, 2, 10]);
  assertThrows(() => parseGroups("1+3"), RangeError, "consecutive");
  assertThrows(() => parseGroups("1,2"), RangeError, "merged group");
  const bad = await runTask(SPEC, main, ["--groups", "1+x"]);
  assertEquals(bad.code, 2);
  assert(bad.err.includes("--groups:"), bad.err);
  const unknown = await runTask(SPEC, main, ["--model", "no_such_model"]);
  assertEquals(unknown.code, 2);
  assert(unknown.err.includes('--model: Unknown model "no_such_model"'), unknown.err);
  const missing = await runTask(SPEC, main, ["--model", "/nonexistent/m.onnx"]);
  assertEquals(missing.code, 1);
  assert(missing.err.includes("cannot read model /nonexistent/m.onnx"), missing.err);
});

let shared = true;
try {
  resolveModel("mobilenet_v2_tf2ptq");
} catch {
  shared = false;
}

Deno.test({
  name: "scheme-check: the top-7 data-free merges of MobileNetV2 against the official scheme",
  ignore: !shared,
  async fn() {
    const r = await runTask(SPEC, main, []);
    assertEquals(r.code, 0, r.err);
    assert(r.out.includes("18 units (official partition; 20 graph blocks)"), r.out);
    assert(r.out.includes("in common: 2 of 7 (IR5+IR6, IR15+IR16)"), r.out);
    assert(r.out.includes("3.27 in common expected, P(≥ 2) = 0.97"), r.out);
  },
});
