/**
 * The op table: the single source of truth for the runtime's primitive ops.
 *
 * Every primitive op is a key of {@linkcode OpAttrs}. Backends (`cpu`, `webgpu`) and the
 * gradient rules are typed tables over {@linkcode Op}, so a new op does not compile until every
 * backend and the autograd table have it. Composite ops (softmax, layer norm, fake-quant, losses)
 * are built from these primitives in `nn.ts` and `quant.ts`.
 *
 * @module
 */

/** Element types. `f32` for values, `i32` for indices and integer codes. */
export type DType = "f32" | "i32";

/** 2-D convolution attributes; pads are `[top, left, bottom, right]` (asymmetric allowed). */
export interface Conv2dAttrs {
  strides: [number, number];
  pads: [number, number, number, number];
  dilations: [number, number];
  groups: number;
}

/** 2-D pooling attributes; pads are `[top, left, bottom, right]`. */
export interface Pool2dAttrs {
  kernel: [number, number];
  strides: [number, number];
  pads: [number, number, number, number];
  /** Average pooling only: count padded cells in the divisor (ONNX `count_include_pad`). */
  countIncludePad?: boolean;
}

type None = Record<PropertyKey, never>;

/**
 * QDrop's drop inside {@linkcode OpAttrs.fakeQuant}: the elements where the counter-based mask
 * (`randomMask` with these attributes) is 1 stay in float.
 */
export interface QuantDrop {
  p: number;
  k0: number;
  k1: number;
}

/** Attributes of every primitive op; the keys are the op names. */
export interface OpAttrs {
  // unary elementwise (f32 -> f32)
  neg: None;
  exp: None;
  log: None;
  sqrt: None;
  abs: None;
  sign: None;
  relu: None;
  sigmoid: None;
  tanh: None;
  erf: None;
  round: None; // round half to even, as ONNX and torch do
  floor: None;
  /** Rounds forward; the straight-through estimator passes the gradient unchanged backward. */
  roundSte: None;
  clip: { lo: number; hi: number };
  // binary elementwise with broadcasting
  add: None;
  sub: None;
  mul: None;
  div: None;
  pow: None;
  minimum: None;
  maximum: None;
  lt: None;
  le: None;
  gt: None;
  ge: None;
  eq: None;
  ne: None;
  // ternary
  where: None;
  // reductions over `axes`; an empty `axes` list reduces nothing
  sum: { axes: number[]; keepDims: boolean };
  max: { axes: number[]; keepDims: boolean };
  min: { axes: number[]; keepDims: boolean };
  argmax: { axis: number; keepDims: boolean };
  /** Indices (i32) of the `k` largest values along the last axis, largest first. */
  topk: { k: number };
  // linear algebra and convolution
  matmul: { transA: boolean; transB: boolean };
  conv2d: Conv2dAttrs;
  conv2dBackwardInput: Conv2dAttrs & { inputShape: number[] };
  conv2dBackwardWeight: Conv2dAttrs & { weightShape: number[] };
  maxPool2d: Pool2dAttrs;
  maxPool2dBackward: Pool2dAttrs;
  avgPool2d: Pool2dAttrs;
  avgPool2dBackward: Pool2dAttrs & { inputShape: number[] };
  upsampleNearest: { scale: [number, number] };
  upsampleNearestBackward: { scale: [number, number] };
  // movement
  transpose: { perm: number[] };
  concat: { axis: number };
  slice: { starts: number[]; ends: number[]; steps: number[] };
  sliceBackward: { inputShape: number[]; starts: number[]; steps: number[] };
  pad: { pads: number[]; value: number }; // pads: [begin_0..begin_n-1, end_0..end_n-1]
  gather: { axis: number };
  gatherBackward: { axis: number; inputShape: number[] };
  expand: { shape: number[] };
  cast: { dtype: DType };
  // fused quantization
  /**
   * Uniform affine fake-quant of inputs `[x, scale, zeroPoint]` (broadcast):
   * `(clamp(round(x / s) + z, qmin, qmax) - z) * s`, rounding half to even, every step in f32
   * (bit-identical to the composite of primitives on the cpu backend). With `drop` (QDrop), element
   * `i` is left as `x` where {@linkcode OpAttrs.randomMask}'s mask with the same `p`, `k0`, `k1`
   * is 1: exactly `where(randomMask(x), x, fakeQuant(x))`, in one pass and without the mask.
   */
  fakeQuant: { qmin: number; qmax: number; drop?: QuantDrop };
  /**
   * fakeQuant's gradient from inputs `[g, x, scale, zeroPoint]`, at the broadcast shape:
   * `wrt: "x"`: the straight-through estimator, `g` where `qmin <= round(x/s) + z <= qmax`, else 0;
   * `wrt: "scale"`: LSQ's, `g * (round(x/s) - x/s)` inside, `g * (clamp(..) - z)` outside
   * (callers sum it to the scale's shape). With `drop`, the kept elements pass `g` to `x` and
   * nothing to the scale.
   */
  fakeQuantBackward: { qmin: number; qmax: number; wrt: "x" | "scale"; drop?: QuantDrop };
  /**
   * clip's gradient from inputs `[g, x]` (same shape): `g * ((x >= lo) * (x <= hi))` in one pass
   * (the composite takes four over tensors as large as a network's widest activation).
   */
  clipBackward: { lo: number; hi: number };
  // random
  /**
   * A 0/1 mask of the input's shape (its values are not read), 1 with probability `p`: element
   * `i` is 1 when `h(h(i ^ k0) ^ k1) < floor(p * 2^32)` for the 32-bit integer hash `h`
   * (lowbias32) and keys `k0`, `k1` (u32). Counter-based, so every backend computes the same
   * mask in parallel; callers draw the keys from a seeded generator.
   */
  randomMask: { p: number; k0: number; k1: number };
}

