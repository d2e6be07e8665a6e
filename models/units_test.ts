import { Random, upload } from "../runtime/mod.ts";
import { execute } from "./execute.ts";
import { loadOnnx } from "./onnx.ts";
import {
  quantizableLayers,
  reconstructionUnits,
  runUnit,
  runUnits,
  unitInputs,
  unitToOutputs,
} from "./units.ts";
import { FIXTURES, resnetBasic } from "./_fixtures.ts";
import { assert, assertEquals, assertLess } from "../runtime/assert.ts";
import { compare } from "./testing.ts";

for (const make of FIXTURES) {
  const f = make();
  Deno.test(`reconstructionUnits finds ${f.units.join(", ")} in the ${f.name} fixture`, () => {
    const g = loadOnnx(f.bytes, { name: f.name });
    const units = reconstructionUnits(g);
    assertEquals(units.map((u) => u.kind), f.units);
    // Every quantizable layer in exactly one unit; units partition the nodes in order.
    const layers = units.flatMap((u) => u.layers);
    assertEquals([...layers].sort(), quantizableLayers(g).map((n) => n.name).sort());
    assertEquals(units.flatMap((u) => u.nodes.map((n) => n.name)), g.nodes.map((n) => n.name));
    // Running the units in sequence reproduces the graph.
    const x = upload(
      new Random(3).uniformArray(f.shape.reduce((p, d) => p * d, 1), -1, 1),
      f.shape,
    );
    const whole = execute(g, { feeds: { input: x } });
    const seq = runUnits(g, units, { input: x });
    for (const o of g.outputs) {
      assertLess(compare(seq[o.name].dataSync(), whole[o.name].dataSync()).maxAbs, 1e-6);
    }
  });
}

Deno.test("each unit runs alone from its captured input, and the tail runs from its output", () => {
  const f = resnetBasic();
  const g = loadOnnx(f.bytes);
  const x = upload(new Random(4).uniformArray(2 * 3 * 16 * 16, -1, 1), f.shape);
  const want = execute(g, { feeds: { input: x } })[g.outputs[0].name].dataSync();
  for (const u of reconstructionUnits(g)) {
    assertEquals(u.inputs.length, 1);
    const ins = unitInputs(g, u, { input: x });
    const y = runUnit(g, u, ins);
    const direct = execute(g, {
      feeds: { [u.inputs[0]]: ins[u.inputs[0]] },
      nodes: u.nodes,
      fetch: [u.output],
    });
    assertLess(compare(y.dataSync(), direct[u.output].dataSync()).maxAbs, 1e-7);
    const logits = unitToOutputs(g, u, y)[g.outputs[0].name];
    assertLess(compare(logits.dataSync(), want).maxAbs, 1e-5);
  }
  assert(true);
});
