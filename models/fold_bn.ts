/**
 * Folds BatchNormalization into the preceding Conv / ConvTranspose-free Gemm:
 * `W' = W · γ/√(σ²+ε)` per output channel, `b' = (b − μ) · γ/√(σ²+ε) + β`.
 *
 * The BN parameters are kept, keyed by the folded layer's node name, for the methods that need
 * BN statistics (PD-Quant's distribution correction, FDDA's BN-statistics matching).
 *
 * @example
 * ```ts
 * import { foldBatchNorm, loadOnnx } from "./mod.ts";
 * const { graph, bn } = foldBatchNorm(loadOnnx("resnet18.onnx"));
 * for (const [conv, info] of bn) console.log(conv, info.params.eps, info.input);
 * ```
 *
 * @module
 */
import {
  add,
  type BatchNormParams,
  div,
  mul,
  reshape,
  sqrt,
  sub,
  type Tensor,
  tidy,
  zeros,
} from "../runtime/mod.ts";
import type { Graph, Node } from "./graph.ts";

/** What a folded BN was: its parameters and the value names around it. */
export interface FoldedBatchNorm {
  params: BatchNormParams;
  /** The BN's input value in the original graph (the layer's pre-BN output). */
  input: string;
  /** The BN's output value (now produced by the folded layer). */
  output: string;
  /** The BN node's name in the original graph. */
  node: string;
}

/** Result of {@linkcode foldBatchNorm}. */
export interface FoldResult {
  graph: Graph;
  /** Folded layer's node name → the BN it absorbed. */
  bn: Map<string, FoldedBatchNorm>;
}

/**
 * Returns a new graph where every BatchNormalization that directly follows a Conv or Gemm (whose
 * weight is an initializer and whose output feeds only that BN) is folded into it. Untouched
 * initializers are shared with the input graph; folded weights are new tensors named
 * `<weight>.bnfold`.
 */
export function foldBatchNorm(graph: Graph): FoldResult {
  const consumers = new Map<string, number>();
  for (const n of graph.nodes) {
    for (const v of n.inputs) if (v) consumers.set(v, (consumers.get(v) ?? 0) + 1);
  }
  const producer = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) producer.set(o, n);
  const outputs = new Set(graph.outputs.map((o) => o.name));

  const initializers = new Map(graph.initializers);
  const bn = new Map<string, FoldedBatchNorm>();
  const replaced = new Map<Node, Node>();
  const dropped = new Set<Node>();
  for (const n of graph.nodes) {
    if (n.opType !== "BatchNormalization" || n.outputs.filter((o) => o).length !== 1) continue;
    const layer = producer.get(n.inputs[0]);
    if (!layer || (layer.opType !== "Conv" && layer.opType !== "Gemm")) continue;
    if (consumers.get(n.inputs[0]) !== 1 || outputs.has(n.inputs[0]) || replaced.has(layer)) {
      continue;
    }
    const w = graph.initializers.get(layer.inputs[1]);
    const b = layer.inputs[2] ? graph.initializers.get(layer.inputs[2]) : undefined;
    if (!w || (layer.inputs[2] && !b)) continue;
    const p = n.inputs.slice(1, 5).map((v) => graph.initializers.get(v));
    if (p.some((t) => !t)) continue;
    const transB = !!layer.attrs.transB;
    if (
      layer.opType === "Gemm" &&
      (layer.attrs.transA || (layer.attrs.alpha ?? 1) !== 1 || (layer.attrs.beta ?? 1) !== 1)
    ) {
      continue;
    }
    const params: BatchNormParams = {
      gamma: p[0]!,
      beta: p[1]!,
      runningMean: p[2]!,
      runningVar: p[3]!,
      eps: (n.attrs.epsilon as number | undefined) ?? 1e-5,
    };
    const [w2, b2] = tidy(() => {
      const s = div(params.gamma, sqrt(add(params.runningVar, params.eps)));
      let ws: Tensor;
      if (layer.opType === "Conv") ws = mul(w, reshape(s, [s.size, 1, 1, 1]));
      else ws = transB ? mul(w, reshape(s, [s.size, 1])) : mul(w, reshape(s, [1, s.size]));
      const bias = b ?? zeros([s.size], { backend: w.backend });
      return [ws, add(mul(sub(bias, params.runningMean), s), params.beta)];
    });
    const wName = uniqueName(initializers, `${layer.inputs[1]}.bnfold`);
    const bName = uniqueName(initializers, `${layer.inputs[2] || `${layer.name}.bias`}.bnfold`);
    initializers.set(wName, w2);
    initializers.set(bName, b2);
    replaced.set(layer, {
      ...layer,
      inputs: [layer.inputs[0], wName, bName],
      outputs: [n.outputs[0]],
      attrs: { ...layer.attrs },
    });
    dropped.add(n);
    bn.set(layer.name, { params, input: n.inputs[0], output: n.outputs[0], node: n.name });
  }
  const nodes = graph.nodes.filter((n) => !dropped.has(n)).map((n) => replaced.get(n) ?? n);
  // Parameters nobody reads any more leave the graph (they stay alive in `bn`).
  const read = new Set(nodes.flatMap((n) => n.inputs));
  for (const k of [...initializers.keys()]) {
    if (!read.has(k) && !outputs.has(k) && (graph.initializers.get(k) !== undefined)) {
      initializers.delete(k);
    }
  }
  return {
    graph: { ...graph, nodes, initializers, constants: new Map(graph.constants) },
    bn,
  };
}

function uniqueName(m: Map<string, unknown>, base: string): string {
  let name = base;
  for (let k = 1; m.has(name); k++) name = `${base}_${k}`;
  return name;
}