/** A primitive op name. */
export type Op = keyof OpAttrs;

/** Op categories, used by backends that generate kernels from the table. */
export const UNARY_OPS = [
  "neg",
  "exp",
  "log",
  "sqrt",
  "abs",
  "sign",
  "relu",
  "sigmoid",
  "tanh",
  "erf",
  "round",
  "floor",
  "roundSte",
  "clip",
] as const satisfies readonly Op[];
export type UnaryOp = typeof UNARY_OPS[number];

export const BINARY_OPS = [
  "add",
  "sub",
  "mul",
  "div",
  "pow",
  "minimum",
  "maximum",
  "lt",
  "le",
  "gt",
  "ge",
  "eq",
  "ne",
] as const satisfies readonly Op[];
export type BinaryOp = typeof BINARY_OPS[number];

export const COMPARISON_OPS = ["lt", "le", "gt", "ge", "eq", "ne"] as const satisfies readonly Op[];

export const REDUCE_OPS = ["sum", "max", "min"] as const satisfies readonly Op[];
export type ReduceOp = typeof REDUCE_OPS[number];

/** Shape and dtype of an op's output. */
export interface OutInfo {
  shape: number[];
  dtype: DType;
}

type InShape = { shape: readonly number[]; dtype: DType };
type InferRule<O extends Op> = (inputs: readonly InShape[], attrs: OpAttrs[O]) => OutInfo;

/** Broadcast two shapes numpy-style, or throw a RangeError naming the dimension. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(
        `Cannot broadcast shapes [${a}] and [${b}]: dimension ${i} differs (${da} vs ${db})`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Normalise a possibly negative axis against a rank, or throw a RangeError. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= Math.max(rank, 1)) {
    throw new RangeError(`Axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

/** Output size of a convolution or pooling window along one dimension. */
export function windowOut(
  inSize: number,
  k: number,
  stride: number,
  padBegin: number,
  padEnd: number,
  dilation = 1,
): number {
  return Math.floor((inSize + padBegin + padEnd - dilation * (k - 1) - 1) / stride) + 1;
}

const unary = <O extends Op>(): InferRule<O> => ([x]) => {
  if (x.dtype !== "f32") throw new TypeError(`Elementwise op expects f32, got ${x.dtype}`);
  return { shape: [...x.shape], dtype: "f32" };
};
const binary = <O extends Op>(): InferRule<O> => ([a, b]) => ({
  shape: broadcastShapes(a.shape, b.shape),
  // i32 only when both operands are: a number lifted to an f32 scalar promotes to f32
  dtype: a.dtype === "i32" && b.dtype === "i32" ? "i32" : "f32",
});
const compare = <O extends Op>(): InferRule<O> => ([a, b]) => ({
  shape: broadcastShapes(a.shape, b.shape),
  dtype: "f32",
});
const reduce = <O extends "sum" | "max" | "min">(): InferRule<O> => ([x], { axes, keepDims }) => {
  const ax = new Set(axes.map((a) => normAxis(a, x.shape.length)));
  const shape: number[] = [];
  x.shape.forEach((d, i) => {
    if (!ax.has(i)) shape.push(d);
    else if (keepDims) shape.push(1);
  });
  return { shape, dtype: x.dtype };
};
const pool: InferRule<"maxPool2d" | "avgPool2d"> = ([x], a) => {
  const [n, c, h, w] = x.shape;
  return {
    shape: [
      n,
      c,
      windowOut(h, a.kernel[0], a.strides[0], a.pads[0], a.pads[2]),
      windowOut(w, a.kernel[1], a.strides[1], a.pads[1], a.pads[3]),
    ],
    dtype: "f32",
  };
};

