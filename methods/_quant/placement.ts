/**
 * Where quantizers go, derived from the graph's structure (as the papers' codebases place them).
 *
 * **Weights.** Every Conv / ConvTranspose / Gemm / MatMul whose weight (input 1) is an
 * initializer gets a weight quantizer, per output channel: axis 0 for Conv (OIHW) and for Gemm
 * with `transB = 1` (`[out, in]`), the last axis for Gemm with `transB = 0` and MatMul (`[in, out]`),
 * axis 1 for ConvTranspose (`[in, out/g, kh, kw]`). Biases stay in float.
 *
 * **Activations** (output quantization after the activation function, as BRECQ/QDrop/PD-Quant's
 * `QuantModule` / `QuantBlock` do it):
 * 1. From each quantizable layer, follow its output through single-consumer activation nodes
 *    (Relu, Clip, LeakyRelu, HardSwish, HardSigmoid, Sigmoid, Tanh, Gelu, BatchNormalization).
 * 2. If that value is read only by residual `Add`/`Sum` joins (two data inputs), it is not quantized (the
 *    official blocks set `disable_act_quant` on the last conv of a residual branch and on the
 *    downsample conv); instead the `Add`'s output, followed through activations, is quantized
 *    (the block's output quantizer, after the final ReLU in ResNets).
 * 3. Otherwise the value itself is quantized (e.g. a MobileNetV2 projection conv without skip).
 * 4. Values that reach a graph output through shape-only ops (the network output) are not
 *    quantized; graph inputs (the image) are not quantized.
 *
 * **Transformers** (a graph with a Softmax fed by a MatMul of two data values, i.e. attention):
 * activation quantizers go on the INPUTS of every MatMul / Gemm instead (FQ-ViT's `QAct` placement
 * as Evol-Q's code keeps it, enyac-group/evol-q @ 9a39a35 `models/vit_quant.py`: `Block.qact1` /
 * `qact3` after the LayerNorms feed qkv and fc1, `Attention_ViT.qact1` after qkv feeds q, k, v,
 * the 8-bit softmax output feeds attn·v, `qact2` feeds proj, `Mlp.qact1` after GELU feeds fc2):
 * the LayerNorm outputs, the attention matmuls' q, kᵀ, softmax and v operands, the head-merged
 * attention output, the GELU output and the classifier's input. Conv layers (the patch embedding)
 * keep the rule above (their output). Not quantized: the residual stream and LayerNorm inputs
 * (FQ-ViT's PTF-observed `qact2` / `qact4`), the pre-softmax scores (`qact_attn1`), and the
 * linear layers' outputs (`qact3`, `Mlp.qact2`), which here feed only residual joins or the
 * reshapes ahead of a quantized matmul operand.
 *
 * **Head and stem** (`headStem8bit`, MQBench Academic / BRECQ / PD-Quant default): the first
 * layer's and the last layer's weights are 8-bit, and so is the activation quantizer feeding the
 * last layer (found by walking back from the last layer's input through pooling/reshape ops).
 * With `headStemActs: "brecq"`, the 8-bit activations are instead those of official BRECQ's
 * `set_first_last_layer_to_8bit` (yhhhli/BRECQ `quant/quant_model.py`): the first layer's output
 * quantizer, and the output quantizer of the second-to-last layer where that layer has one (in
 * MobileNetV2 the last 1×1 conv, which feeds the classifier; in ResNets the last block's final
 * conv, whose output is not quantized, so their classifier input keeps the body's bits).
 *
 * @module
 */
import type { Graph, Node } from "../../models/graph.ts";
import { ACTIVATION_OPS, quantizableLayers } from "../../models/units.ts";

/** Element-wise activations a quantizer is placed after (one list, shared with the units). */
export { ACTIVATION_OPS };

