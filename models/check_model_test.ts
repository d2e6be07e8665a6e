import { checkModel, randomFeeds } from "./check_model.ts";
import { loadOnnx } from "./onnx.ts";
import { assert, assertEquals, assertThrows } from "../runtime/assert.ts";
import { resnetBasic } from "./_fixtures.ts";

Deno.test("checkModel: a fixture's outputs match onnxruntime within the tolerance", async () => {
  const { bytes } = resnetBasic();
  const c = await checkModel(loadOnnx(bytes), bytes, { shape: [2, 3, 16, 16] });
  assert(c.ok, JSON.stringify(c.outputs));
  assertEquals(c.outputs.map((o) => o.shape), [[2, 10]]);
});

Deno.test("randomFeeds is seeded and names an input whose shape is symbolic", () => {
  const g = loadOnnx(resnetBasic().bytes);
  const a = randomFeeds(g, { shape: [1, 3, 8, 8], seed: 3 });
  const b = randomFeeds(g, { shape: [1, 3, 8, 8], seed: 3 });
  assertEquals([...Object.values(a)[0].data], [...Object.values(b)[0].data]);
  const sym = { ...g, inputs: [{ ...g.inputs[0], shape: ["n", 3, "h", "w"] }] };
  assertThrows(() => randomFeeds(sym as typeof g), RangeError, "symbolic dims");
});
