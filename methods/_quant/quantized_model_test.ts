import * as ort from "onnxruntime-node";
import { assert, assertEquals } from "../../runtime/assert.ts";
import { argmax, keep, noGrad, Random, type Tensor, tidy, upload } from "../../runtime/mod.ts";
import { compare } from "../../models/testing.ts";
import type { Graph, Node } from "../../models/graph.ts";
import { tinyGraph, tinyInputs } from "../testing.ts";
import { METHODS } from "../mod.ts";
import { placeQuantizers } from "./placement.ts";
import { QuantModel } from "./quantized_model.ts";
import { toQdqOnnx } from "./qdq.ts";

/** Logits of an ONNX model on onnxruntime at an optimisation level ("all": fused kernels). */
async function ortLogits(bytes: Uint8Array, x: Tensor, level: "disabled" | "all") {
  const s = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    graphOptimizationLevel: level,
  });
  try {
    const feed = new ort.Tensor("float32", x.dataSync() as Float32Array, [...x.shape]);
    const out = await s.run({ [s.inputNames[0]]: feed });
    return Float32Array.from(out[s.outputNames[0]].data as Float32Array);
  } finally {
    await s.release();
  }
}

/** Simulated logits and their argmax. */
function simulate(model: QuantModel, x: Tensor): { logits: Float32Array; top: number[] } {
  return tidy(() =>
    noGrad(() => {
      const y = model.forward(x);
      return { logits: Float32Array.from(y.dataSync()), top: Array.from(argmax(y, 1).dataSync()) };
    })
  );
}

/** Relative difference of logits (max |Δ| over the largest |logit|). */
const TIGHT = 1e-5;

Deno.test("with int32 biases the simulated model equals onnxruntime's fused integer model", async () => {
  const x = tinyInputs(16, 9);
  for (const [w, a] of [[4, 4], [3, 3], [8, 8]]) {
    const r = await METHODS.rtn.run(
      { graph: tinyGraph(), calib: tinyInputs(64, 1), modelName: "tiny" },
      { wBits: w, aBits: a as 4 },
    );
    const sim = simulate(r.model, x);
    const bytes = await toQdqOnnx(r.model);
    for (const level of ["disabled", "all"] as const) {
      const got = await ortLogits(bytes, x, level);
      const c = compare(got, sim.logits);
      assert(c.rel < TIGHT, `W${w}A${a} "${level}": ${JSON.stringify(c)}`);
      for (let i = 0; i < 16; i++) {
        const row = Array.from(got.subarray(i * 10, (i + 1) * 10));
        assertEquals(row.indexOf(Math.max(...row)), sim.top[i], `W${w}A${a} "${level}" row ${i}`);
      }
    }
    r.model.dispose();
  }
});

Deno.test("with float biases the fused integer model differs and Q/DQ as written does not", async () => {
  const x = tinyInputs(16, 9);
  for (const [w, a] of [[4, 4], [8, 8]]) {
    const r = await METHODS.rtn.run(
      { graph: tinyGraph(), calib: tinyInputs(64, 1), modelName: "tiny" },
      { wBits: w, aBits: a as 4 },
    );
    const rounded = simulate(r.model, x).logits;
    r.model.biasRounding = "float";
    const sim = simulate(r.model, x).logits;
    const bytes = await toQdqOnnx(r.model);
    assert(!new TextDecoder().decode(bytes).includes(".b.int"), "a float model wrote int32 biases");
    const asWritten = compare(await ortLogits(bytes, x, "disabled"), sim);
    assert(asWritten.rel < TIGHT, `W${w}A${a} "disabled": ${JSON.stringify(asWritten)}`);
    // onnxruntime rounds the float biases itself when it fuses: it computes the int32 model.
    const fused = await ortLogits(bytes, x, "all");
    const c = compare(fused, sim);
    assert(c.rel > 1e-3, `W${w}A${a}: float biases matched the fused model (${JSON.stringify(c)})`);
    const d = compare(fused, rounded);
    assert(d.rel < TIGHT, `W${w}A${a}: fused vs int32 model ${JSON.stringify(d)}`);
    r.model.dispose();
  }
});

/**
 * `input → c0 (1→1) → Relu → c1 (1→4, the layer under test) → Relu → c2 (4→1)`, 1×1 kernels:
 * c1's input and output are quantized values, c2's output is the graph output.
 */
