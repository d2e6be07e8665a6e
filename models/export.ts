/**
 * Serialises a {@linkcode Graph} back to ONNX (opset 13 or the graph's newer one) so a graph built
 * or modified in TypeScript (BN folded, weights quantized, Q/DQ nodes injected) can be saved and
 * run by onnxruntime.
 *
 * Extra nodes and typed tensors (e.g. QuantizeLinear / DequantizeLinear with int8 zero points) are
 * injected through {@linkcode ExportOptions.extra}; nodes are re-sorted topologically, so they
 * may be appended in any order.
 *
 * @example
 * ```ts
 * import { foldBatchNorm, loadOnnx, toOnnx } from "./mod.ts";
 * const { graph } = foldBatchNorm(loadOnnx("resnet18.onnx"));
 * Deno.writeFileSync("resnet18.folded.onnx", toOnnx(graph));
 * ```
 *
 * @module
 */
import onnxProto from "onnx-proto";
import type { Tensor } from "../runtime/mod.ts";
import type { AttrValue, Graph, HostConstant, Node, ValueInfo } from "./graph.ts";
import { topoSort } from "./onnx.ts";

// deno-lint-ignore no-explicit-any
const onnx = (onnxProto as any).onnx;

/** ONNX element types the exporter writes. */
export type OnnxDType = "float" | "int64" | "int32" | "int8" | "uint8" | "bool";

const DTYPE_CODE: Record<OnnxDType, number> = {
  float: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
};

/** A typed tensor to write as an initializer (e.g. a zero point as int8). */
export interface ExportTensor {
  name: string;
  data: ArrayLike<number>;
  shape: number[];
  dtype: OnnxDType;
}

/** Options of {@linkcode toOnnx}. */
export interface ExportOptions {
  /** Opset to declare (default: the graph's, at least 13). */
  opset?: number;
  /** Graph name in the file. */
  name?: string;
  /** Extra nodes and initializers to inject (Q/DQ, observers' constants). */
  extra?: { nodes?: Node[]; tensors?: ExportTensor[] };
  /** Element type for named constants/initializers (default: float for tensors, int64 for ints). */
  dtypes?: Record<string, OnnxDType>;
  /** Producer string (default "ptq-bench"). */
  producer?: string;
}

/** Attributes that are floats in ONNX even when their value is integral. */
const FLOAT_ATTRS = new Set([
  "alpha",
  "beta",
  "epsilon",
  "momentum",
  "min",
  "max",
  "value_float",
  "gamma",
  "bias",
  "lambd",
  "ratio",
  "cubic_coeff_a",
  "extrapolation_value",
  "spatial_scale",
]);
const FLOAT_LIST_ATTRS = new Set(["scales", "value_floats"]);

function hostData(t: Tensor, name: string): ArrayLike<number> {
  const d = t.backend.readSync?.(t.storage, t.dtype, t.size);
  if (!d) {
    throw new TypeError(
      `toOnnx: "${name}" lives on the ${t.backend.name} backend; read it to the cpu backend first`,
    );
  }
  return d;
}

function tensorProto(name: string, data: ArrayLike<number>, shape: number[], dtype: OnnxDType) {
  const n = shape.reduce((p, d) => p * d, 1);
  if (data.length !== n) {
    throw new RangeError(`toOnnx: "${name}" has ${data.length} values for shape [${shape}]`);
  }
  const code = DTYPE_CODE[dtype];
  let raw: Uint8Array;
  if (dtype === "float") raw = new Uint8Array(Float32Array.from(data).buffer);
  else if (dtype === "int64") {
    const a = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      a[i] = BigInt(Math.trunc(Math.max(Math.min(data[i], 9.2e18), -9.2e18)));
    }
    raw = new Uint8Array(a.buffer);
  } else if (dtype === "int32") raw = new Uint8Array(Int32Array.from(data).buffer);
  else if (dtype === "int8") raw = new Uint8Array(Int8Array.from(data).buffer);
  else raw = Uint8Array.from(data);
  return { name, dataType: code, dims: shape, rawData: raw };
}

function constProto(name: string, c: HostConstant, dtype?: OnnxDType) {
  return tensorProto(name, c.data, c.shape, dtype ?? (c.float ? "float" : "int64"));
}

