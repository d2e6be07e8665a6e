/**
 * The in-memory model graph shared by the ONNX importer, the proxy-model builders and every
 * method: ONNX-style nodes over named values, with weights as runtime tensors.
 *
 * This file fixes the interface; `execute.ts` runs it through one op-mapping table.
 *
 * @module
 */
import type { Tensor } from "../runtime/mod.ts";

/** A constant kept on the host: integer shapes/axes/indices, or a small float (`float: true`). */
export interface HostConstant {
  data: number[];
  shape: number[];
  /** True for floating-point values (default: integers). */
  float?: boolean;
}

/**
 * An attribute value as decoded from ONNX (ints, floats, strings, lists, or a tensor; tensor
 * attributes such as Constant's `value` are decoded to host constants).
 */
export type AttrValue = number | string | number[] | string[] | Tensor | HostConstant;

/** One node, in ONNX terms. `inputs` may hold "" for an omitted optional input. */
export interface Node {
  /** Unique within the graph (the ONNX name, or `${opType}_${index}` when it has none). */
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

/** A graph input or output with its (possibly symbolic) shape. */
export interface ValueInfo {
  name: string;
  shape: (number | string)[];
}

/** A model: nodes in topological order, weights as tensors, folded shape constants on the host. */
export interface Graph {
  name: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: Node[];
  /** Float initializers (weights, biases, BN parameters) as runtime tensors. */
  initializers: Map<string, Tensor>;
  /** Integer constants (shapes, axes, indices) kept on the host, e.g. Reshape's shape. */
  constants: Map<string, HostConstant>;
  /** The default-domain opset the graph was written for (defaults to 17 when absent). */
  opset?: number;
  /** Where it came from (file path and sha256), if loaded from a file. */
  source?: { path: string; sha256: string };
}

/** Hooks that let methods rewrite weights and activations while a graph runs. */
export interface ExecuteOptions {
  /** Values already known: graph inputs, or a unit's inputs. */
  feeds: Record<string, Tensor>;
  /** Names of the values to return (default: the graph outputs). */
  fetch?: string[];
  /** Run only these nodes, in order (default: every node needed for `fetch`). */
  nodes?: Node[];
  /** Replaces an initializer as a node reads it (weight quantizers): return `value` to keep it. */
  param?: (node: Node, slot: number, value: Tensor) => Tensor;
  /** Replaces a node's output value (activation quantizers): return `value` to keep it. */
  output?: (node: Node, slot: number, value: Tensor) => Tensor;
  /** Sees every intermediate value (activation capture); must not dispose it. */
  capture?: (name: string, value: Tensor, node: Node) => void;
}

/** A reconstruction unit derived from the graph's structure. */
export interface Unit {
  name: string;
  kind: "layer" | "residual" | "inverted-residual" | "transformer" | "block";
  /** Its nodes in topological order. */
  nodes: Node[];
  /** External values it consumes (not initializers): usually one, the previous unit's output. */
  inputs: string[];
  /** The value it produces for the rest of the network. */
  output: string;
  /** Names of the quantizable nodes (Conv, Gemm, MatMul with a weight initializer) inside it. */
  layers: string[];
}
