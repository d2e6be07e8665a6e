/**
 * The user-facing functional API over the primitive ops: creation, elementwise math with
 * broadcasting, reductions, linear algebra, convolution, pooling and movement.
 *
 * Numbers are accepted wherever a tensor operand is, and become scalars on the other operand's
 * backend.
 *
 * @module
 */
import type { Backend } from "./backend.ts";
import { type Conv2dAttrs, type DType, normAxis, type Pool2dAttrs, sizeOf } from "./ops.ts";
import { getBackend, runOp, Tensor, upload, view } from "./tensor.ts";

/** A tensor or a number (a scalar on the other operand's backend). */
export type Operand = Tensor | number;

// ---------------------------------------------------------------------------------------------
// Creation

/** Options for creating tensors. */
export interface CreateOptions {
  dtype?: DType;
  backend?: Backend;
}

/**
 * A tensor from nested arrays or a flat array with a shape.
 *
 * @example
 * ```ts
 * import { tensor } from "./mod.ts";
 * const t = tensor([[1, 2], [3, 4]]);
 * console.log(t.shape); // [2, 2]
 * ```
 */
export function tensor(
  values: number | ArrayLike<number> | number[][] | number[][][] | number[][][][],
  shape?: readonly number[],
  opts: CreateOptions = {},
): Tensor {
  let flat: number[] | ArrayLike<number>;
  let inferred: number[];
  if (typeof values === "number") {
    flat = [values];
    inferred = [];
  } else if (Array.isArray(values) && Array.isArray(values[0])) {
    inferred = [];
    let v: unknown = values;
    while (Array.isArray(v)) {
      inferred.push(v.length);
      v = v[0];
    }
    flat = (values as unknown[]).flat(Infinity) as number[];
  } else {
    flat = values as ArrayLike<number>;
    inferred = [flat.length];
  }
  const dtype = opts.dtype ?? (values instanceof Int32Array ? "i32" : "f32");
  const data = dtype === "f32" ? Float32Array.from(flat) : Int32Array.from(flat);
  return upload(data, shape ?? inferred, opts.backend ?? getBackend());
}

/** A tensor filled with one value. */
export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  const n = sizeOf(shape);
  const data = (opts.dtype ?? "f32") === "f32" ? new Float32Array(n) : new Int32Array(n);
  if (value !== 0) data.fill(value);
  return upload(data, shape, opts.backend ?? getBackend());
}

export const zeros = (shape: readonly number[], opts?: CreateOptions): Tensor =>
  full(shape, 0, opts);
export const ones = (shape: readonly number[], opts?: CreateOptions): Tensor =>
  full(shape, 1, opts);

/** A zero tensor with the shape and backend of `t`. */
export const zerosLike = (t: Tensor): Tensor =>
  full(t.shape, 0, { backend: t.backend, dtype: t.dtype });

/** A number as a scalar beside `like`: i32 when `like` is i32 and the number an integer. */
function lift(x: Operand, like: Tensor): Tensor {
  if (typeof x !== "number") return x;
  const data = like.dtype === "i32" && Number.isInteger(x)
    ? new Int32Array([x])
    : new Float32Array([x]);
  return upload(data, [], like.backend);
}

function pair(a: Operand, b: Operand): [Tensor, Tensor] {
  if (typeof a === "number" && typeof b === "number") {
    return [tensor(a), tensor(b)];
  }
  const like = (typeof a === "number" ? b : a) as Tensor;
  return [lift(a, like), lift(b, like)];
}

// ---------------------------------------------------------------------------------------------
// Elementwise

export const neg = (x: Tensor): Tensor => runOp("neg", [x], {});
export const exp = (x: Tensor): Tensor => runOp("exp", [x], {});
export const log = (x: Tensor): Tensor => runOp("log", [x], {});
export const sqrt = (x: Tensor): Tensor => runOp("sqrt", [x], {});
export const abs = (x: Tensor): Tensor => runOp("abs", [x], {});
export const sign = (x: Tensor): Tensor => runOp("sign", [x], {});
export const relu = (x: Tensor): Tensor => runOp("relu", [x], {});
export const sigmoid = (x: Tensor): Tensor => runOp("sigmoid", [x], {});
export const tanh = (x: Tensor): Tensor => runOp("tanh", [x], {});
export const erf = (x: Tensor): Tensor => runOp("erf", [x], {});
/** Round half to even (as ONNX `Round` and `torch.round`). No gradient. */
export const round = (x: Tensor): Tensor => runOp("round", [x], {});
export const floor = (x: Tensor): Tensor => runOp("floor", [x], {});
/** Round forward; straight-through (identity) gradient backward. */
export const roundSte = (x: Tensor): Tensor => runOp("roundSte", [x], {});
/** Clamp into `[lo, hi]`; the gradient passes where `lo <= x <= hi`. */
export const clip = (x: Tensor, lo: number, hi: number): Tensor => runOp("clip", [x], { lo, hi });