function chainGraph(bias: number[]): Graph {
  const init = new Map<string, Tensor>();
  const conv = (name: string, x: string, o: number, i: number, b?: number[]): Node => {
    init.set(`${name}.w`, new Random(o * 7 + i).randn([o, i, 1, 1]));
    init.set(`${name}.b`, upload(Float32Array.from(b ?? Array(o).fill(0.1)), [o]));
    return {
      name,
      opType: "Conv",
      inputs: [x, `${name}.w`, `${name}.b`],
      outputs: [`${name}.y`],
      attrs: { kernel_shape: [1, 1] },
    };
  };
  const relu = (name: string, x: string): Node => ({
    name,
    opType: "Relu",
    inputs: [x],
    outputs: [`${name}.y`],
    attrs: {},
  });
  return {
    name: "chain",
    inputs: [{ name: "input", shape: ["N", 1, 2, 2] }],
    outputs: [{ name: "c2.y", shape: ["N", 1, 2, 2] }],
    nodes: [
      conv("c0", "input", 1, 1),
      relu("r0", "c0.y"),
      conv("c1", "r0.y", 4, 1, bias),
      relu("r1", "c1.y"),
      conv("c2", "r1.y", 1, 4),
    ],
    initializers: init,
    constants: new Map(),
    opset: 13,
  };
}

Deno.test("a bias goes to round-half-even(b / (s_x·s_w[c])) · s_x·s_w[c], clamped to int32", async () => {
  // s_x = 0.25 and s_w = [0.5, 0.125, 0.5, 2^-40]: steps 0.125, 0.03125, 0.125, 2^-42.
  // 0.3125 is 2.5 steps (→ 2), −0.109375 is −3.5 steps (→ −4), 0.1875 is 1.5 steps (→ 2),
  // 1 is 2^42 steps (→ the largest float32 below 2^31).
  const g = chainGraph([0.3125, -0.109375, 0.1875, 1]);
  const m = await QuantModel.create(g, placeQuantizers(g, { wBits: 8, aBits: 8 }));
  for (const a of m.acts.values()) m.setActParams(a.site.value, 0.25, 0);
  const w = m.weights.get("c1")!;
  const sw = Float32Array.from([0.5, 0.125, 0.5, 2 ** -40]);
  w.scale.dispose();
  w.scale = keep(upload(sw, [4, 1, 1, 1]));
  w.qparams = { ...w.qparams, scale: sw };
  m.setQuantState(true, true);
  const c1 = g.nodes.find((n) => n.name === "c1")!;
  const got = tidy(() =>
    noGrad(() => {
      const b = m.intBias(c1)!;
      return { q: Array.from(b.q.dataSync()), value: Array.from(b.value.dataSync()) };
    })
  );
  const top = 2147483520;
  assertEquals(got.q, [2, -4, 2, top]);
  assertEquals(got.value, [0.25, -0.125, 0.25, Math.fround(top * 2 ** -42)]);
  // Only c1 qualifies: c0 reads the (unquantized) image, c2 writes the graph output.
  assertEquals(g.nodes.map((n) => m.intBias(n) !== null), [false, false, true, false, false]);
  // The export writes the same integers (no int32 wrap-around at the clamp) and scales.
  const x = new Random(3).randn([2, 1, 2, 2]);
  m.weights.forEach((_q, name) => m.freezeWeight(name));
  const sim = simulate(m, x).logits;
  const bytes = await toQdqOnnx(m);
  for (const level of ["disabled", "all"] as const) {
    const c = compare(await ortLogits(bytes, x, level), sim);
    assert(c.rel < TIGHT, `"${level}": ${JSON.stringify(c)}`);
  }
  m.dispose();
});

Deno.test("biasRounding float leaves the float bias, and s_x gets no gradient from the bias", async () => {
  const g = chainGraph([0.3125, -0.109375, 0.1875, 1]);
  const m = await QuantModel.create(g, placeQuantizers(g, { wBits: 8, aBits: 8 }));
  for (const a of m.acts.values()) m.setActParams(a.site.value, 0.25, 0);
  m.setQuantState(true, true);
  const c1 = g.nodes.find((n) => n.name === "c1")!;
  const b = g.initializers.get("c1.b")!;
  const sx = m.acts.get("r0.y")!;
  sx.scale = keep(sx.scale!.variable());
  tidy(() => {
    const ib = m.intBias(c1)!;
    assert(!ib.value.requiresGrad, "the int32 bias carries s_x's gradient");
  });
  m.biasRounding = "float";
  assertEquals(m.intBias(c1), null);
  assert(m.param(c1, 2, b) === b, "the float bias was replaced");
  m.dispose();
});

Deno.test("biasRounding is a shared config field, int32 by default", () => {
  assertEquals(METHODS.rtn.config.parse({}).biasRounding, "int32");
  assertEquals(METHODS.brecq.config.parse({ biasRounding: "float" }).biasRounding, "float");
});