/** Ops that move or pool values without creating new ones (a quantizer before them suffices). */
export const PASS_OPS: ReadonlySet<string> = new Set([
  "MaxPool",
  "AveragePool",
  "GlobalAveragePool",
  "ReduceMean",
  "Flatten",
  "Reshape",
  "Squeeze",
  "Unsqueeze",
  "Transpose",
  "Identity",
  "Dropout",
  "Slice",
]);

const RESIDUAL_OPS = new Set(["Add", "Sum"]);

/** A weight quantizer site. */
export interface WeightSite {
  /** The layer node's name. */
  node: string;
  /** The weight initializer's name. */
  weight: string;
  /** The per-channel axis of the weight tensor. */
  axis: number;
  channels: number;
  bits: number;
  role: "first" | "last" | "body";
}

/** An activation quantizer site: a node output value. */
export interface ActSite {
  /** The quantized value's name. */
  value: string;
  /** Its producer node and output slot. */
  node: string;
  slot: number;
  bits: number;
  /**
   * Why it is there: after a layer (`layer`), a residual join (`residual`); `head`: feeds the last
   * layer; `stem`: the first layer's output at 8 bits (`headStemActs: "brecq"`); `input`: an
   * operand of a transformer's MatMul / Gemm (see the module doc).
   */
  role: "layer" | "residual" | "head" | "stem" | "input";
}

/** The quantizers of a model. */
export interface Placement {
  weights: WeightSite[];
  acts: ActSite[];
}

/** Options of {@linkcode placeQuantizers}. */
export interface PlacementOptions {
  wBits: number;
  /** Activation bits; 32 (or more) leaves activations in float. */
  aBits: number;
  /** First/last layer weights and the activation feeding the last layer at 8 bits (default true). */
  headStem8bit?: boolean;
  /**
   * Which activations `headStem8bit` puts at 8 bits: the one feeding the last layer
   * (`"last-input"`, the default: MQBench Academic / QDrop / PD-Quant), or official BRECQ's
   * (`"brecq"`: the first layer's output and the second-to-last layer's output).
   */
  headStemActs?: "last-input" | "brecq";
}

/** The per-channel axis of a layer's weight. */
export function weightAxis(node: Node, rank: number): number {
  if (node.opType === "Gemm") return (node.attrs.transB as number | undefined) ? 0 : 1;
  if (node.opType === "MatMul") return rank - 1;
  if (node.opType === "ConvTranspose") return 1;
  return 0;
}

/** Consumers of every value. */
export function consumersOf(graph: Graph): Map<string, Node[]> {
  const m = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    for (const v of n.inputs) if (v) m.set(v, [...(m.get(v) ?? []), n]);
  }
  return m;
}

/**
 * True for a graph with attention: a Softmax whose input comes (through Mul/Div/Add/Where, the
 * scaling and masking) from a MatMul of two data values.
 */
export function isTransformer(
  graph: Graph,
  producer: Map<string, [Node, number]>,
  isData: (v: string) => boolean | string,
): boolean {
  return graph.nodes.some((n) => {
    if (n.opType !== "Softmax") return false;
    let v = n.inputs[0];
    for (let i = 0; i < 8; i++) {
      const p = producer.get(v)?.[0];
      if (!p) return false;
      if (p.opType === "MatMul") return isData(p.inputs[0]) && isData(p.inputs[1]);
      if (!["Mul", "Div", "Add", "Where", "Reshape", "Transpose"].includes(p.opType)) return false;
      v = p.inputs.find((x) => isData(x)) ?? "";
    }
    return false;
  });
}