export const add = (a: Operand, b: Operand): Tensor => runOp("add", pair(a, b), {});
export const sub = (a: Operand, b: Operand): Tensor => runOp("sub", pair(a, b), {});
export const mul = (a: Operand, b: Operand): Tensor => runOp("mul", pair(a, b), {});
export const div = (a: Operand, b: Operand): Tensor => runOp("div", pair(a, b), {});
export const pow = (a: Operand, b: Operand): Tensor => runOp("pow", pair(a, b), {});
export const minimum = (a: Operand, b: Operand): Tensor => runOp("minimum", pair(a, b), {});
export const maximum = (a: Operand, b: Operand): Tensor => runOp("maximum", pair(a, b), {});
export const lt = (a: Operand, b: Operand): Tensor => runOp("lt", pair(a, b), {});
export const le = (a: Operand, b: Operand): Tensor => runOp("le", pair(a, b), {});
export const gt = (a: Operand, b: Operand): Tensor => runOp("gt", pair(a, b), {});
export const ge = (a: Operand, b: Operand): Tensor => runOp("ge", pair(a, b), {});
export const eq = (a: Operand, b: Operand): Tensor => runOp("eq", pair(a, b), {});
export const ne = (a: Operand, b: Operand): Tensor => runOp("ne", pair(a, b), {});
export const square = (x: Tensor): Tensor => mul(x, x);

/** `cond ? a : b` elementwise, with broadcasting; `cond` is nonzero for true. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  return runOp("where", [cond, lift(a, cond), lift(b, cond)], {});
}

/** ReLU6 and friends: `clip(x, 0, 6)`. */
export const relu6 = (x: Tensor): Tensor => clip(x, 0, 6);
export const leakyRelu = (x: Tensor, alpha = 0.01): Tensor => where(gt(x, 0), x, mul(x, alpha));
/** ONNX HardSigmoid: `clip(alpha * x + beta, 0, 1)`, torch's defaults alpha = 1/6, beta = 0.5. */
export const hardSigmoid = (x: Tensor, alpha = 1 / 6, beta = 0.5): Tensor =>
  clip(add(mul(x, alpha), beta), 0, 1);
export const hardSwish = (x: Tensor): Tensor => mul(x, hardSigmoid(x));
/** GELU with the exact erf form: `0.5 x (1 + erf(x / sqrt 2))`. */
export const gelu = (x: Tensor): Tensor => mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));

// ---------------------------------------------------------------------------------------------
// Reductions

function axesOf(x: Tensor, axes?: number | number[]): number[] {
  if (axes === undefined) return x.shape.map((_, i) => i);
  return (Array.isArray(axes) ? axes : [axes]).map((a) => normAxis(a, x.rank));
}

export const sum = (x: Tensor, axes?: number | number[], keepDims = false): Tensor =>
  runOp("sum", [x], { axes: axesOf(x, axes), keepDims });
export const max = (x: Tensor, axes?: number | number[], keepDims = false): Tensor =>
  runOp("max", [x], { axes: axesOf(x, axes), keepDims });
export const min = (x: Tensor, axes?: number | number[], keepDims = false): Tensor =>
  runOp("min", [x], { axes: axesOf(x, axes), keepDims });

/** Mean over axes (all by default). */
export function mean(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = axesOf(x, axes);
  const n = ax.reduce((p, a) => p * x.shape[a], 1);
  return div(sum(x, ax, keepDims), n);
}

/** Biased variance (divides by n) over axes. */
export function variance(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = axesOf(x, axes);
  const mu = mean(x, ax, true);
  return mean(square(sub(x, mu)), ax, keepDims);
}

export const argmax = (x: Tensor, axis = -1, keepDims = false): Tensor =>
  runOp("argmax", [x], { axis: normAxis(axis, x.rank), keepDims });
/** Indices of the k largest values along the last axis, largest first (i32). */
export const topk = (x: Tensor, k: number): Tensor => runOp("topk", [x], { k });

// ---------------------------------------------------------------------------------------------
// Linear algebra, convolution, pooling

/** Batched matrix product `op(a) @ op(b)` with numpy-style batch broadcasting. */
export const matmul = (a: Tensor, b: Tensor, transA = false, transB = false): Tensor =>
  runOp("matmul", [a, b], { transA, transB });

/** ONNX Gemm: `alpha * op(a) @ op(b) + beta * c`. */
export function gemm(
  a: Tensor,
  b: Tensor,
  c?: Tensor,
  opts: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {},
): Tensor {
  let y = matmul(a, b, opts.transA ?? false, opts.transB ?? false);
  if ((opts.alpha ?? 1) !== 1) y = mul(y, opts.alpha!);
  if (c) y = add(y, (opts.beta ?? 1) !== 1 ? mul(c, opts.beta!) : c);
  return y;
}

/** Options of {@linkcode conv2d}; omitted fields take ONNX defaults. */
export type Conv2dOptions = Partial<Conv2dAttrs>;

/** Resolves conv options to full attributes. */
export function convAttrs(o: Conv2dOptions = {}): Conv2dAttrs {
  return {
    strides: o.strides ?? [1, 1],
    pads: o.pads ?? [0, 0, 0, 0],
    dilations: o.dilations ?? [1, 1],
    groups: o.groups ?? 1,
  };
}