/** A RangeError unless `p` is in [0, 1] and both keys are u32 integers. */
function checkMaskAttrs(op: string, { p, k0, k1 }: QuantDrop): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${op}: p must be in [0, 1], got ${p}`);
  for (const k of [k0, k1]) {
    if (!Number.isInteger(k) || k < 0 || k > 0xffffffff) {
      throw new RangeError(`${op}: keys must be u32 integers, got ${k}`);
    }
  }
}

/** Shape inference for every op: `{ [O in Op]: rule }`. */
export const INFER: { [O in Op]: InferRule<O> } = {
  neg: unary(),
  exp: unary(),
  log: unary(),
  sqrt: unary(),
  abs: unary(),
  sign: unary(),
  relu: unary(),
  sigmoid: unary(),
  tanh: unary(),
  erf: unary(),
  round: unary(),
  floor: unary(),
  roundSte: unary(),
  clip: unary(),
  add: binary(),
  sub: binary(),
  mul: binary(),
  div: binary(),
  pow: binary(),
  minimum: binary(),
  maximum: binary(),
  lt: compare(),
  le: compare(),
  gt: compare(),
  ge: compare(),
  eq: compare(),
  ne: compare(),
  where: ([c, a, b]) => ({
    shape: broadcastShapes(c.shape, broadcastShapes(a.shape, b.shape)),
    dtype: a.dtype === "i32" && b.dtype === "i32" ? "i32" : "f32",
  }),
  sum: reduce(),
  max: reduce(),
  min: reduce(),
  argmax: ([x], { axis, keepDims }) => {
    const ax = normAxis(axis, x.shape.length);
    const shape = x.shape.flatMap((d, i) => (i !== ax ? [d] : keepDims ? [1] : []));
    return { shape, dtype: "i32" };
  },
  topk: ([x], { k }) => {
    const last = x.shape[x.shape.length - 1];
    if (k < 1 || k > last) throw new RangeError(`topk: k=${k} out of range for axis of ${last}`);
    return { shape: [...x.shape.slice(0, -1), k], dtype: "i32" };
  },
  matmul: ([a, b], { transA, transB }) => {
    if (a.shape.length < 2 || b.shape.length < 2) {
      throw new RangeError(`matmul needs rank >= 2, got [${a.shape}] and [${b.shape}]`);
    }
    const [m, ka] = transA
      ? [a.shape.at(-1)!, a.shape.at(-2)!]
      : [a.shape.at(-2)!, a.shape.at(-1)!];
    const [kb, n] = transB
      ? [b.shape.at(-1)!, b.shape.at(-2)!]
      : [b.shape.at(-2)!, b.shape.at(-1)!];
    if (ka !== kb) {
      throw new RangeError(`matmul: inner dimensions differ, [${a.shape}] x [${b.shape}]`);
    }
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return { shape: [...batch, m, n], dtype: "f32" };
  },
  conv2d: ([x, w], a) => {
    if (x.shape.length !== 4 || w.shape.length !== 4) {
      throw new RangeError(
        `conv2d expects NCHW input and OIHW weight, got [${x.shape}], [${w.shape}]`,
      );
    }
    const [n, c, h, wd] = x.shape;
    const [o, cg, kh, kw] = w.shape;
    if (c !== cg * a.groups || o % a.groups !== 0) {
      throw new RangeError(
        `conv2d: input has ${c} channels but weight [${w.shape}] with groups=${a.groups} expects ${
          cg * a.groups
        }`,
      );
    }
    return {
      shape: [
        n,
        o,
        windowOut(h, kh, a.strides[0], a.pads[0], a.pads[2], a.dilations[0]),
        windowOut(wd, kw, a.strides[1], a.pads[1], a.pads[3], a.dilations[1]),
      ],
      dtype: "f32",
    };
  },
  conv2dBackwardInput: (_, a) => ({ shape: [...a.inputShape], dtype: "f32" }),
  conv2dBackwardWeight: (_, a) => ({ shape: [...a.weightShape], dtype: "f32" }),
  maxPool2d: pool,
  maxPool2dBackward: ([x]) => ({ shape: [...x.shape], dtype: "f32" }),
  avgPool2d: pool,
  avgPool2dBackward: (_, a) => ({ shape: [...a.inputShape], dtype: "f32" }),
  upsampleNearest: ([x], { scale }) => ({
    shape: [x.shape[0], x.shape[1], x.shape[2] * scale[0], x.shape[3] * scale[1]],
    dtype: x.dtype,
  }),
  upsampleNearestBackward: ([x], { scale }) => ({
    shape: [x.shape[0], x.shape[1], x.shape[2] / scale[0], x.shape[3] / scale[1]],
    dtype: "f32",
  }),
  transpose: ([x], { perm }) => {
    if (perm.length !== x.shape.length) {
      throw new RangeError(`transpose: perm [${perm}] does not match rank ${x.shape.length}`);
    }
    return { shape: perm.map((p) => x.shape[p]), dtype: x.dtype };
  },
  concat: (xs, { axis }) => {
    const ax = normAxis(axis, xs[0].shape.length);
    const shape = [...xs[0].shape];
    shape[ax] = 0;
    for (const x of xs) {
      if (x.shape.length !== shape.length || x.shape.some((d, i) => i !== ax && d !== shape[i])) {
        throw new RangeError(
          `concat: shapes [${xs[0].shape}] and [${x.shape}] differ off axis ${ax}`,
        );
      }
      shape[ax] += x.shape[ax];
    }
    return { shape, dtype: xs[0].dtype };
  },
  slice: ([x], { starts, ends, steps }) => ({
    shape: x.shape.map((_, i) => Math.max(0, Math.ceil((ends[i] - starts[i]) / steps[i]))),
    dtype: x.dtype,
  }),
  sliceBackward: (_, a) => ({ shape: [...a.inputShape], dtype: "f32" }),
  pad: ([x], { pads }) => ({
    shape: x.shape.map((d, i) => d + pads[i] + pads[i + x.shape.length]),
    dtype: x.dtype,
  }),
  gather: ([x, idx], { axis }) => {
    const ax = normAxis(axis, x.shape.length);
    if (idx.dtype !== "i32") throw new TypeError(`gather: indices must be i32, got ${idx.dtype}`);
    return {
      shape: [...x.shape.slice(0, ax), ...idx.shape, ...x.shape.slice(ax + 1)],
      dtype: x.dtype,
    };
  },
  gatherBackward: (_, a) => ({ shape: [...a.inputShape], dtype: "f32" }),
  expand: ([x], { shape }) => ({ shape: broadcastShapes(x.shape, shape), dtype: x.dtype }),
  cast: ([x], { dtype }) => ({ shape: [...x.shape], dtype }),
  fakeQuant: (ins, { drop }) => {
    if (ins.length !== 3 || ins.some((t) => t.dtype !== "f32")) {
      throw new TypeError("fakeQuant expects three f32 inputs: x, scale, zeroPoint");
    }
    if (drop) checkMaskAttrs("fakeQuant", drop);
    return { shape: ins.map((t) => [...t.shape]).reduce(broadcastShapes), dtype: "f32" };
  },
  randomMask: ([x], a) => {
    if (!x) throw new TypeError("randomMask expects one input (the shape to fill)");
    checkMaskAttrs("randomMask", a);
    return { shape: [...x.shape], dtype: "f32" };
  },
  clipBackward: ([g, x]) => {
    if (!g || !x || g.dtype !== "f32" || x.dtype !== "f32" || g.shape.join() !== x.shape.join()) {
      throw new TypeError("clipBackward expects two f32 inputs of one shape: g, x");
    }
    return { shape: [...x.shape], dtype: "f32" };
  },
  fakeQuantBackward: (ins, { drop }) => {
    if (ins.length !== 4 || ins.some((t) => t.dtype !== "f32")) {
      throw new TypeError("fakeQuantBackward expects four f32 inputs: g, x, scale, zeroPoint");
    }
    if (drop) checkMaskAttrs("fakeQuantBackward", drop);
    return { shape: ins.map((t) => [...t.shape]).reduce(broadcastShapes), dtype: "f32" };
  },
};

/** Every op name, in table order. */
export const OPS = Object.keys(INFER) as Op[];