/** Places weight and activation quantizers on a graph. */
export function placeQuantizers(graph: Graph, o: PlacementOptions): Placement {
  const head = o.headStem8bit ?? true;
  const layers = quantizableLayers(graph);
  const cons = consumersOf(graph);
  const producer = new Map<string, [Node, number]>();
  for (const n of graph.nodes) n.outputs.forEach((v, s) => producer.set(v, [n, s]));
  const isData = (v: string) => v && !graph.initializers.has(v) && !graph.constants.has(v);

  const weights: WeightSite[] = layers.map((n, i) => {
    const w = graph.initializers.get(n.inputs[1])!;
    const axis = weightAxis(n, w.rank);
    const role = i === layers.length - 1 ? "last" : i === 0 ? "first" : "body";
    return {
      node: n.name,
      weight: n.inputs[1],
      axis,
      channels: w.shape[axis],
      bits: head && role !== "body" ? 8 : o.wBits,
      role,
    };
  });

  const acts: ActSite[] = [];
  if (o.aBits < 32) {
    const graphOut = new Set(graph.outputs.map((v) => v.name));
    const reachesOutput = (v: string): boolean => {
      if (graphOut.has(v)) return true;
      const cs = cons.get(v) ?? [];
      return cs.length > 0 &&
        cs.every((c) => PASS_OPS.has(c.opType) && c.outputs.some(reachesOutput));
    };
    const follow = (v: string): string => {
      for (;;) {
        const cs = cons.get(v) ?? [];
        if (cs.length !== 1 || !ACTIVATION_OPS.has(cs[0].opType) || cs[0].inputs[0] !== v) return v;
        v = cs[0].outputs[0];
      }
    };
    const add = (value: string, role: ActSite["role"]) => {
      if (acts.some((a) => a.value === value) || reachesOutput(value)) return;
      const [node, slot] = producer.get(value)!;
      acts.push({ value, node: node.name, slot, bits: o.aBits, role });
    };
    const transformer = isTransformer(graph, producer, isData);
    if (transformer) {
      for (const n of graph.nodes) {
        if (n.opType !== "MatMul" && n.opType !== "Gemm") continue;
        const operands = graph.initializers.has(n.inputs[1]) ? [n.inputs[0]] : n.inputs.slice(0, 2);
        for (const v of operands) if (isData(v) && producer.has(v)) add(v, "input");
      }
    }
    for (const l of layers) {
      if (transformer && l.opType !== "Conv" && l.opType !== "ConvTranspose") continue;
      const v = follow(l.outputs[0]);
      const cs = cons.get(v) ?? [];
      const joins = cs.filter((c) =>
        RESIDUAL_OPS.has(c.opType) && c.inputs.filter((x) => isData(x)).length >= 2
      );
      // A branch's end (read only by the join) is not quantized; a fork (read by the join's
      // skip path and by other layers) is the previous block's output and is.
      if (joins.length && joins.length === cs.length) {
        for (const j of joins) add(follow(j.outputs[0]), "residual");
      } else add(v, "layer");
    }
    // Order by producer position (topological).
    const pos = new Map(graph.nodes.map((n, i) => [n.name, i]));
    acts.sort((a, b) => pos.get(a.node)! - pos.get(b.node)!);
    if (head && layers.length && o.headStemActs === "brecq") {
      const own = (l: Node | undefined) => l && acts.find((a) => a.value === follow(l.outputs[0]));
      const stem = own(layers[0]);
      if (stem && stem.role === "layer") Object.assign(stem, { bits: 8, role: "stem" });
      const penultimate = own(layers.at(-2));
      if (penultimate && penultimate.role === "layer") {
        Object.assign(penultimate, { bits: 8, role: "head" });
      }
    } else if (head && layers.length) {
      const last = layers.at(-1)!;
      const stack = [last.inputs[0]];
      const seen = new Set<string>();
      while (stack.length) {
        const v = stack.pop()!;
        if (seen.has(v)) continue;
        seen.add(v);
        const site = acts.find((a) => a.value === v);
        if (site) {
          site.bits = 8;
          site.role = "head";
          continue;
        }
        const p = producer.get(v);
        if (p && (PASS_OPS.has(p[0].opType) || ACTIVATION_OPS.has(p[0].opType))) {
          for (const i of p[0].inputs) if (isData(i)) stack.push(i);
        }
      }
    }
  }
  return { weights, acts };
}
