/**
 * Runs a {@linkcode Graph} on the runtime through ONE op-mapping table: ONNX op type → function
 * of (inputs, attributes, node) → outputs. Every op is written with the runtime's functional API,
 * so a graph runs on whatever backend its feeds and initializers live on.
 *
 * Values are either runtime tensors or host values (integer shape arithmetic, small constants).
 * A node whose inputs are all host values is evaluated on the host (through the `cpu` backend)
 * and yields host values, so the shape arithmetic torch exports emit (Shape → Gather → Unsqueeze
 * → Concat → Reshape) is folded lazily where the loader could not fold it statically.
 *
 * @example
 * ```ts
 * import { execute, loadOnnx } from "./mod.ts";
 * import { Random } from "../runtime/mod.ts";
 * const g = loadOnnx("model.onnx");
 * const logits = execute(g, { feeds: { input: new Random(0).randn([1, 3, 224, 224]) } }).logits;
 * ```
 *
 * @module
 */
import {
  abs,
  add,
  avgPool2d,
  batchNorm,
  cast,
  clip,
  concat,
  conv2d,
  cpu,
  div,
  eq,
  erf,
  exp,
  expand,
  floor,
  gather,
  gemm,
  getBackend,
  gt,
  hardSigmoid,
  isGradEnabled,
  layerNorm,
  leakyRelu,
  log,
  lt,
  matmul,
  max,
  maximum,
  maxPool2d,
  mean,
  min,
  minimum,
  mul,
  neg,
  pad,
  pow,
  relu,
  reshape,
  round,
  runOp,
  sigmoid,
  slice,
  softmax,
  sqrt,
  sub,
  sum,
  tanh,
  type Tensor,
  tidy,
  transpose,
  upload,
  upsampleNearest,
  where,
} from "../runtime/mod.ts";
import type { Backend } from "../runtime/mod.ts";
import type { AttrValue, ExecuteOptions, Graph, HostConstant, Node } from "./graph.ts";

/** A value kept on the host: integer shape arithmetic, or a small float constant (`float`). */
export type HostValue = HostConstant;

/** What flows along an edge: a runtime tensor or a host value. */
export type Value = Tensor | HostValue;

/** True for host values. */
export function isHost(v: Value | undefined): v is HostValue {
  return v !== undefined && !("dtype" in v);
}

/** Context of one node's evaluation. */
export interface OpContext {
  /** The backend tensors are created on (the cpu backend while evaluating on the host). */
  backend: Backend;
  /** True while the node is evaluated on the host (all inputs were host values). */
  host: boolean;
  /** The graph's default opset version. */
  opset: number;
}

/** The inputs of one node, with conversions between tensors and host values. */
export class Inputs {
  constructor(
    readonly values: (Value | undefined)[],
    readonly ctx: OpContext,
    readonly node: Node,
  ) {}
  get length(): number {
    return this.values.length;
  }
  /** Whether optional input `i` is present. */
  has(i: number): boolean {
    return this.values[i] !== undefined;
  }
  /** Input `i` as a tensor (host values are uploaded to the context's backend as f32). */
  t(i: number): Tensor {
    const v = this.#get(i);
    if (!isHost(v)) return v;
    return upload(Float32Array.from(v.data), v.shape, this.ctx.backend);
  }
  /** Input `i` as i32 indices. */
  index(i: number): Tensor {
    const v = this.#get(i);
    if (!isHost(v)) return v.dtype === "i32" ? v : cast(v, "i32");
    return upload(Int32Array.from(v.data), v.shape, this.ctx.backend);
  }
  /** Input `i` as a host value (reads a tensor synchronously where its backend allows it). */
  h(i: number): HostValue {
    const v = this.#get(i);
    if (isHost(v)) return v;
    const data = v.backend.readSync?.(v.storage, v.dtype, v.size);
    if (!data) {
      throw new TypeError(
        `${this.node.opType} node "${this.node.name}": input ${i} ("${
          this.node.inputs[i]
        }") must ` +
          `be a constant, but it is a tensor on the ${v.backend.name} backend`,
      );
    }
    return { data: Array.from(data), shape: [...v.shape], float: v.dtype === "f32" };
  }
  /** Input `i` as a list of numbers (a host constant). */
  ints(i: number): number[] {
    return this.h(i).data;
  }
  /** The shape of input `i`. */
  shape(i: number): number[] {
    const v = this.#get(i);
    return [...v.shape];
  }
  #get(i: number): Value {
    const v = this.values[i];
    if (v === undefined) {
      throw new RangeError(
        `${this.node.opType} node "${this.node.name}": input ${i} is missing`,
      );
    }
    return v;
  }
}

