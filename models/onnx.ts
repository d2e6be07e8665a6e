/**
 * ONNX import: bytes → {@linkcode Graph}, parsed with the protobufjs-generated `onnx-proto`
 * messages. Float initializers become runtime tensors, integer ones host constants; attributes
 * are decoded; nodes are named uniquely and ordered topologically; constant subgraphs and the
 * shape arithmetic torch exports emit are folded to host constants.
 *
 * @example
 * ```ts
 * import { loadOnnx } from "./onnx.ts";
 * const g = loadOnnx("../shared/assets/models/mobilenet_v1_0.25_128.tf1qat_dequant.fp32.onnx");
 * console.log(g.nodes.length, g.inputs[0].shape); // 59 ["batch", 3, 128, 128]
 * ```
 *
 * @module
 */
import onnxProto from "onnx-proto";
import { createHash } from "node:crypto";
import { type Backend, cpu, getBackend, noGrad, tidy, upload } from "../runtime/mod.ts";
import type { AttrValue, Graph, HostConstant, Node, ValueInfo } from "./graph.ts";
import { executeValues, type HostValue, isHost, runNode, SUPPORTED_OPS } from "./execute.ts";

// deno-lint-ignore no-explicit-any
const onnx = (onnxProto as any).onnx;

/** Options of {@linkcode loadOnnx}. */
export interface LoadOptions {
  /** Backend for the float initializers (default: the runtime's default backend). */
  backend?: Backend;
  /**
   * The input shape to fold shape arithmetic for, e.g. `[1, 3, 224, 224]` (default: the graph
   * input's declared shape). The batch dimension stays symbolic either way.
   */
  inputShape?: number[];
  /** Fold constant subgraphs and static shape arithmetic (default true). */
  fold?: boolean;
  /** A name for error messages when loading from bytes. */
  name?: string;
}

/** Thrown when a model uses ops the executor does not implement; lists them all. */
export class UnsupportedOpError extends TypeError {
  constructor(readonly ops: { opType: string; node: string }[], readonly file: string) {
    super(
      `Unsupported ONNX op${ops.length > 1 ? "s" : ""} in ${file}: ` +
        ops.map((o) => `${o.opType} (node "${o.node}")`).join(", "),
    );
    this.name = "UnsupportedOpError";
  }
}

// deno-lint-ignore no-explicit-any
type Msg = any;

/** A protobuf int64 (Long or number) as a number. */
function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "string") return Number(v);
  if (v && typeof v === "object" && "toNumber" in v) {
    return (v as { toNumber(): number }).toNumber();
  }
  return Number(v);
}