/** 2-D convolution, NCHW input, OIHW weight, optional bias `[O]`. */
export function conv2d(x: Tensor, w: Tensor, bias?: Tensor, opts: Conv2dOptions = {}): Tensor {
  const y = runOp("conv2d", [x, w], convAttrs(opts));
  return bias ? add(y, reshape(bias, [1, bias.size, 1, 1])) : y;
}

/** Options of the pooling functions. */
export interface PoolOptions {
  strides?: [number, number];
  pads?: [number, number, number, number];
  countIncludePad?: boolean;
}

export const maxPool2d = (x: Tensor, kernel: [number, number], o: PoolOptions = {}): Tensor =>
  runOp("maxPool2d", [x], { kernel, strides: o.strides ?? kernel, pads: o.pads ?? [0, 0, 0, 0] });
export const avgPool2d = (x: Tensor, kernel: [number, number], o: PoolOptions = {}): Tensor =>
  runOp(
    "avgPool2d",
    [x],
    {
      kernel,
      strides: o.strides ?? kernel,
      pads: o.pads ?? [0, 0, 0, 0],
      countIncludePad: o.countIncludePad ?? false,
    } satisfies Pool2dAttrs,
  );
/** Global average pooling to `[N, C, 1, 1]`. */
export const globalAvgPool = (x: Tensor): Tensor => mean(x, [2, 3], true);
/** Nearest-neighbour upsampling by integer factors. */
export const upsampleNearest = (x: Tensor, scale: [number, number] = [2, 2]): Tensor =>
  runOp("upsampleNearest", [x], { scale });

// ---------------------------------------------------------------------------------------------
// Movement

/** Reshape (shares storage); one dimension may be -1. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const resolved = shape.map((d) => (d === -1 ? x.size / known : d));
  return view(x, resolved);
}

export const flatten = (x: Tensor, axis = 1): Tensor =>
  reshape(x, [sizeOf(x.shape.slice(0, axis)), sizeOf(x.shape.slice(axis))]);

export function transpose(x: Tensor, perm?: number[]): Tensor {
  const p = perm ?? x.shape.map((_, i) => x.rank - 1 - i);
  return runOp("transpose", [x], { perm: p.map((a) => normAxis(a, x.rank)) });
}

export const concat = (xs: Tensor[], axis: number): Tensor => {
  if (xs.length === 0) throw new RangeError("concat needs at least one tensor");
  return runOp("concat", xs, { axis: normAxis(axis, xs[0].rank) });
};

/**
 * Slice along axes, ONNX-style: negative and out-of-range starts/ends are clamped; steps > 0.
 */
export function slice(
  x: Tensor,
  starts: number[],
  ends: number[],
  axes?: number[],
  steps?: number[],
): Tensor {
  const s = x.shape.map(() => 0);
  const e = [...x.shape];
  const st = x.shape.map(() => 1);
  (axes ?? starts.map((_, i) => i)).forEach((a, i) => {
    const ax = normAxis(a, x.rank);
    const d = x.shape[ax];
    const step = steps?.[i] ?? 1;
    if (step <= 0) throw new RangeError(`slice: step ${step} must be positive`);
    const clampIdx = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    s[ax] = clampIdx(starts[i]);
    e[ax] = Math.max(clampIdx(ends[i]), s[ax]);
    st[ax] = step;
  });
  return runOp("slice", [x], { starts: s, ends: e, steps: st });
}

/** Constant padding; `pads` is `[begin_0..begin_n-1, end_0..end_n-1]` as in ONNX. */
export const pad = (x: Tensor, pads: number[], value = 0): Tensor =>
  runOp("pad", [x], { pads, value });

/** Gather along an axis with i32 indices (negative indices count from the end). */
export const gather = (x: Tensor, indices: Tensor, axis = 0): Tensor =>
  runOp("gather", [x, indices], { axis: normAxis(axis, x.rank) });

/** Broadcast to a shape. */
export const expand = (x: Tensor, shape: number[]): Tensor => runOp("expand", [x], { shape });

export const cast = (x: Tensor, dtype: DType): Tensor =>
  x.dtype === dtype ? reshape(x, x.shape) : runOp("cast", [x], { dtype });

export function squeeze(x: Tensor, axes?: number[]): Tensor {
  const ax = new Set(
    (axes ?? x.shape.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => normAxis(a, x.rank)),
  );
  return reshape(x, x.shape.filter((_, i) => !ax.has(i)));
}

export function unsqueeze(x: Tensor, axes: number[]): Tensor {
  const rank = x.rank + axes.length;
  const ax = new Set(axes.map((a) => normAxis(a, rank)));
  const shape: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) shape.push(ax.has(i) ? 1 : x.shape[j++]);
  return reshape(x, shape);
}

/** A tensor that shares values with `x` but carries no gradient history. */
export function detach(x: Tensor): Tensor {
  const y = view(x, x.shape);
  y.requiresGrad = false;
  y.node = null;
  return y;
}

/** Sums `g` down to `shape` (undoing broadcasting). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? sum(g, axes, true) : g;
  return reshape(s, shape);
}