/** One entry of the op table. */
export type OpFn = (x: Inputs, attrs: Record<string, AttrValue>, node: Node) => Value | Value[];

// ---------------------------------------------------------------------------------------------
// Attribute helpers

const int = (a: Record<string, AttrValue>, k: string, d: number): number =>
  (a[k] as number | undefined) ?? d;
const ints = (a: Record<string, AttrValue>, k: string): number[] | undefined =>
  a[k] as number[] | undefined;
const str = (a: Record<string, AttrValue>, k: string, d: string): string =>
  (a[k] as string | undefined) ?? d;

/** Normalises an axis for a given rank. */
const na = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

/** Pads `[top, left, bottom, right]` from ONNX attributes, resolving `auto_pad`. */
export function spatialPads(
  a: Record<string, AttrValue>,
  inHW: number[],
  kernel: number[],
  strides: number[],
  dilations: number[],
): [number, number, number, number] {
  const auto = str(a, "auto_pad", "NOTSET");
  if (auto === "SAME_UPPER" || auto === "SAME_LOWER") {
    const p = [0, 0, 0, 0];
    for (let d = 0; d < 2; d++) {
      const out = Math.ceil(inHW[d] / strides[d]);
      const total = Math.max(
        0,
        (out - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1 - inHW[d],
      );
      const small = Math.floor(total / 2);
      p[d] = auto === "SAME_UPPER" ? small : total - small;
      p[d + 2] = total - p[d];
    }
    return p as [number, number, number, number];
  }
  if (auto === "VALID") return [0, 0, 0, 0];
  const pads = ints(a, "pads") ?? [0, 0, 0, 0];
  return [pads[0], pads[1], pads[2], pads[3]];
}

function as2d(v: number[] | undefined, d: number): [number, number] {
  return v ? [v[0], v[1] ?? v[0]] : [d, d];
}

function pool(x: Inputs, a: Record<string, AttrValue>, node: Node, kind: "max" | "avg"): Tensor {
  const t = x.t(0);
  if (t.rank !== 4) {
    throw new RangeError(`${node.opType} node "${node.name}": only 2-D pooling is supported`);
  }
  const kernel = as2d(ints(a, "kernel_shape"), 1);
  const strides = as2d(ints(a, "strides"), 1);
  const dil = as2d(ints(a, "dilations"), 1);
  if (dil[0] !== 1 || dil[1] !== 1) {
    throw new RangeError(`${node.opType} node "${node.name}": dilated pooling is not supported`);
  }
  const pads = spatialPads(a, t.shape.slice(2), kernel, strides, dil);
  if (int(a, "ceil_mode", 0)) {
    for (let d = 0; d < 2; d++) {
      const n = t.shape[2 + d] + pads[d] + pads[d + 2];
      let out = Math.ceil((n - kernel[d]) / strides[d]) + 1;
      if ((out - 1) * strides[d] >= t.shape[2 + d] + pads[d]) out--;
      pads[d + 2] += Math.max(0, (out - 1) * strides[d] + kernel[d] - n);
    }
  }
  return kind === "max"
    ? maxPool2d(t, kernel, { strides, pads })
    : avgPool2d(t, kernel, { strides, pads, countIncludePad: !!int(a, "count_include_pad", 0) });
}

/** Axes from the attribute (older opsets) or from input `slot` (newer ones). */
function axesOf(x: Inputs, a: Record<string, AttrValue>, slot: number): number[] | undefined {
  if (x.has(slot)) return x.ints(slot);
  return ints(a, "axes");
}

function reduce(kind: "mean" | "sum" | "max" | "min"): OpFn {
  return (x, a) => {
    const t = x.t(0);
    let axes = axesOf(x, a, 1);
    if (!axes || axes.length === 0) {
      if (int(a, "noop_with_empty_axes", 0)) return reshape(t, t.shape);
      axes = t.shape.map((_, i) => i);
    }
    const keep = !!int(a, "keepdims", 1);
    const ax = axes.map((v) => na(v, t.rank));
    const f = { mean, sum, max, min }[kind];
    return f(t, ax, keep);
  };
}

function squeezeAxes(shape: number[], axes: number[] | undefined): number[] {
  const ax = new Set(
    (axes ?? shape.flatMap((d, i) => (d === 1 ? [i] : []))).map((v) => na(v, shape.length)),
  );
  return shape.filter((_, i) => !ax.has(i));
}

function unsqueezeShape(shape: number[], axes: number[]): number[] {
  const rank = shape.length + axes.length;
  const ax = new Set(axes.map((v) => na(v, rank)));
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(ax.has(i) ? 1 : shape[j++]);
  return out;
}

const unary = (f: (t: Tensor) => Tensor): OpFn => (x) => f(x.t(0));
const binary = (f: (a: Tensor, b: Tensor) => Tensor): OpFn => (x) => f(x.t(0), x.t(1));
const variadic = (f: (a: Tensor, b: Tensor) => Tensor): OpFn => (x) => {
  let y = x.t(0);
  for (let i = 1; i < x.length; i++) y = f(y, x.t(i));
  return x.length === 1 ? reshape(y, y.shape) : y;
};

/** ONNX TensorProto data types that are floating point. */
const FLOAT_TYPES = new Set([1, 10, 11, 16]);

function linspaceShape(total: number, shape: number[]): number[] {
  const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
  return shape.map((d) => (d === -1 ? total / known : d));
}

// ---------------------------------------------------------------------------------------------
// The op table

/** ONNX op type → implementation. The single place where ONNX semantics meet the runtime. */
export const ONNX_OPS: Record<string, OpFn> = {
  // --- convolution and dense layers
  Conv: (x, a, node) => {
    const xt = x.t(0), w = x.t(1);
    if (xt.rank !== 4) {
      throw new RangeError(
        `Conv node "${node.name}": only 2-D convolution is supported (input rank ${xt.rank})`,
      );
    }
    const strides = as2d(ints(a, "strides"), 1);
    const dilations = as2d(ints(a, "dilations"), 1);
    const kernel = ints(a, "kernel_shape") ?? w.shape.slice(2);
    const pads = spatialPads(a, xt.shape.slice(2), kernel, strides, dilations);
    return conv2d(xt, w, x.has(2) ? x.t(2) : undefined, {
      strides,
      dilations,
      pads,
      groups: int(a, "group", 1),
    });
  },
  ConvTranspose: (x, a, node) => {
    const xt = x.t(0), w = x.t(1);
    if (xt.rank !== 4) {
      throw new RangeError(`ConvTranspose node "${node.name}": only 2-D is supported`);
    }
    const strides = as2d(ints(a, "strides"), 1);
    const dilations = as2d(ints(a, "dilations"), 1);
    const groups = int(a, "group", 1);
    const [kh, kw] = w.shape.slice(2);
    const outPad = ints(a, "output_padding") ?? [0, 0];
    let pads = (ints(a, "pads") ?? [0, 0, 0, 0]) as [number, number, number, number];
    const inHW = xt.shape.slice(2);
    const full = (d: number, k: number) =>
      strides[d] * (inHW[d] - 1) + outPad[d] + (k - 1) * dilations[d] + 1;
    let outHW: number[];
    const outputShape = ints(a, "output_shape");
    const auto = str(a, "auto_pad", "NOTSET");
    if (outputShape || auto === "SAME_UPPER" || auto === "SAME_LOWER") {
      outHW = outputShape ? outputShape.slice(-2) : inHW.map((v, d) => v * strides[d]);
      const total = [full(0, kh) - outHW[0], full(1, kw) - outHW[1]];
      const lower = auto === "SAME_LOWER";
      const b = total.map((t) => (lower ? Math.ceil(t / 2) : Math.floor(t / 2)));
      pads = [b[0], b[1], total[0] - b[0], total[1] - b[1]];
    } else {
      outHW = [full(0, kh) - pads[0] - pads[2], full(1, kw) - pads[1] - pads[3]];
    }
    const y = runOp("conv2dBackwardInput", [xt, w], {
      strides,
      dilations,
      pads,
      groups,
      inputShape: [xt.shape[0], w.shape[1] * groups, outHW[0], outHW[1]],
    });
    return x.has(2) ? add(y, reshape(x.t(2), [1, -1, 1, 1])) : y;
  },
  Gemm: (x, a) => {
    const c = x.has(2) ? x.t(2) : undefined;
    return gemm(x.t(0), x.t(1), c, {
      transA: !!int(a, "transA", 0),
      transB: !!int(a, "transB", 0),
      alpha: (a.alpha as number | undefined) ?? 1,
      beta: (a.beta as number | undefined) ?? 1,
    });
  },
  MatMul: (x) => {
    let A = x.t(0), B = x.t(1);
    const va = A.rank === 1, vb = B.rank === 1;
    if (va) A = reshape(A, [1, A.size]);
    if (vb) B = reshape(B, [B.size, 1]);
    let y = matmul(A, B);
    if (va || vb) {
      const s = [...y.shape];
      if (vb) s.splice(s.length - 1, 1);
      if (va) s.splice(s.length - (vb ? 1 : 2), 1);
      y = reshape(y, s);
    }
    return y;
  },

  // --- elementwise
  Add: binary(add),
  Sub: binary(sub),
  Mul: binary(mul),
  Div: (x) => {
    const y = div(x.t(0), x.t(1));
    // Integer division truncates (host shape arithmetic).
    const ints = x.ctx.host && !x.h(0).float && !x.h(1).float;
    return ints ? floorToward0(y) : y;
  },
  Pow: (x) => {
    if (x.ctx.host || !isHost(x.values[1])) return pow(x.t(0), x.t(1));
    const e = x.h(1);
    if (e.data.length === 1 && e.data[0] === 2) return mul(x.t(0), x.t(0));
    return pow(x.t(0), x.t(1));
  },
  Sqrt: unary(sqrt),
  Exp: unary(exp),
  Log: unary(log),
  Neg: unary(neg),
  Abs: unary(abs),
  Floor: unary(floor),
  Round: unary(round),
  Reciprocal: unary((t) => div(1, t)),
  Erf: unary(erf),
  Relu: unary(relu),
  Sigmoid: unary(sigmoid),
  Tanh: unary(tanh),
  LeakyRelu: (x, a) => leakyRelu(x.t(0), (a.alpha as number | undefined) ?? 0.01),
  HardSigmoid: (x, a) =>
    hardSigmoid(
      x.t(0),
      (a.alpha as number | undefined) ?? 0.2,
      (a.beta as number | undefined) ?? 0.5,
    ),
  HardSwish: (x) => {
    const t = x.t(0);
    return mul(t, hardSigmoid(t, 1 / 6, 0.5));
  },
  Gelu: (x, a) => {
    const t = x.t(0);
    if (str(a, "approximate", "none") === "tanh") {
      const inner = mul(add(t, mul(pow(t, 3), 0.044715)), Math.sqrt(2 / Math.PI));
      return mul(mul(t, 0.5), add(tanh(inner), 1));
    }
    return mul(mul(t, 0.5), add(erf(mul(t, Math.SQRT1_2)), 1));
  },
  Clip: (x, a) => {
    const t = x.t(0);
    // opset < 11: min/max attributes; opset >= 11: optional inputs.
    let lo: number | Tensor = (a.min as number | undefined) ?? -Infinity;
    let hi: number | Tensor = (a.max as number | undefined) ?? Infinity;
    const bound = (i: number): number | Tensor => {
      const v = x.values[i]!;
      if (isHost(v)) return v.data[0];
      const host = v.backend.readSync?.(v.storage, v.dtype, v.size);
      return host ? host[0] : v;
    };
    if (x.has(1)) lo = bound(1);
    if (x.has(2)) hi = bound(2);
    if (typeof lo === "number" && typeof hi === "number") return clip(t, lo, hi);
    let y = typeof lo === "number"
      ? (lo === -Infinity ? t : clip(t, lo, Infinity))
      : maximum(t, lo);
    y = typeof hi === "number" ? (hi === Infinity ? y : clip(y, -Infinity, hi)) : minimum(y, hi);
    return y === t ? reshape(t, t.shape) : y;
  },
  Max: variadic(maximum),
  Min: variadic(minimum),
  Sum: variadic(add),
  Equal: binary(eq),
  Less: binary(lt),
  Greater: binary(gt),
  Not: unary((t) => eq(t, 0)),
  Where: (x) => where(x.t(0), x.t(1), x.t(2)),

  // --- normalisation and pooling
  BatchNormalization: (x, a) => {
    const t = x.t(0);
    return batchNorm(t, {
      gamma: x.t(1),
      beta: x.t(2),
      runningMean: x.t(3),
      runningVar: x.t(4),
      eps: (a.epsilon as number | undefined) ?? 1e-5,
    });
  },
  LayerNormalization: (x, a) =>
    layerNorm(
      x.t(0),
      x.has(1) ? x.t(1) : undefined,
      x.has(2) ? x.t(2) : undefined,
      (a.epsilon as number | undefined) ?? 1e-5,
      int(a, "axis", -1),
    ),
  MaxPool: (x, a, n) => pool(x, a, n, "max"),
  AveragePool: (x, a, n) => pool(x, a, n, "avg"),
  GlobalAveragePool: (x) => {
    const t = x.t(0);
    return mean(t, t.shape.slice(2).map((_, i) => i + 2), true);
  },
  GlobalMaxPool: (x) => {
    const t = x.t(0);
    return max(t, t.shape.slice(2).map((_, i) => i + 2), true);
  },
  ReduceMean: reduce("mean"),
  ReduceSum: reduce("sum"),
  ReduceMax: reduce("max"),
  ReduceMin: reduce("min"),
  Softmax: (x, a) => {
    const t = x.t(0);
    const opset = x.ctx.opset;
    const axis = na(int(a, "axis", opset >= 13 ? -1 : 1), t.rank);
    if (opset >= 13 || axis === t.rank - 1) return softmax(t, axis);
    const rows = t.shape.slice(0, axis).reduce((p, d) => p * d, 1);
    return reshape(softmax(reshape(t, [rows, t.size / rows]), 1), t.shape);
  },
  Resize: (x, a, node) => {
    const t = x.t(0);
    const mode = str(a, "mode", "nearest");
    if (mode !== "nearest") {
      throw new RangeError(
        `Resize node "${node.name}": mode "${mode}" is not supported (nearest only)`,
      );
    }
    let scales: number[];
    const sizes = x.has(3) ? x.ints(3) : [];
    if (sizes.length) scales = sizes.map((s, i) => s / t.shape[i]);
    else scales = x.ints(x.has(2) ? 2 : 1); // opset 10: (X, scales)
    if (
      scales[0] !== 1 || scales[1] !== 1 || !Number.isInteger(scales[2]) ||
      !Number.isInteger(scales[3])
    ) {
      throw new RangeError(
        `Resize node "${node.name}": only integer spatial scales are supported, got [${scales}]`,
      );
    }
    return upsampleNearest(t, [scales[2], scales[3]]);
  },
  Upsample: (x, a, node) => ONNX_OPS.Resize(x, a, node),

  // --- movement and shape
  Identity: (x) => {
    const v = x.values[0]!;
    return isHost(v) ? v : reshape(v, v.shape);
  },
  Dropout: (x) => ONNX_OPS.Identity(x, {}, x.node),
  Flatten: (x, a) => {
    const t = x.t(0);
    const axis = na(int(a, "axis", 1), t.rank);
    const lead = t.shape.slice(0, axis).reduce((p, d) => p * d, 1);
    return reshape(t, [lead, t.size / lead]);
  },
  Reshape: (x, a) => {
    const t = x.t(0);
    const target = x.has(1) ? x.ints(1) : (ints(a, "shape") ?? []);
    const allowZero = !!int(a, "allowzero", 0);
    const shape = target.map((d, i) => (d === 0 && !allowZero ? t.shape[i] : d));
    return reshape(t, linspaceShape(t.size, shape));
  },
  Transpose: (x, a) => {
    const t = x.t(0);
    return transpose(t, ints(a, "perm") ?? t.shape.map((_, i) => t.rank - 1 - i));
  },
  Concat: (x, a) => {
    const ts = x.values.map((_, i) => i).filter((i) => x.has(i)).map((i) => x.t(i))
      .filter((t, _, all) => t.size > 0 || all.every((u) => u.size === 0));
    const axis = na(int(a, "axis", 0), ts[0].rank);
    return ts.length === 1 ? reshape(ts[0], ts[0].shape) : concat(ts, axis);
  },
  Split: (x, a, node) => {
    const t = x.t(0);
    const axis = na(int(a, "axis", 0), t.rank);
    const d = t.shape[axis];
    let parts = x.has(1) ? x.ints(1) : ints(a, "split");
    if (!parts || parts.length === 0) {
      const n = (a.num_outputs as number | undefined) ?? node.outputs.length;
      const chunk = Math.ceil(d / n);
      parts = Array.from({ length: n }, (_, i) => Math.min(chunk, d - i * chunk));
    }
    let start = 0;
    return parts.map((p) => {
      const y = slice(t, [start], [start + p], [axis]);
      start += p;
      return y;
    });
  },
  Slice: (x, a, node) => {
    const t = x.t(0);
    const starts = x.has(1) ? x.ints(1) : (ints(a, "starts") ?? []);
    const ends = x.has(2) ? x.ints(2) : (ints(a, "ends") ?? []);
    const axes = x.has(3) ? x.ints(3) : (ints(a, "axes") ?? starts.map((_, i) => i));
    const steps = x.has(4) ? x.ints(4) : starts.map(() => 1);
    if (steps.some((s) => s <= 0)) {
      throw new RangeError(`Slice node "${node.name}": negative steps are not supported`);
    }
    const clampBig = (v: number) => Math.max(Math.min(v, 2 ** 31 - 1), -(2 ** 31));
    return slice(t, starts.map(clampBig), ends.map(clampBig), axes, steps);
  },
  Gather: (x, a) => {
    const t = x.t(0);
    const axis = na(int(a, "axis", 0), t.rank);
    let idx = x.index(1);
    // Negative indices count from the end.
    if (isHost(x.values[1])) {
      const h = x.h(1);
      if (h.data.some((v) => v < 0)) {
        idx = upload(
          Int32Array.from(h.data.map((v) => (v < 0 ? v + t.shape[axis] : v))),
          h.shape,
          x.ctx.backend,
        );
      }
    }
    return gather(t, idx, axis);
  },
  Squeeze: (x, a) => {
    const t = x.t(0);
    return reshape(t, squeezeAxes([...t.shape], axesOf(x, a, 1)));
  },
  Unsqueeze: (x, a) => {
    const t = x.t(0);
    return reshape(t, unsqueezeShape([...t.shape], axesOf(x, a, 1) ?? []));
  },
  Expand: (x) => {
    const t = x.t(0);
    const shape = x.ints(1);
    const n = Math.max(shape.length, t.rank);
    const full = Array.from({ length: n }, (_, i) => {
      const s = shape[i - (n - shape.length)] ?? 1;
      const d = t.shape[i - (n - t.rank)] ?? 1;
      return s === 1 ? d : s;
    });
    return expand(t, full);
  },
  Pad: (x, a, node) => {
    const mode = str(a, "mode", "constant");
    if (mode !== "constant") {
      throw new RangeError(`Pad node "${node.name}": mode "${mode}" is not supported`);
    }
    const t = x.t(0);
    let pads = x.has(1) ? x.ints(1) : (ints(a, "pads") ?? []);
    const value = x.has(2) ? x.h(2).data[0] : ((a.value as number | undefined) ?? 0);
    if (x.has(3)) {
      const axes = x.ints(3).map((v) => na(v, t.rank));
      const full = new Array(2 * t.rank).fill(0);
      axes.forEach((ax, i) => {
        full[ax] = pads[i];
        full[ax + t.rank] = pads[i + axes.length];
      });
      pads = full;
    }
    return pad(t, pads, value);
  },
  Shape: (x, a) => {
    const s = x.shape(0);
    const r = s.length;
    const start = Math.min(Math.max(na(int(a, "start", 0), r), 0), r);
    const end = Math.min(Math.max(na(int(a, "end", r), r), 0), r);
    const data = s.slice(start, end);
    return { data, shape: [data.length] };
  },
  Size: (x) => ({ data: [x.shape(0).reduce((p, d) => p * d, 1)], shape: [] }),
  Constant: (_x, a, node) => {
    const v = constantAttr(a);
    if (!v) throw new RangeError(`Constant node "${node.name}": no supported value attribute`);
    return v;
  },
  ConstantOfShape: (x, a) => {
    const shape = x.ints(0);
    const v = a.value === undefined
      ? { data: [0], float: true }
      : constantAttr({ value: a.value })!;
    const n = shape.reduce((p, d) => p * d, 1);
    return { data: new Array(n).fill(v.data[0]), shape, float: v.float };
  },
  Range: (x) => {
    const [start, limit, delta] = [x.h(0), x.h(1), x.h(2)];
    const n = Math.max(Math.ceil((limit.data[0] - start.data[0]) / delta.data[0]), 0);
    const data = Array.from({ length: n }, (_, i) => start.data[0] + i * delta.data[0]);
    return { data, shape: [n], float: start.float };
  },
  Cast: (x, a) => {
    const to = int(a, "to", 1);
    const v = x.values[0]!;
    const toFloat = FLOAT_TYPES.has(to);
    if (isHost(v)) {
      const data = toFloat
        ? v.data
        : v.data.map((d) => (to === 9 ? (d !== 0 ? 1 : 0) : Math.trunc(d)));
      return { data, shape: v.shape, float: toFloat };
    }
    if (toFloat) return v.dtype === "f32" ? reshape(v, v.shape) : cast(v, "f32");
    if (to === 9) return cast(eq(eq(v, 0), 0), "f32");
    return floorToward0(v.dtype === "f32" ? v : cast(v, "f32"));
  },
};

/** Truncates toward zero (f32 in, f32 out). */
function floorToward0(y: Tensor): Tensor {
  return where(lt(y, 0), neg(floor(neg(y))), floor(y));
}

/** A Constant node's value as a host value. */
export function constantAttr(a: Record<string, AttrValue>): HostValue | undefined {
  if (a.value !== undefined) {
    const v = a.value as unknown;
    if (isHost(v as Value)) return v as HostValue;
    const t = v as Tensor;
    const data = t.dataSync();
    return { data: Array.from(data), shape: [...t.shape], float: t.dtype === "f32" };
  }
  if (a.value_float !== undefined) {
    return { data: [a.value_float as number], shape: [], float: true };
  }
  if (a.value_floats !== undefined) {
    const d = a.value_floats as number[];
    return { data: d, shape: [d.length], float: true };
  }
  if (a.value_int !== undefined) return { data: [a.value_int as number], shape: [] };
  if (a.value_ints !== undefined) {
    const d = a.value_ints as number[];
    return { data: d, shape: [d.length] };
  }
  return undefined;
}

/** The op types {@linkcode execute} supports. */
export const SUPPORTED_OPS: ReadonlySet<string> = new Set(Object.keys(ONNX_OPS));

// ---------------------------------------------------------------------------------------------
// Execution

/** The nodes needed to compute `fetch` from `known` values, in graph order. */
export function neededNodes(graph: Graph, fetch: string[], known: Iterable<string>): Node[] {
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o, i)));
  const have = new Set(known);
  const need = new Set<number>();
  const stack = [...fetch];
  while (stack.length) {
    const v = stack.pop()!;
    if (have.has(v) || graph.initializers.has(v) || graph.constants.has(v)) continue;
    have.add(v);
    const p = producer.get(v);
    if (p === undefined || need.has(p)) continue;
    need.add(p);
    for (const i of graph.nodes[p].inputs) if (i) stack.push(i);
  }
  return graph.nodes.filter((_, i) => need.has(i));
}

