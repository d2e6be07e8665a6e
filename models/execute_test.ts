import { cpu, keep, Random, relu, type Tensor, tidy, upload } from "../runtime/mod.ts";
import { execute } from "./execute.ts";
import { foldBatchNorm } from "./fold_bn.ts";
import { loadOnnx } from "./onnx.ts";
import { FIXTURES, mobilenetV2, resnetBasic } from "./_fixtures.ts";
import { assert, assertEquals, assertLess } from "../runtime/assert.ts";
import { compare, ortRun } from "./testing.ts";

const TOL = 1e-4;

function input(shape: number[], seed = 1): { data: Float32Array; shape: number[] } {
  return { data: new Random(seed).uniformArray(shape.reduce((p, d) => p * d, 1), -1, 1), shape };
}

for (const make of FIXTURES) {
  const f = make();
  Deno.test(`execute matches onnxruntime on the ${f.name} fixture`, async () => {
    const g = loadOnnx(f.bytes, { name: f.name });
    const x = input(f.shape);
    const out = execute(g, { feeds: { input: upload(x.data, x.shape) } });
    const ref = await ortRun(f.bytes, { input: x });
    for (const o of g.outputs) {
      assertEquals(out[o.name].shape, ref[o.name].shape);
      const c = compare(out[o.name].dataSync(), ref[o.name].data);
      assertLess(c.rel, TOL, `${f.name}/${o.name}: ${JSON.stringify(c)}`);
      out[o.name].dispose();
    }
  });
}

Deno.test("folding BatchNormalization keeps the outputs and reports the BN parameters", () => {
  for (const f of [resnetBasic(), mobilenetV2()]) {
    const g = loadOnnx(f.bytes);
    const { graph, bn } = foldBatchNorm(g);
    assertEquals(graph.nodes.filter((n) => n.opType === "BatchNormalization").length, 0);
    assertEquals(bn.size, g.nodes.filter((n) => n.opType === "BatchNormalization").length);
    for (const [conv, info] of bn) {
      const node = graph.nodes.find((n) => n.name === conv)!;
      assertEquals(node.outputs[0], info.output);
      assert(
        g.nodes.some((n) => n.outputs.includes(info.input)),
        "BN input is a value of the original graph",
      );
      assertEquals(info.params.gamma.shape, [graph.initializers.get(node.inputs[1])!.shape[0]]);
    }
    const x = upload(input(f.shape).data, f.shape);
    const a = execute(g, { feeds: { input: x } }), b = execute(graph, { feeds: { input: x } });
    const o = g.outputs[0].name;
    assertLess(compare(b[o].dataSync(), a[o].dataSync()).rel, TOL);
  }
});

Deno.test("execute calls param, output and capture hooks and runs node subsets", () => {
  const f = resnetBasic();
  const g = loadOnnx(f.bytes);
  const x = upload(input(f.shape).data, f.shape);
  const params: string[] = [];
  const captured: string[] = [];
  let outputs = 0;
  const zeroed = execute(g, {
    feeds: { input: x },
    param: (node, slot, w) => {
      params.push(`${node.name}:${slot}`);
      return node.opType === "Gemm" && slot === 1 ? upload(new Float32Array(w.size), w.shape) : w;
    },
    output: (_n, _s, v) => (outputs++, v),
    capture: (name) => captured.push(name),
  });
  const o = g.outputs[0].name;
  const bias = g.initializers.get(g.nodes.at(-1)!.inputs[2])!.dataSync();
  const z = zeroed[o].dataSync();
  for (let i = 0; i < z.length; i++) assertLess(Math.abs(z[i] - bias[i % bias.length]), 1e-6);
  assert(params.includes(`${g.nodes[0].name}:1`));
  assertEquals(outputs, g.nodes.length);
  assertEquals(captured.length, g.nodes.length);
  // A subset: the stem conv alone, fed and fetched by name.
  const stem = g.nodes[0];
  const y = execute(g, { feeds: { input: x }, nodes: [stem], fetch: [stem.outputs[0]] });
  assertEquals(y[stem.outputs[0]].shape, [2, 8, 16, 16]);
  // An output hook that rewrites activations changes the result.
  const r = execute(g, {
    feeds: { input: x },
    output: (n, _s, v) => (n.opType === "Relu" ? relu(v) : v),
  });
  assertLess(
    compare(r[o].dataSync(), execute(g, { feeds: { input: x } })[o].dataSync()).maxAbs,
    1e-6,
  );
});

Deno.test("execute releases intermediates and never feeds or initializers", () => {
  const f = mobilenetV2();
  const g = loadOnnx(f.bytes);
  const x = upload(input(f.shape).data, f.shape);
  const before = cpu.memory().liveBuffers;
  const out = tidy(() => keep(execute(g, { feeds: { input: x } })[g.outputs[0].name]));
  assertEquals(cpu.memory().liveBuffers, before + 1);
  out.dispose();
  assert(!x.disposed);
  for (const t of g.initializers.values()) assert(!(t as Tensor).disposed);
  // Without tidy too: only the fetched output stays alive.
  const out2 = execute(g, { feeds: { input: x } })[g.outputs[0].name];
  assertEquals(cpu.memory().liveBuffers, before + 1);
  out2.dispose();
});