const DT = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
};
const FLOATS = new Set([DT.FLOAT, DT.FLOAT16, DT.DOUBLE]);

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Decodes a TensorProto to a flat array, its dims and whether it is floating point. */
export function decodeTensor(
  t: Msg,
  file: string,
): { data: Float32Array | number[]; dims: number[]; float: boolean } {
  const dims: number[] = (t.dims ?? []).map(num);
  const n = dims.reduce((p, d) => p * d, 1);
  const type: number = t.dataType;
  if (t.dataLocation === 1 || (t.externalData?.length ?? 0) > 0) {
    throw new TypeError(`${file}: tensor "${t.name}" uses external data, which is not supported`);
  }
  const float = FLOATS.has(type);
  const raw: Uint8Array | undefined = t.rawData?.length ? t.rawData : undefined;
  if (raw) {
    const buf = new Uint8Array(raw).buffer; // an aligned copy (a Buffer's slice() is a view)
    const dv = new DataView(buf);
    const out = float ? new Float32Array(n) : new Array<number>(n);
    for (let i = 0; i < n; i++) {
      switch (type) {
        case DT.FLOAT:
          out[i] = dv.getFloat32(4 * i, true);
          break;
        case DT.DOUBLE:
          out[i] = dv.getFloat64(8 * i, true);
          break;
        case DT.FLOAT16:
          out[i] = half(dv.getUint16(2 * i, true));
          break;
        case DT.INT64:
          out[i] = Number(dv.getBigInt64(8 * i, true));
          break;
        case DT.UINT64:
          out[i] = Number(dv.getBigUint64(8 * i, true));
          break;
        case DT.INT32:
          out[i] = dv.getInt32(4 * i, true);
          break;
        case DT.UINT32:
          out[i] = dv.getUint32(4 * i, true);
          break;
        case DT.INT16:
          out[i] = dv.getInt16(2 * i, true);
          break;
        case DT.UINT16:
          out[i] = dv.getUint16(2 * i, true);
          break;
        case DT.INT8:
          out[i] = dv.getInt8(i);
          break;
        case DT.UINT8:
        case DT.BOOL:
          out[i] = dv.getUint8(i);
          break;
        default:
          throw new TypeError(`${file}: tensor "${t.name}" has unsupported data type ${type}`);
      }
    }
    if (
      raw.byteLength < n * ({ 1: 4, 11: 8, 10: 2, 7: 8, 13: 8, 6: 4, 12: 4, 5: 2, 4: 2 }[type] ?? 1)
    ) {
      throw new SyntaxError(
        `${file}: tensor "${t.name}" has ${raw.byteLength} bytes for ${n} values`,
      );
    }
    return { data: out, dims, float };
  }
  let src: unknown[];
  if (type === DT.FLOAT) src = t.floatData ?? [];
  else if (type === DT.DOUBLE) src = t.doubleData ?? [];
  else if (type === DT.INT64) src = t.int64Data ?? [];
  else if (type === DT.UINT64 || type === DT.UINT32) src = t.uint64Data ?? [];
  else if (type === DT.FLOAT16) src = (t.int32Data ?? []).map((v: number) => half(v));
  else src = t.int32Data ?? [];
  const vals = src.map(num);
  if (vals.length !== n) {
    throw new SyntaxError(
      `${file}: tensor "${t.name}" has ${vals.length} values for dims [${dims}]`,
    );
  }
  return { data: float ? Float32Array.from(vals) : vals, dims, float };
}

function decodeAttr(a: Msg, file: string): AttrValue {
  const T = onnx.AttributeProto.AttributeType;
  const utf8 = (b: Uint8Array) => new TextDecoder().decode(b);
  let type: number = a.type;
  if (!type) {
    // Older writers leave `type` unset: infer it from the populated field.
    if (a.ints?.length) type = T.INTS;
    else if (a.floats?.length) type = T.FLOATS;
    else if (a.strings?.length) type = T.STRINGS;
    else if (a.t) type = T.TENSOR;
    else if (a.s?.length) type = T.STRING;
    else if (a.f) type = T.FLOAT;
    else type = T.INT;
  }
  switch (type) {
    case T.FLOAT:
      return a.f;
    case T.INT:
      return num(a.i);
    case T.STRING:
      return utf8(a.s);
    case T.FLOATS:
      return [...a.floats];
    case T.INTS:
      return a.ints.map(num);
    case T.STRINGS:
      return a.strings.map(utf8);
    case T.TENSOR: {
      const d = decodeTensor(a.t, file);
      const c: HostConstant = { data: Array.from(d.data), shape: d.dims };
      if (d.float) c.float = true;
      return c;
    }
    default:
      throw new TypeError(`${file}: attribute "${a.name}" has unsupported type ${type}`);
  }
}

function valueInfo(v: Msg): ValueInfo {
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  return {
    name: v.name,
    shape: dims.map((d: Msg, i: number) =>
      d.dimParam
        ? d.dimParam
        : d.dimValue !== undefined && d.dimValue !== null && num(d.dimValue) > 0
        ? num(d.dimValue)
        : `d${i}`
    ),
  };
}

/** SHA-256 of bytes as hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Decodes the ModelProto, turning protobuf failures into a SyntaxError naming the file. */
export function decodeModel(bytes: Uint8Array, file: string): Msg {
  let m: Msg;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new SyntaxError(
      `Cannot parse ONNX model ${file}: ${(e as Error).message} (corrupt or truncated file?)`,
    );
  }
  if (!m.graph || !m.graph.node?.length || !m.graph.output?.length) {
    throw new SyntaxError(
      `Cannot parse ONNX model ${file}: it holds no graph (corrupt or not ONNX?)`,
    );
  }
  return m;
}