/** Internal options of {@linkcode executeValues}. */
export interface ExecuteInternals {
  /** Sees every host value computed (used by the loader to fold shape arithmetic). */
  onHost?: (name: string, value: HostValue, node: Node) => void;
}

/** Evaluates one node on already-resolved inputs. */
export function runNode(node: Node, values: (Value | undefined)[], ctx: OpContext): Value[] {
  const fn = ONNX_OPS[node.opType];
  if (!fn) {
    throw new TypeError(`Unsupported ONNX op ${node.opType} (node "${node.name}")`);
  }
  const present = values.filter((v) => v !== undefined);
  const host = present.every(isHost) && (present.length > 0 || node.opType === "Constant");
  if (host) {
    const hctx: OpContext = { ...ctx, backend: cpu, host: true };
    return tidy(() => {
      const out = fn(new Inputs(values, hctx, node), node.attrs, node);
      const outs = Array.isArray(out) ? out : [out];
      return outs.map((o) => (isHost(o) ? o : toHost(o, values)));
    }) as Value[];
  }
  const run = () => {
    const out = fn(new Inputs(values, ctx, node), node.attrs, node);
    return Array.isArray(out) ? out : [out];
  };
  const grad = isGradEnabled() && present.some((v) => !isHost(v) && v.requiresGrad);
  const outs = grad ? run() : tidy(run);
  // Never hand back an input object under a new name: views keep disposal independent.
  return outs.map((o) => (!isHost(o) && values.includes(o) ? reshape(o, o.shape) : o));
}

