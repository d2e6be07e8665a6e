import { Random, upload } from "../runtime/mod.ts";
import { execute } from "./execute.ts";
import { toOnnx } from "./export.ts";
import { foldBatchNorm } from "./fold_bn.ts";
import { loadOnnx } from "./onnx.ts";
import { FIXTURES, resnetBasic, torchFlatten } from "./_fixtures.ts";
import { assertEquals, assertLess } from "../runtime/assert.ts";
import { compare, ortRun } from "./testing.ts";

function feed(shape: number[]) {
  return { data: new Random(5).uniformArray(shape.reduce((p, d) => p * d, 1), -1, 1), shape };
}

for (const make of FIXTURES) {
  const f = make();
  Deno.test(`toOnnx round-trips the ${f.name} fixture through onnxruntime`, async () => {
    const g = loadOnnx(f.bytes);
    const bytes = toOnnx(g);
    const x = feed(f.shape);
    const want = execute(g, { feeds: { input: upload(x.data, x.shape) } });
    const got = await ortRun(bytes, { input: x });
    for (const o of g.outputs) {
      assertLess(compare(got[o.name].data, want[o.name].dataSync()).rel, 1e-4);
    }
    // And back again.
    const again = loadOnnx(bytes);
    assertEquals(again.nodes.length, g.nodes.length);
  });
}

Deno.test("a BN-folded graph exports and runs in onnxruntime with the same outputs", async () => {
  const f = resnetBasic();
  const { graph } = foldBatchNorm(loadOnnx(f.bytes));
  const x = feed(f.shape);
  const got = await ortRun(toOnnx(graph), { input: x });
  const ref = await ortRun(f.bytes, { input: x });
  const o = graph.outputs[0].name;
  assertLess(compare(got[o].data, ref[o].data).rel, 1e-4);
});

Deno.test("extra QuantizeLinear/DequantizeLinear nodes with int8 zero points can be injected", async () => {
  const f = torchFlatten();
  const g = loadOnnx(f.bytes);
  // Fake-quantize the first conv's weight per tensor through injected Q/DQ nodes.
  const conv = g.nodes.find((n) => n.opType === "Conv")!;
  const w = conv.inputs[1];
  const graph = {
    ...g,
    nodes: g.nodes.map((
      n,
    ) => (n === conv ? { ...n, inputs: [n.inputs[0], `${w}.dq`, ...n.inputs.slice(2)] } : n)),
  };
  const bytes = toOnnx(graph, {
    extra: {
      nodes: [
        {
          name: "wq",
          opType: "QuantizeLinear",
          inputs: [w, "w.scale", "w.zp"],
          outputs: [`${w}.q`],
          attrs: {},
        },
        {
          name: "wdq",
          opType: "DequantizeLinear",
          inputs: [`${w}.q`, "w.scale", "w.zp"],
          outputs: [`${w}.dq`],
          attrs: {},
        },
      ],
      tensors: [
        { name: "w.scale", data: [0.05], shape: [], dtype: "float" },
        { name: "w.zp", data: [0], shape: [], dtype: "int8" },
      ],
    },
  });
  const x = feed(f.shape);
  const got = await ortRun(bytes, { input: x });
  const ref = await ortRun(f.bytes, { input: x });
  const o = g.outputs[0].name;
  const c = compare(got[o].data, ref[o].data);
  assertLess(c.rel, 0.2); // close to FP32 but not equal: the weight went through int8
  assertLess(1e-7, c.maxAbs);
});

Deno.test("loadOnnx reads toOnnx's output directly (a protobufjs Buffer, not a copy)", () => {
  const fx = resnetBasic(3);
  const graph = loadOnnx(fx.bytes);
  const again = loadOnnx(toOnnx(graph));
  const x = new Random(4).randn(fx.shape);
  const a = execute(graph, { feeds: { [graph.inputs[0].name]: x } })[graph.outputs[0].name];
  const b = execute(again, { feeds: { [again.inputs[0].name]: x } })[again.outputs[0].name];
  assertLess(compare(a.dataSync(), b.dataSync()).maxAbs, 1e-6);
});