/**
 * Loads an ONNX model (a path or the file's bytes) into a {@linkcode Graph}.
 *
 * Throws a SyntaxError naming the file when it is corrupt or truncated, and an
 * {@linkcode UnsupportedOpError} listing every unsupported op (type and node name) at load time.
 */
export function loadOnnx(pathOrBytes: string | URL | Uint8Array, opts: LoadOptions = {}): Graph {
  const file = pathOrBytes instanceof Uint8Array
    ? opts.name ?? "<bytes>"
    : pathOrBytes instanceof URL
    ? pathOrBytes.pathname
    : pathOrBytes;
  const bytes = pathOrBytes instanceof Uint8Array ? pathOrBytes : Deno.readFileSync(pathOrBytes);
  const m = decodeModel(bytes, file);
  const g = m.graph;
  const opsetImport = (m.opsetImport ?? []).find((o: Msg) => !o.domain || o.domain === "ai.onnx");
  const opset = opsetImport ? num(opsetImport.version) : 17;

  // Nodes with unique names.
  const used = new Set<string>();
  const nodes: Node[] = g.node.map((n: Msg, i: number) => {
    let name: string = n.name || `${n.opType}_${i}`;
    for (let k = 1; used.has(name); k++) name = `${n.name || `${n.opType}_${i}`}_${k}`;
    used.add(name);
    const attrs: Record<string, AttrValue> = {};
    for (const a of n.attribute ?? []) attrs[a.name] = decodeAttr(a, file);
    return {
      name,
      opType: n.opType,
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attrs,
      domain: n.domain,
    };
  });

  // Every unsupported op, listed at once.
  const bad: { opType: string; node: string }[] = [];
  for (const n of nodes as (Node & { domain?: string })[]) {
    const foreign = n.domain && n.domain !== "ai.onnx";
    if (foreign || !SUPPORTED_OPS.has(n.opType)) {
      bad.push({ opType: foreign ? `${n.domain}.${n.opType}` : n.opType, node: n.name });
    } else if (
      (n.opType === "Resize" || n.opType === "Upsample") &&
      (n.attrs.mode ?? "nearest") !== "nearest"
    ) {
      bad.push({ opType: `${n.opType}(mode=${n.attrs.mode})`, node: n.name });
    }
    delete (n as { domain?: string }).domain;
  }
  if (bad.length) throw new UnsupportedOpError(bad, file);

  // Initializers: float → runtime tensors, integer → host constants.
  const backend = opts.backend ?? getBackend();
  const initializers = new Map<string, import("../runtime/mod.ts").Tensor>();
  const constants = new Map<string, HostConstant>();
  for (const t of g.initializer ?? []) {
    const d = decodeTensor(t, file);
    if (d.float) initializers.set(t.name, upload(d.data as Float32Array, d.dims, backend));
    else constants.set(t.name, { data: d.data as number[], shape: d.dims });
  }
  const initNames = new Set((g.initializer ?? []).map((t: Msg) => t.name));
  const graph: Graph = {
    name: g.name || file.split("/").pop() || "model",
    inputs: (g.input ?? []).filter((v: Msg) => !initNames.has(v.name)).map(valueInfo),
    outputs: (g.output ?? []).map(valueInfo),
    nodes: topoSort(nodes, [...(g.input ?? []).map((v: Msg) => v.name), ...initNames], file),
    initializers,
    constants,
    opset,
  };
  if (!(pathOrBytes instanceof Uint8Array) || opts.name) {
    graph.source = { path: file, sha256: sha256Hex(bytes) };
  }
  if (opts.fold ?? true) foldConstants(graph, opts.inputShape);
  return graph;
}