function attrProto(name: string, v: AttrValue) {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === "string") return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === "number") {
    return FLOAT_ATTRS.has(name) || !Number.isInteger(v)
      ? { name, type: T.FLOAT, f: v }
      : { name, type: T.INT, i: v };
  }
  if (Array.isArray(v)) {
    if (v.length && typeof v[0] === "string") {
      return {
        name,
        type: T.STRINGS,
        strings: (v as string[]).map((s) => new TextEncoder().encode(s)),
      };
    }
    const nums = v as number[];
    return FLOAT_LIST_ATTRS.has(name) || nums.some((x) => !Number.isInteger(x))
      ? { name, type: T.FLOATS, floats: nums }
      : { name, type: T.INTS, ints: nums };
  }
  if ("dtype" in v) {
    const t = v as Tensor;
    return {
      name,
      type: T.TENSOR,
      t: tensorProto(name, hostData(t, name), [...t.shape], t.dtype === "f32" ? "float" : "int64"),
    };
  }
  return { name, type: T.TENSOR, t: constProto(name, v as HostConstant) };
}

function valueInfoProto(v: ValueInfo) {
  // An empty shape means "unknown" here (the loader's reading of a missing shape).
  const shape = v.shape.length
    ? { dim: v.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) }
    : undefined;
  return { name: v.name, type: { tensorType: { elemType: 1, shape } } };
}

/** Attribute-style axes (opset < 13) moved to inputs, for ops whose form changed at opset 13. */
function upgradeNode(n: Node, from: number, extra: Map<string, HostConstant>): Node {
  if (from >= 13) return n;
  const axesToInput = ["Unsqueeze", "Squeeze", "ReduceSum"].includes(n.opType)
    ? "axes"
    : n.opType === "Split"
    ? "split"
    : undefined;
  if (!axesToInput || n.attrs[axesToInput] === undefined) return n;
  const { [axesToInput]: axes, ...rest } = n.attrs;
  const name = `${n.name}.${axesToInput}`;
  extra.set(name, { data: axes as number[], shape: [(axes as number[]).length] });
  return { ...n, inputs: [n.inputs[0], name], attrs: rest };
}

/** Serialises a graph (plus injected extras) to ONNX bytes. */
export function toOnnx(graph: Graph, opts: ExportOptions = {}): Uint8Array {
  const from = graph.opset ?? 13;
  const opset = opts.opset ?? Math.max(from, 13);
  const upgraded = new Map<string, HostConstant>();
  const nodes = [...graph.nodes, ...(opts.extra?.nodes ?? [])].map((n) =>
    upgradeNode(n, from, upgraded)
  );
  const tensors = opts.extra?.tensors ?? [];
  const available = [
    ...graph.inputs.map((v) => v.name),
    ...graph.initializers.keys(),
    ...graph.constants.keys(),
    ...upgraded.keys(),
    ...tensors.map((t) => t.name),
  ];
  const sorted = topoSort(nodes, available, graph.name);
  const read = new Set([...sorted.flatMap((n) => n.inputs), ...graph.outputs.map((o) => o.name)]);
  const dt = opts.dtypes ?? {};

  const initializer = [];
  for (const [name, t] of graph.initializers) {
    if (!read.has(name)) continue;
    initializer.push(tensorProto(name, hostData(t, name), [...t.shape], dt[name] ?? "float"));
  }
  for (const [name, c] of [...graph.constants, ...upgraded]) {
    if (read.has(name) && !graph.initializers.has(name)) {
      initializer.push(constProto(name, c, dt[name]));
    }
  }
  for (const t of tensors) initializer.push(tensorProto(t.name, t.data, t.shape, t.dtype));

  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: opts.producer ?? "ptq-bench",
    opsetImport: [{ domain: "", version: opset }],
    graph: {
      name: opts.name ?? graph.name,
      node: sorted.map((n) => ({
        name: n.name,
        opType: n.opType,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs).map(([k, v]) => attrProto(k, v)),
      })),
      initializer,
      input: graph.inputs.map(valueInfoProto),
      output: graph.outputs.map(valueInfoProto),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