function toHost(t: Tensor, inputs: (Value | undefined)[]): HostValue {
  const float = inputs.some((v) => isHost(v) && v.float);
  const raw = Array.from(t.dataSync());
  return { data: float ? raw : raw.map((v) => Math.round(v)), shape: [...t.shape], float };
}

/**
 * Runs a graph (or a subset of its nodes) and returns the fetched values as tensors.
 *
 * Intermediates are released after their last use, except values that require gradients
 * (they stay alive for `backward`; wrap training steps in `tidy`). Feeds and initializers are
 * never released. Tensors created by the `param`/`output` hooks are not released here: run
 * inside `tidy` when the hooks allocate. `capture` must not keep a value beyond the call
 * (fetch it instead).
 */
export function execute(graph: Graph, opts: ExecuteOptions): Record<string, Tensor> {
  const { values, backend } = executeValues(graph, opts);
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(values)) {
    out[k] = isHost(v) ? upload(Float32Array.from(v.data), v.shape, backend) : v;
  }
  return out;
}

/** Like {@linkcode execute}, returning host values as they are. */
export function executeValues(
  graph: Graph,
  opts: ExecuteOptions,
  internals: ExecuteInternals = {},
): { values: Record<string, Value>; backend: Backend } {
  const fetch = opts.fetch ?? graph.outputs.map((o) => o.name);
  const nodes = opts.nodes ?? neededNodes(graph, fetch, Object.keys(opts.feeds));
  const firstFeed = Object.values(opts.feeds)[0];
  const backend = firstFeed?.backend ?? graph.initializers.values().next().value?.backend ??
    getBackend();
  const ctx: OpContext = { backend, host: false, opset: graph.opset ?? 17 };

  const env = new Map<string, Value>(Object.entries(opts.feeds));
  const owned = new Set<string>();
  // Values a recorded (gradient) op read: its backward may need them, so the caller's tidy
  // releases them, not this loop.
  const pinned = new Set<string>();
  const keepNames = new Set(fetch);
  const lastUse = new Map<string, number>();
  nodes.forEach((n, i) => n.inputs.forEach((v) => v && lastUse.set(v, i)));

  const read = (node: Node, slot: number): Value | undefined => {
    const name = node.inputs[slot];
    if (!name) return undefined;
    const v = env.get(name);
    if (v !== undefined) return v;
    const init = graph.initializers.get(name);
    if (init) return opts.param ? opts.param(node, slot, init) : init;
    const c = graph.constants.get(name);
    if (c) return c;
    throw new ReferenceError(
      `execute: value "${name}" needed by ${node.opType} node "${node.name}" is not available ` +
        `(not fed, not an initializer, not produced by an earlier node)`,
    );
  };

  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i];
    const ins = node.inputs.map((_, s) => read(node, s));
    let outs: Value[];
    try {
      outs = runNode(node, ins, ctx);
    } catch (e) {
      if (e instanceof Error && !e.message.includes(`"${node.name}"`)) {
        e.message = `${node.opType} node "${node.name}": ${e.message}`;
      }
      throw e;
    }
    node.outputs.forEach((name, s) => {
      if (!name) return;
      let v = outs[s];
      if (v === undefined) return;
      if (isHost(v)) {
        internals.onHost?.(name, v, node);
      } else {
        if (opts.output) {
          const r = opts.output(node, s, v);
          if (r !== v && !v.requiresGrad && !r.requiresGrad) v.dispose();
          v = r;
        }
        opts.capture?.(name, v, node);
      }
      env.set(name, v);
      owned.add(name);
    });
    if (outs.some((o) => !isHost(o) && o.requiresGrad)) {
      for (const n of node.inputs) if (n) pinned.add(n);
    }
    // Extra outputs nobody asked for (e.g. Dropout's mask) are dropped.
    for (let s = node.outputs.length; s < outs.length; s++) {
      const v = outs[s];
      if (!isHost(v) && !v.requiresGrad) v.dispose();
    }
    for (const name of new Set(node.inputs)) {
      if (!name || lastUse.get(name) !== i || !owned.has(name) || keepNames.has(name)) continue;
      if (pinned.has(name)) continue;
      const v = env.get(name)!;
      env.delete(name);
      if (!isHost(v) && !v.requiresGrad) v.dispose();
    }
    for (const name of node.outputs) {
      // Outputs nobody reads and nobody fetched.
      if (!name || lastUse.has(name) || keepNames.has(name) || !env.has(name)) continue;
      const v = env.get(name)!;
      env.delete(name);
      if (!isHost(v) && !v.requiresGrad) v.dispose();
    }
  }
  const values: Record<string, Value> = {};
  for (const name of fetch) {
    const v = env.get(name) ?? graph.initializers.get(name) ?? graph.constants.get(name);
    if (v === undefined) {
      throw new ReferenceError(`execute: fetched value "${name}" was not computed`);
    }
    values[name] = v;
  }
  return { values, backend };
}