/** Orders nodes topologically, keeping the file's order where it is already valid. */
export function topoSort(nodes: Node[], available: Iterable<string>, file = "graph"): Node[] {
  const have = new Set(available);
  have.add("");
  const out: Node[] = [];
  let pending = nodes;
  while (pending.length) {
    const next: Node[] = [];
    for (const n of pending) {
      if (n.inputs.every((i) => have.has(i))) {
        out.push(n);
        n.outputs.forEach((o) => have.add(o));
      } else next.push(n);
    }
    if (next.length === pending.length) {
      const n = next[0];
      const missing = n.inputs.filter((i) => !have.has(i));
      throw new SyntaxError(
        `${file}: node "${n.name}" (${n.opType}) reads ${
          missing.map((s) => `"${s}"`).join(", ")
        }, ` +
          `which no node produces (or the graph has a cycle)`,
      );
    }
    pending = next;
  }
  return out;
}

/**
 * Folds nodes whose inputs are all host constants, then — when Shape nodes remain and the input
 * shape is static apart from the batch dimension — probes the graph at two batch sizes and folds
 * every host value that does not depend on the batch. The rest is folded lazily by `execute`.
 */
export function foldConstants(graph: Graph, inputShape?: number[]): void {
  const ctx = { backend: cpu, host: true, opset: graph.opset ?? 17 };
  const kept: Node[] = [];
  for (const n of graph.nodes) {
    const ins = n.inputs.map((i) => (i ? graph.constants.get(i) : undefined));
    const allConst = n.inputs.every((i, k) => !i || ins[k] !== undefined);
    if (allConst && (n.inputs.some((i) => i) || n.opType === "Constant")) {
      const outs = runNode(n, ins, ctx);
      if (outs.every(isHost)) {
        n.outputs.forEach((o, k) => o && outs[k] && graph.constants.set(o, outs[k] as HostValue));
        continue;
      }
    }
    kept.push(n);
  }
  graph.nodes = kept;
  if (!graph.nodes.some((n) => n.opType === "Shape" || n.opType === "Size")) return;

  // Probe at two batch sizes.
  const shapes = graph.inputs.map((v, i) => {
    const s = i === 0 && inputShape ? [...inputShape] : [...v.shape];
    return s.map((d, k) => (k === 0 ? 0 : d));
  });
  if (shapes.some((s) => s.slice(1).some((d) => typeof d !== "number"))) return;
  const probe = (batch: number) =>
    noGrad(() =>
      tidy(() => {
        const seen = new Map<string, HostValue>();
        const feeds = Object.fromEntries(graph.inputs.map((v, i) => {
          const s = [batch, ...(shapes[i].slice(1) as number[])];
          return [v.name, upload(new Float32Array(s.reduce((p, d) => p * d, 1)), s)];
        }));
        executeValues(graph, { feeds }, { onHost: (name, v) => seen.set(name, v) });
        return seen;
      })
    );
  let a: Map<string, HostValue>, b: Map<string, HostValue>;
  try {
    a = probe(1);
    b = probe(2);
  } catch {
    return; // leave everything to lazy evaluation
  }
  const same = (x: HostValue, y: HostValue) =>
    x.shape.length === y.shape.length && x.shape.every((d, i) => d === y.shape[i]) &&
    x.data.length === y.data.length && x.data.every((d, i) => d === y.data[i]);
  for (const [name, v] of a) {
    const w = b.get(name);
    if (w && same(v, w)) graph.constants.set(name, v);
  }
  graph.nodes = graph.nodes.filter((n) => !n.outputs.every((o) => !o || graph.constants.has(o)));
  pruneDead(graph);
}

/** Removes nodes whose outputs nobody reads and that are not graph outputs. */
export function pruneDead(graph: Graph): void {
  const live = new Set(graph.outputs.map((o) => o.name));
  const keep: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (n.outputs.some((o) => live.has(o))) {
      keep.push(n);
      n.inputs.forEach((x) => x && live.add(x));
    }
  }
  graph.nodes = keep.reverse();
  for (const k of [...graph.constants.keys()]) if (!live.has(k)) graph.constants.delete(k);
}
