/**
 * Test fixtures of FDDA (internal): a tiny CNN with BatchNormalization nodes.
 *
 * @module
 */
import { Random, type Tensor } from "../../runtime/mod.ts";
import type { Graph, Node } from "../../models/graph.ts";

/**
 * `Conv(1→4, 3×3)-BN-Relu-Conv(4→6, 3×3, s2)-BN-Relu-GlobalAveragePool-Flatten-Gemm(6→classes)`,
 * input `[N, 1, 8, 8]`, BN parameters random (γ ∈ [0.5, 1.5], β, μ ~ N(0, 0.3²), σ² ∈ [0.5, 2]).
 */
export function bnGraph(seed = 0, classes = 3): Graph {
  const r = new Random(seed);
  const init = new Map<string, Tensor>();
  const put = (name: string, t: Tensor) => (init.set(name, t), name);
  const uni = (n: number, lo: number, hi: number) => r.rand([n], lo, hi);
  const conv = (name: string, x: string, o: number, i: number, stride: number): Node => ({
    name,
    opType: "Conv",
    inputs: [
      x,
      put(`${name}.w`, r.randn([o, i, 3, 3], 0, Math.sqrt(2 / (i * 9)))),
      put(`${name}.b`, r.randn([o], 0, 0.1)),
    ],
    outputs: [`${name}.y`],
    attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [stride, stride], group: 1 },
  });
  const bn = (name: string, x: string, c: number): Node => ({
    name,
    opType: "BatchNormalization",
    inputs: [
      x,
      put(`${name}.g`, uni(c, 0.5, 1.5)),
      put(`${name}.b`, r.randn([c], 0, 0.3)),
      put(`${name}.m`, r.randn([c], 0, 0.3)),
      put(`${name}.v`, uni(c, 0.5, 2)),
    ],
    outputs: [`${name}.y`],
    attrs: { epsilon: 1e-5 },
  });
  const op = (name: string, opType: string, x: string, attrs = {}): Node => ({
    name,
    opType,
    inputs: [x],
    outputs: [`${name}.y`],
    attrs,
  });
  const nodes: Node[] = [
    conv("c1", "input", 4, 1, 1),
    bn("bn1", "c1.y", 4),
    op("r1", "Relu", "bn1.y"),
    conv("c2", "r1.y", 6, 4, 2),
    bn("bn2", "c2.y", 6),
    op("r2", "Relu", "bn2.y"),
    op("gap", "GlobalAveragePool", "r2.y"),
    op("flat", "Flatten", "gap.y", { axis: 1 }),
    {
      name: "fc",
      opType: "Gemm",
      inputs: [
        "flat.y",
        put("fc.w", r.randn([classes, 6], 0, 0.5)),
        put("fc.b", r.randn([classes], 0, 0.1)),
      ],
      outputs: ["logits"],
      attrs: { transB: 1 },
    },
  ];
  return {
    name: "tiny-bn",
    inputs: [{ name: "input", shape: ["N", 1, 8, 8] }],
    outputs: [{ name: "logits", shape: ["N", classes] }],
    nodes,
    initializers: init,
    constants: new Map(),
    opset: 13,
  };
}
