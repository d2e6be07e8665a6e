/**
 * Test helpers (internal): tiny graphs built in TypeScript with random weights.
 *
 * @module
 */
import { Random, type Tensor } from "../runtime/mod.ts";
import type { Graph, Node } from "../models/graph.ts";

/**
 * `Conv(3→8,3×3)-Relu-Conv(8→8,3×3)-Add(skip)-Relu-Conv(8→16,1×1,s2)-Clip(0,6)-
 * Conv(dw 16,3×3)-Clip-Conv(16→8,1×1)-GlobalAveragePool-Flatten-Gemm(8→10)`, input `[N,3,8,8]`.
 */
export function tinyGraph(seed = 0): Graph {
  const r = new Random(seed);
  const init = new Map<string, Tensor>();
  const w = (name: string, shape: number[], fanIn: number) => {
    init.set(name, r.randn(shape, 0, Math.sqrt(2 / fanIn)));
    return name;
  };
  const b = (name: string, n: number) => {
    init.set(name, r.randn([n], 0, 0.1));
    return name;
  };
  const conv = (
    name: string,
    x: string,
    o: number,
    i: number,
    k: number,
    group = 1,
    stride = 1,
  ): Node => ({
    name,
    opType: "Conv",
    inputs: [x, w(`${name}.w`, [o, i / group, k, k], (i / group) * k * k), b(`${name}.b`, o)],
    outputs: [`${name}.y`],
    attrs: {
      kernel_shape: [k, k],
      pads: Array(4).fill((k - 1) / 2),
      strides: [stride, stride],
      group,
    },
  });
  const act = (name: string, op: string, x: string, attrs = {}): Node => ({
    name,
    opType: op,
    inputs: [x],
    outputs: [`${name}.y`],
    attrs,
  });
  const nodes: Node[] = [
    conv("c1", "input", 8, 3, 3),
    act("r1", "Relu", "c1.y"),
    conv("c2", "r1.y", 8, 8, 3),
    act("r2", "Relu", "c2.y"),
    conv("c3", "r2.y", 8, 8, 3),
    { name: "add", opType: "Add", inputs: ["c3.y", "r1.y"], outputs: ["add.y"], attrs: {} },
    act("r3", "Relu", "add.y"),
    conv("c4", "r3.y", 16, 8, 1, 1, 2),
    { ...act("r4", "Clip", "c4.y"), inputs: ["c4.y", "zero", "six"] },
    conv("c5", "r4.y", 16, 16, 3, 16),
    { ...act("r5", "Clip", "c5.y"), inputs: ["c5.y", "zero", "six"] },
    conv("c6", "r5.y", 8, 16, 1),
    act("gap", "GlobalAveragePool", "c6.y"),
    act("flat", "Flatten", "gap.y", { axis: 1 }),
    {
      name: "fc",
      opType: "Gemm",
      inputs: ["flat.y", w("fc.w", [10, 8], 8), b("fc.b", 10)],
      outputs: ["logits"],
      attrs: { transB: 1 },
    },
  ];
  return {
    name: "tiny",
    inputs: [{ name: "input", shape: ["N", 3, 8, 8] }],
    outputs: [{ name: "logits", shape: ["N", 10] }],
    nodes,
    initializers: init,
    constants: new Map([
      ["zero", { data: [0], shape: [], float: true }],
      ["six", { data: [6], shape: [], float: true }],
    ]),
    opset: 13,
  };
}

/** Random calibration inputs `[n, 3, 8, 8]`. */
export function tinyInputs(n: number, seed = 1): Tensor {
  return new Random(seed).randn([n, 3, 8, 8]);
}
