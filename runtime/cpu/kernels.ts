/**
 * CPU kernels in TypeScript for every op: the oracle and the no-GPU path. Dense matmul and
 * convolution route to onnxruntime (see `ort.ts`) when `fast` is on; the loops here are the
 * reference they are tested against.
 *
 * @module
 */
import type { HostArray } from "../backend.ts";
import type {
  BinaryOp,
  Conv2dAttrs,
  DType,
  Op,
  OpAttrs,
  OutInfo,
  Pool2dAttrs,
  QuantDrop,
  UnaryOp,
} from "../ops.ts";
import { normAxis, sizeOf } from "../ops.ts";
import { take } from "./pool.ts";

/** A kernel's view of an input: its host data and shape. */
export interface CpuIn {
  data: HostArray;
  shape: readonly number[];
  dtype: DType;
}

export type Kernel<O extends Op> = (inputs: CpuIn[], attrs: OpAttrs[O], out: OutInfo) => HostArray;

const alloc = (out: OutInfo): HostArray => take(out.dtype, sizeOf(out.shape));

/** Row-major strides. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Strides of `shape` broadcast to `outShape` (0 along broadcast dimensions). */
function bstrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const s = strides(shape);
  const lead = outShape.length - shape.length;
  return outShape.map((_, i) => (i < lead || shape[i - lead] === 1 ? 0 : s[i - lead]));
}

/** Round half to even. */
export function roundEven(x: number): number {
  // Adding and subtracting 1.5 * 2^52 rounds to an integer in the FPU's default mode, which is
  // round-half-to-even (3x faster than Math.round plus a tie fix). Larger values are integers.
  return Math.abs(x) < 2 ** 51 ? x + 6755399441055744 - 6755399441055744 : x;
}

/** erf with |error| < 1.2e-7 (Numerical Recipes erfc Chebyshev fit). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(
    -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
                  t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
                                  t * (-0.82215223 + t * 0.17087277)))))))),
  );
  return x >= 0 ? 1 - r : r - 1;
}

/**
 * Merges adjacent dimensions that every stride list walks contiguously (or broadcasts across
 * both), and drops size-1 dimensions, so loops run over few, long rows. Always returns at least
 * one dimension.
 */
function merge(shape: readonly number[], st: readonly (readonly number[])[]) {
  const outShape: number[] = [];
  const outSt: number[][] = st.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d];
    if (n === 1) continue;
    const k = outShape.length - 1;
    if (k >= 0 && st.every((s, i) => outSt[i][k] === s[d] * n)) {
      outShape[k] *= n;
      st.forEach((s, i) => (outSt[i][k] = s[d]));
    } else {
      outShape.push(n);
      st.forEach((s, i) => outSt[i].push(s[d]));
    }
  }
  if (outShape.length === 0) {
    outShape.push(1);
    outSt.forEach((s) => s.push(0));
  }
  return { shape: outShape, st: outSt };
}

/**
 * Calls `visit(o, offsets, len)` for every row of `len` output elements starting at flat output
 * index `o`, with each input's offset of that row; `inner[i]` is input i's stride along the row.
 */
function forEachRow(
  shape: readonly number[],
  st: readonly (readonly number[])[],
  visit: (o: number, offsets: number[], len: number, inner: number[]) => void,
): void {
  const m = merge(shape, st);
  const r = m.shape.length, len = m.shape[r - 1];
  const n = sizeOf(m.shape);
  if (n === 0) return;
  const inner = m.st.map((s) => s[r - 1]);
  const off = st.map(() => 0);
  const counter = new Array<number>(r).fill(0);
  for (let o = 0; o < n; o += len) {
    visit(o, off, len, inner);
    for (let d = r - 2; d >= 0; d--) {
      for (let k = 0; k < off.length; k++) off[k] += m.st[k][d];
      if (++counter[d] < m.shape[d]) break;
      for (let k = 0; k < off.length; k++) off[k] -= m.st[k][d] * m.shape[d];
      counter[d] = 0;
    }
  }
}

/**
 * Strided copy: for every multi-index `i` of `shape`, `y[yo + i·ys] = x[xo + i·xs]` (or `+=` with
 * `accumulate`). Transpose, slice, pad, expand and their gradients are all this one loop.
 */
function copyStrided(
  y: HostArray,
  yo: number,
  ys: readonly number[],
  x: HostArray,
  xo: number,
  xs: readonly number[],
  shape: readonly number[],
  accumulate = false,
): void {
  forEachRow(shape, [ys, xs], (_o, [oy, ox], len, [iy, ix]) => {
    const by = yo + oy, bx = xo + ox;
    if (accumulate) { for (let j = 0; j < len; j++) y[by + j * iy] += x[bx + j * ix]; }
    else if (iy === 1 && ix === 1) {
      if (len > 64) y.set(x.subarray(bx, bx + len), by);
      else for (let j = 0; j < len; j++) y[by + j] = x[bx + j];
    } else if (iy === 1 && ix === 0) y.fill(x[bx], by, by + len);
    else for (let j = 0; j < len; j++) y[by + j * iy] = x[bx + j * ix];
  });
}

/*
 * Boolean-to-number conversions (`+(p < q)`) compile without a branch; a data-dependent `?:`
 * mispredicts on about half the elements of random-signed data (5-10x slower per element). The
 * selects below (`where`, `relu`, `clip`) work on the f32 bit patterns for the same reason.
 */

/** The 32-bit integer view of a host array (f32 bit patterns, or the i32 values themselves). */
const bits = (a: HostArray): Int32Array =>
  a instanceof Int32Array ? a : new Int32Array(a.buffer, a.byteOffset, a.length);

/*
 * Pointwise kernels are generated from one expression per op (as the WebGPU backend generates
 * WGSL from the table): each op gets its own loop function, so V8 inlines the arithmetic instead
 * of calling a shared closure per element (about 10x faster on large tensors).
 */

/** Unary expressions over `x` (attributes `lo`, `hi` for clip). */
export const UNARY_JS: { [O in UnaryOp]: string } = {
  neg: "-x",
  exp: "Math.exp(x)",
  log: "Math.log(x)",
  sqrt: "Math.sqrt(x)",
  abs: "Math.abs(x)",
  sign: "+(x > 0) - +(x < 0)",
  relu: "x > 0 ? x : 0",
  sigmoid: "sigmoid(x)",
  tanh: "Math.tanh(x)",
  erf: "erf(x)",
  round: "roundEven(x)",
  floor: "Math.floor(x)",
  roundSte: "roundEven(x)",
  clip: "x < lo ? lo : x > hi ? hi : x",
};

/** Binary expressions over `p` (first operand) and `q` (second). */
export const BINARY_JS: { [O in BinaryOp]: string } = {
  add: "p + q",
  sub: "p - q",
  mul: "p * q",
  div: "p / q",
  pow: "Math.pow(p, q)",
  minimum: "p < q ? p : q",
  maximum: "p > q ? p : q",
  lt: "+(p < q)",
  le: "+(p <= q)",
  gt: "+(p > q)",
  ge: "+(p >= q)",
  eq: "+(p === q)",
  ne: "+(p !== q)",
};

type UnaryLoop = (y: HostArray, x: HostArray, lo: number, hi: number) => void;
type BinaryRow = (
  y: HostArray,
  yo: number,
  a: HostArray,
  ao: number,
  as: number,
  b: HostArray,
  bo: number,
  bs: number,
  n: number,
) => void;

function compileUnary(expr: string): UnaryLoop {
  return new Function(
    "erf",
    "roundEven",
    "sigmoid",
    `return function unaryLoop(y, xd, lo, hi) {
      const n = y.length;
      for (let i = 0; i < n; i++) { const x = xd[i]; y[i] = ${expr}; }
    };`,
  )(erf, roundEven, sigmoid);
}

function compileBinary(expr: string): BinaryRow {
  return new Function(
    `return function binaryRow(y, yo, a, ao, as, b, bo, bs, n) {
      if (as === 1 && bs === 1) {
        for (let i = 0; i < n; i++) { const p = a[ao + i], q = b[bo + i]; y[yo + i] = ${expr}; }
      } else if (as === 1 && bs === 0) {
        const q = b[bo];
        for (let i = 0; i < n; i++) { const p = a[ao + i]; y[yo + i] = ${expr}; }
      } else if (as === 0 && bs === 1) {
        const p = a[ao];
        for (let i = 0; i < n; i++) { const q = b[bo + i]; y[yo + i] = ${expr}; }
      } else {
        for (let i = 0; i < n; i++) { const p = a[ao + i * as], q = b[bo + i * bs]; y[yo + i] = ${expr}; }
      }
    };`,
  )();
}

function unaryK<O extends UnaryOp>(op: O): Kernel<O> {
  const loop = compileUnary(UNARY_JS[op]);
  return ([x], attrs, out) => {
    const y = alloc(out);
    const a = attrs as { lo?: number; hi?: number };
    loop(y, x.data, a.lo ?? 0, a.hi ?? 0);
    return y;
  };
}

function binaryK<O extends BinaryOp>(op: O): Kernel<O> {
  const row = compileBinary(BINARY_JS[op]);
  return ([a, b], _attrs, out) => {
    const y = alloc(out);
    const n = y.length;
    if (a.data.length === n && b.data.length === n) row(y, 0, a.data, 0, 1, b.data, 0, 1, n);
    else if (b.data.length === 1 && a.data.length === n) row(y, 0, a.data, 0, 1, b.data, 0, 0, n);
    else if (a.data.length === 1 && b.data.length === n) row(y, 0, a.data, 0, 0, b.data, 0, 1, n);
    else {
      const ad = a.data, bd = b.data;
      forEachRow(out.shape, [bstrides(a.shape, out.shape), bstrides(b.shape, out.shape)], (
        o,
        [oa, ob],
        len,
        [ia, ib],
      ) => row(y, o, ad, oa, ia, bd, ob, ib, len));
    }
    return y;
  };
}

/** Reduction loop over merged dimensions; the combine is inlined, as for the pointwise kernels. */
type ReduceLoop = (y: HostArray, xd: HostArray, shape: number[], os: number[]) => void;

function compileReduce(expr: string): ReduceLoop {
  return new Function(
    `return function reduceLoop(y, xd, shape, os) {
      const rank = shape.length, inner = shape[rank - 1], innerStride = os[rank - 1];
      const counter = new Array(rank).fill(0);
      let base = 0;
      for (let i = 0; i < xd.length; i += inner) {
        if (innerStride === 0) {
          let p = y[base];
          for (let j = 0; j < inner; j++) { const q = xd[i + j]; p = ${expr}; }
          y[base] = p;
        } else {
          for (let j = 0; j < inner; j++) { const p = y[base + j], q = xd[i + j]; y[base + j] = ${expr}; }
        }
        for (let d = rank - 2; d >= 0; d--) {
          counter[d]++;
          base += os[d];
          if (counter[d] < shape[d]) break;
          base -= os[d] * counter[d];
          counter[d] = 0;
        }
      }
    };`,
  )();
}

function reduceK<O extends "sum" | "max" | "min">(
  init: number,
  expr: string,
): Kernel<O> {
  const loop = compileReduce(expr);
  return ([x], attrs, out) => {
    const rank = x.shape.length;
    const axes = attrs.axes.map((a) => normAxis(a, rank));
    const y = alloc(out).fill(
      out.dtype === "i32" && !Number.isFinite(init) ? (init > 0 ? 2 ** 31 - 1 : -(2 ** 31)) : init,
    );
    const xd = x.data;
    if (axes.length === 0 || xd.length === 0) {
      if (axes.length === 0) y.set(xd);
      return y;
    }
    // Map each input element to its output slot: out strides with 0 on reduced axes; adjacent
    // dimensions that are both reduced (or both kept) merge into one, so rows are long.
    const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const os = strides(keptShape).map((s, i) => (axes.includes(i) ? 0 : s));
    const m = merge(x.shape, [strides(x.shape), os]);
    loop(y, xd, m.shape, m.st[1]);
    return y;
  };
}

/** Reference matmul (batched, broadcast batch dims) in plain loops. */
export function matmulRef(
  a: CpuIn,
  b: CpuIn,
  { transA, transB }: OpAttrs["matmul"],
  out: OutInfo,
): Float32Array {
  const y = take("f32", sizeOf(out.shape));
  const M = out.shape.at(-2)!, N = out.shape.at(-1)!;
  const K = transA ? a.shape.at(-2)! : a.shape.at(-1)!;
  const batchShape = out.shape.slice(0, -2);
  const batch = sizeOf(batchShape);
  const sa = bstrides(a.shape.slice(0, -2), batchShape);
  const sb = bstrides(b.shape.slice(0, -2), batchShape);
  const bs = strides(batchShape);
  const ad = a.data, bd = b.data;
  const row = new Float32Array(N);
  for (let t = 0; t < batch; t++) {
    let oa = 0, ob = 0;
    for (let d = 0; d < batchShape.length; d++) {
      const i = Math.floor(t / bs[d]) % batchShape[d];
      oa += i * sa[d];
      ob += i * sb[d];
    }
    oa *= M * K;
    ob *= K * N;
    for (let i = 0; i < M; i++) {
      row.fill(0);
      for (let k = 0; k < K; k++) {
        const av = ad[oa + (transA ? k * M + i : i * K + k)];
        if (av === 0) continue;
        if (transB) { for (let j = 0; j < N; j++) row[j] += av * bd[ob + j * K + k]; }
        else {
          const off = ob + k * N;
          for (let j = 0; j < N; j++) row[j] += av * bd[off + j];
        }
      }
      y.set(row, t * M * N + i * N);
    }
  }
  return y;
}

/** Reference direct convolution. */
export function conv2dRef(x: CpuIn, w: CpuIn, a: Conv2dAttrs, out: OutInfo): Float32Array {
  const [N, C, H, W] = x.shape;
  const [O, Cg, KH, KW] = w.shape;
  const [, , OH, OW] = out.shape;
  const G = a.groups, Og = O / G;
  const y = take("f32", sizeOf(out.shape));
  const xd = x.data, wd = w.data;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let acc = 0;
          for (let c = 0; c < Cg; c++) {
            const ci = g * Cg + c;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * a.strides[0] - a.pads[0] + kh * a.dilations[0];
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * a.strides[1] - a.pads[1] + kw * a.dilations[1];
                if (iw < 0 || iw >= W) continue;
                acc += xd[((n * C + ci) * H + ih) * W + iw] *
                  wd[((o * Cg + c) * KH + kh) * KW + kw];
              }
            }
          }
          y[((n * O + o) * OH + oh) * OW + ow] = acc;
        }
      }
    }
  }
  return y;
}

/** Reference input gradient of conv2d (scatter form). */
export function conv2dBackwardInputRef(
  dy: CpuIn,
  w: CpuIn,
  a: Conv2dAttrs & { inputShape: number[] },
): Float32Array {
  const [N, C, H, W] = a.inputShape;
  const [O, Cg, KH, KW] = w.shape;
  const [, , OH, OW] = dy.shape;
  const Og = O / a.groups;
  const dx = take("f32", N * C * H * W);
  const dd = dy.data, wd = w.data;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const gv = dd[((n * O + o) * OH + oh) * OW + ow];
          if (gv === 0) continue;
          for (let c = 0; c < Cg; c++) {
            const ci = g * Cg + c;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * a.strides[0] - a.pads[0] + kh * a.dilations[0];
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * a.strides[1] - a.pads[1] + kw * a.dilations[1];
                if (iw < 0 || iw >= W) continue;
                dx[((n * C + ci) * H + ih) * W + iw] += gv * wd[((o * Cg + c) * KH + kh) * KW + kw];
              }
            }
          }
        }
      }
    }
  }
  return dx;
}

/** Reference weight gradient of conv2d. */
export function conv2dBackwardWeightRef(
  x: CpuIn,
  dy: CpuIn,
  a: Conv2dAttrs & { weightShape: number[] },
): Float32Array {
  const [N, C, H, W] = x.shape;
  const [O, Cg, KH, KW] = a.weightShape;
  const [, , OH, OW] = dy.shape;
  const Og = O / a.groups;
  const dw = take("f32", O * Cg * KH * KW);
  const xd = x.data, dd = dy.data;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const gv = dd[((n * O + o) * OH + oh) * OW + ow];
          if (gv === 0) continue;
          for (let c = 0; c < Cg; c++) {
            const ci = g * Cg + c;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * a.strides[0] - a.pads[0] + kh * a.dilations[0];
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * a.strides[1] - a.pads[1] + kw * a.dilations[1];
                if (iw < 0 || iw >= W) continue;
                dw[((o * Cg + c) * KH + kh) * KW + kw] += gv * xd[((n * C + ci) * H + ih) * W + iw];
              }
            }
          }
        }
      }
    }
  }
  return dw;
}

function poolLoop(
  x: CpuIn,
  a: Pool2dAttrs,
  OH: number,
  OW: number,
  visit: (plane: number, oi: number, cells: number[], nPad: number) => void,
): void {
  const [N, C, H, W] = x.shape;
  const cells: number[] = [];
  for (let p = 0; p < N * C; p++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        cells.length = 0;
        let total = 0;
        for (let kh = 0; kh < a.kernel[0]; kh++) {
          const ih = oh * a.strides[0] - a.pads[0] + kh;
          for (let kw = 0; kw < a.kernel[1]; kw++) {
            const iw = ow * a.strides[1] - a.pads[1] + kw;
            // count_include_pad counts cells inside the padded extent, not beyond it
            if (ih < H + a.pads[2] && iw < W + a.pads[3]) total++;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            cells.push(p * H * W + ih * W + iw);
          }
        }
        visit(p, (p * OH + oh) * OW + ow, cells, total);
      }
    }
  }
}

function maxPool(x: CpuIn, a: Pool2dAttrs, out: OutInfo): Float32Array {
  const y = take("f32", sizeOf(out.shape));
  poolLoop(x, a, out.shape[2], out.shape[3], (_p, oi, cells) => {
    let m = -Infinity;
    for (const c of cells) if (x.data[c] > m) m = x.data[c];
    y[oi] = m;
  });
  return y;
}

function maxPoolBackward([x, dy]: CpuIn[], a: Pool2dAttrs): Float32Array {
  const dx = take("f32", x.data.length);
  poolLoop(x, a, dy.shape[2], dy.shape[3], (_p, oi, cells) => {
    let m = -Infinity, arg = -1;
    for (const c of cells) if (x.data[c] > m) (m = x.data[c]), (arg = c);
    if (arg >= 0) dx[arg] += dy.data[oi];
  });
  return dx;
}

function avgDivisor(a: Pool2dAttrs, cells: number[], total: number): number {
  return a.countIncludePad ? total : cells.length;
}

function avgPool(x: CpuIn, a: Pool2dAttrs, out: OutInfo): Float32Array {
  const y = take("f32", sizeOf(out.shape));
  poolLoop(x, a, out.shape[2], out.shape[3], (_p, oi, cells, total) => {
    let s = 0;
    for (const c of cells) s += x.data[c];
    y[oi] = s / avgDivisor(a, cells, total);
  });
  return y;
}

function avgPoolBackward(dy: CpuIn, a: Pool2dAttrs & { inputShape: number[] }): Float32Array {
  const dx = take("f32", sizeOf(a.inputShape));
  const xShape = { data: dx, shape: a.inputShape, dtype: "f32" as const };
  poolLoop(xShape, a, dy.shape[2], dy.shape[3], (_p, oi, cells, total) => {
    const g = dy.data[oi] / avgDivisor(a, cells, total);
    for (const c of cells) dx[c] += g;
  });
  return dx;
}

function transposeK([x]: CpuIn[], { perm }: OpAttrs["transpose"], out: OutInfo): HostArray {
  const y = alloc(out);
  const xs = strides(x.shape);
  copyStrided(y, 0, strides(out.shape), x.data, 0, perm.map((p) => xs[p]), out.shape);
  return y;
}

function sliceK([x]: CpuIn[], { starts, steps }: OpAttrs["slice"], out: OutInfo): HostArray {
  const y = alloc(out);
  const xs = strides(x.shape);
  const base = starts.reduce((acc, s, d) => acc + s * xs[d], 0);
  copyStrided(y, 0, strides(out.shape), x.data, base, xs.map((s, d) => s * steps[d]), out.shape);
  return y;
}

function sliceBackwardK([g]: CpuIn[], a: OpAttrs["sliceBackward"], out: OutInfo): HostArray {
  const y = alloc(out);
  const xs = strides(a.inputShape);
  const base = a.starts.reduce((acc, s, d) => acc + s * xs[d], 0);
  copyStrided(y, base, xs.map((s, d) => s * a.steps[d]), g.data, 0, strides(g.shape), g.shape);
  return y;
}

/** Constant padding; negative pads crop (ONNX). */
function padK([x]: CpuIn[], { pads, value }: OpAttrs["pad"], out: OutInfo): HostArray {
  const y = alloc(out);
  if (value !== 0) y.fill(value);
  const r = x.shape.length;
  const xs = strides(x.shape), ys = strides(out.shape);
  let xo = 0, yo = 0;
  const region = x.shape.map((d, i) => {
    const first = Math.max(0, -pads[i]); // first input index that lands inside the output
    const last = Math.min(d, out.shape[i] - pads[i]);
    xo += first * xs[i];
    yo += (first + pads[i]) * ys[i];
    return Math.max(0, last - first);
  });
  if (r === 0) y[0] = x.data[0];
  else copyStrided(y, yo, ys, x.data, xo, xs, region);
  return y;
}

function concatK(xs: CpuIn[], { axis }: OpAttrs["concat"], out: OutInfo): HostArray {
  const y = alloc(out);
  const outer = sizeOf(out.shape.slice(0, axis));
  const innerOut = sizeOf(out.shape.slice(axis));
  let off = 0;
  for (const x of xs) {
    const inner = sizeOf(x.shape.slice(axis));
    for (let o = 0; o < outer; o++) {
      y.set(x.data.subarray(o * inner, (o + 1) * inner), o * innerOut + off);
    }
    off += inner;
  }
  return y;
}

function gatherK([x, idx]: CpuIn[], { axis }: OpAttrs["gather"], out: OutInfo): HostArray {
  const y = alloc(out);
  const outer = sizeOf(x.shape.slice(0, axis));
  const inner = sizeOf(x.shape.slice(axis + 1));
  const d = x.shape[axis];
  const ni = idx.data.length;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < ni; i++) {
      let k = idx.data[i];
      if (k < 0) k += d;
      if (k < 0 || k >= d) {
        throw new RangeError(`gather: index ${idx.data[i]} out of range [0, ${d})`);
      }
      y.set(x.data.subarray((o * d + k) * inner, (o * d + k + 1) * inner), (o * ni + i) * inner);
    }
  }
  return y;
}

function gatherBackwardK([g, idx]: CpuIn[], a: OpAttrs["gatherBackward"], out: OutInfo): HostArray {
  const y = alloc(out);
  const outer = sizeOf(a.inputShape.slice(0, a.axis));
  const inner = sizeOf(a.inputShape.slice(a.axis + 1));
  const d = a.inputShape[a.axis];
  const ni = idx.data.length;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < ni; i++) {
      let k = idx.data[i];
      if (k < 0) k += d;
      const src = (o * ni + i) * inner, dst = (o * d + k) * inner;
      for (let j = 0; j < inner; j++) y[dst + j] += g.data[src + j];
    }
  }
  return y;
}

function expandK([x]: CpuIn[], _a: OpAttrs["expand"], out: OutInfo): HostArray {
  const y = alloc(out);
  copyStrided(y, 0, strides(out.shape), x.data, 0, bstrides(x.shape, out.shape), out.shape);
  return y;
}

function whereK([c, a, b]: CpuIn[], _: OpAttrs["where"], out: OutInfo): HostArray {
  const y = alloc(out);
  const cd = c.data, ad = a.data, bd = b.data;
  const n = y.length;
  if (
    cd.length === n && (ad.length === n || ad.length === 1) && (bd.length === n || bd.length === 1)
  ) {
    // Same-shape condition, each branch same-shape or a scalar (QDrop's mixing, `where`'s
    // gradient): one flat loop instead of the strided row walk.
    // Same dtypes: a branch-free select on the bit patterns (identical values).
    if (a.dtype === out.dtype && b.dtype === out.dtype) {
      const yb = bits(y), ab = bits(ad), bb = bits(bd);
      const as = ab.length === n ? 1 : 0, bs = bb.length === n ? 1 : 0;
      for (let i = 0; i < n; i++) {
        const m = -(cd[i] !== 0);
        yb[i] = (ab[i * as] & m) | (bb[i * bs] & ~m);
      }
      return y;
    }
    const as = ad.length === n ? 1 : 0, bs = bd.length === n ? 1 : 0;
    for (let i = 0; i < n; i++) y[i] = cd[i] !== 0 ? ad[i * as] : bd[i * bs];
    return y;
  }
  const st = [c, a, b].map((t) => bstrides(t.shape, out.shape));
  forEachRow(out.shape, st, (o, [oc, oa, ob], len, [ic, ia, ib]) => {
    for (let j = 0; j < len; j++) {
      y[o + j] = cd[oc + j * ic] !== 0 ? ad[oa + j * ia] : bd[ob + j * ib];
    }
  });
  return y;
}

function argmaxK([x]: CpuIn[], attrs: OpAttrs["argmax"], out: OutInfo): HostArray {
  const y = take("i32", sizeOf(out.shape));
  const axis = normAxis(attrs.axis, x.shape.length);
  if (x.shape.length === 0) return y;
  const d = x.shape[axis];
  const inner = sizeOf(x.shape.slice(axis + 1));
  const outer = sizeOf(x.shape.slice(0, axis));
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let best = -Infinity, arg = 0;
      for (let k = 0; k < d; k++) {
        const v = x.data[(o * d + k) * inner + j];
        if (v > best) (best = v), (arg = k);
      }
      y[o * inner + j] = arg;
    }
  }
  return y;
}

function topkK([x]: CpuIn[], { k }: OpAttrs["topk"], out: OutInfo): HostArray {
  const y = take("i32", sizeOf(out.shape));
  const d = x.shape[x.shape.length - 1];
  const rows = x.data.length / d;
  const order = Array.from({ length: d }, (_, i) => i);
  for (let r = 0; r < rows; r++) {
    const row = x.data.subarray(r * d, (r + 1) * d);
    order.sort((p, q) => row[q] - row[p] || p - q);
    for (let i = 0; i < k; i++) y[r * k + i] = order[i];
    order.sort((p, q) => p - q);
  }
  return y;
}

function upsampleK([x]: CpuIn[], { scale }: OpAttrs["upsampleNearest"], out: OutInfo): HostArray {
  const y = alloc(out);
  const [, , H, W] = x.shape;
  const [, , OH, OW] = out.shape;
  const planes = x.data.length / (H * W);
  for (let p = 0; p < planes; p++) {
    for (let oh = 0; oh < OH; oh++) {
      const ih = Math.floor(oh / scale[0]);
      for (let ow = 0; ow < OW; ow++) {
        y[(p * OH + oh) * OW + ow] = x.data[(p * H + ih) * W + Math.floor(ow / scale[1])];
      }
    }
  }
  return y;
}

function upsampleBackwardK(
  [g]: CpuIn[],
  { scale }: OpAttrs["upsampleNearestBackward"],
  out: OutInfo,
) {
  const y = alloc(out);
  const [, , OH, OW] = g.shape;
  const [, , H, W] = out.shape;
  const planes = y.length / (H * W);
  for (let p = 0; p < planes; p++) {
    for (let oh = 0; oh < OH; oh++) {
      const ih = Math.floor(oh / scale[0]);
      for (let ow = 0; ow < OW; ow++) {
        y[(p * H + ih) * W + Math.floor(ow / scale[1])] += g.data[(p * OH + oh) * OW + ow];
      }
    }
  }
  return y;
}

/** ReLU on the bit patterns: `x > 0 ? x : 0` (NaN gives 0) without a branch. */
function reluK([x]: CpuIn[], _a: OpAttrs["relu"], out: OutInfo): HostArray {
  const y = alloc(out);
  const xd = x.data, xb = bits(xd), yb = bits(y);
  for (let i = 0; i < xd.length; i++) yb[i] = xb[i] & -(xd[i] > 0);
  return y;
}

/** Clip on the bit patterns: `x < lo ? lo : x > hi ? hi : x` (NaN stays NaN) without a branch. */
function clipK([x]: CpuIn[], { lo, hi }: OpAttrs["clip"], out: OutInfo): HostArray {
  const y = alloc(out);
  const xd = x.data, xb = bits(xd), yb = bits(y);
  const lb = bits(Float32Array.of(lo))[0], hb = bits(Float32Array.of(hi))[0];
  for (let i = 0; i < xd.length; i++) {
    const v = xd[i];
    const ml = -(v < lo), mh = -(v > hi);
    yb[i] = (lb & ml) | (hb & mh) | (xb[i] & ~(ml | mh));
  }
  return y;
}

/** clip's gradient `g * ((x >= lo) * (x <= hi))` in one branch-free pass (as the composite). */
function clipBackwardK(
  [g, x]: CpuIn[],
  { lo, hi }: OpAttrs["clipBackward"],
  out: OutInfo,
): HostArray {
  const y = alloc(out);
  const gd = g.data, xd = x.data;
  const l = Math.fround(lo), h = Math.fround(hi); // the composite compares with f32 scalars
  for (let i = 0; i < xd.length; i++) {
    const v = xd[i];
    y[i] = gd[i] * (+(v >= l) * +(v <= h));
  }
  return y;
}

/**
 * The random mask's threshold test: `h(h(i ^ k0) ^ k1) < thr` (unsigned) with lowbias32 as `h`,
 * written once here and once in WGSL (`webgpu/pointwise.ts`); no loop-carried state, so the
 * iterations overlap (~1 ns an element).
 */
function randomMaskK([x]: CpuIn[], { p, k0, k1 }: OpAttrs["randomMask"], out: OutInfo): HostArray {
  const y = alloc(out);
  const n = x.data.length;
  // Unsigned `h < thr` as a signed comparison of both sides with the top bit flipped.
  const thr = maskThreshold(p);
  if (thr === 4294967296) return y.fill(1);
  const ts = thr - 2147483648;
  for (let i = 0; i < n; i++) y[i] = +((maskHash(i, k0, k1) ^ -2147483648) < ts);
  return y;
}

/**
 * The random mask's hash of element `i`: lowbias32 of `i ^ k0`, then of that `^ k1` (the one
 * definition on the cpu backend; V8 inlines it into the loops). The WGSL twin is `mask_h_`.
 */
function maskHash(i: number, k0: number, k1: number): number {
  let h = i ^ k0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  h ^= k1;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h;
}

/** `floor(p * 2^32)`: the hash values below it make a 1 (2^32 at p = 1: every value). */
export const maskThreshold = (p: number): number => Math.floor(p * 4294967296);

/*
 * Fused fake-quant. The forward rounds to f32 after every step exactly as the composite
 * (div, roundSte, add, clip, sub, mul, each stored in a Float32Array) does, so the two agree
 * bit for bit.
 */
const fround = Math.fround;

/*
 * The exact loops first clamp `t = x / s` to [qmin - z - 1, qmax - z + 1]: that changes no result
 * (anything beyond quantizes to the same end of the grid and counts as outside) and keeps `t`
 * small enough for the add-and-subtract rounding. Math.min/max keep NaN but compile to branches
 * that mispredict on real data (~15 ns an element).
 *
 * The fast loops (used when the zero point is a small integer, as every scheme here makes it)
 * round with the same add-and-subtract trick, then clamp in int32 with sign-mask arithmetic: no
 * branches, ~3 ns an element. That is exact while |t| <= 2^22; each loop records whether any
 * element broke that bound (or was NaN) and, if so, the row is redone by the exact loop, so
 * the result is bit-identical in every case.
 */

/** Largest |x / s| the fast loops handle (beyond it, or on NaN, the exact loop redoes the row). */
const FAST_T = 4194304;
/** Zero points the fast loops handle: integers of at most this magnitude. */
const fastZero = (zv: number) => Number.isInteger(zv) && Math.abs(zv) <= 65536;

/** Fake-quant of `n` contiguous elements with one scale and zero point. */
function fakeQuantRow(
  y: HostArray,
  yo: number,
  xd: HostArray,
  xo: number,
  n: number,
  sv: number,
  zv: number,
  qmin: number,
  qmax: number,
): void {
  if (fastZero(zv) && !fakeQuantRowFast(y, yo, xd, xo, n, sv, zv, qmin, qmax)) return;
  const lo = qmin - zv - 1, hi = qmax - zv + 1;
  for (let j = 0; j < n; j++) {
    const t = Math.min(Math.max(fround(xd[xo + j] / sv), lo), hi);
    const a = fround(t + 6755399441055744 - 6755399441055744 + zv);
    y[yo + j] = fround(Math.min(Math.max(a, qmin), qmax) - zv) * sv;
  }
}

/** {@linkcode fakeQuantRow}'s branch-free loop; returns true when the row must be redone. */
function fakeQuantRowFast(
  y: HostArray,
  yo: number,
  xd: HostArray,
  xo: number,
  n: number,
  sv: number,
  zi: number,
  qmin: number,
  qmax: number,
): boolean {
  let bad = 0;
  for (let j = 0; j < n; j++) {
    const t = fround(xd[xo + j] / sv);
    bad |= +!(Math.abs(t) <= FAST_T);
    const a = ((t + 6755399441055744 - 6755399441055744) | 0) + zi;
    // Integer clamps as conditional moves (faster here than the sign-mask arithmetic).
    y[yo + j] = ((a < qmin ? qmin : a > qmax ? qmax : a) - zi) * sv;
  }
  return bad !== 0;
}

/** Fake-quant's gradient over `n` contiguous elements with one scale and zero point. */
function fakeQuantBackwardRow(
  y: HostArray,
  yo: number,
  gd: HostArray,
  go: number,
  xd: HostArray,
  xo: number,
  n: number,
  sv: number,
  zv: number,
  qmin: number,
  qmax: number,
  toX: boolean,
): void {
  if (
    fastZero(zv) && !fakeQuantBackwardRowFast(y, yo, gd, go, xd, xo, n, sv, zv, qmin, qmax, toX)
  ) return;
  const lo = qmin - zv - 1, hi = qmax - zv + 1;
  if (toX) {
    for (let j = 0; j < n; j++) {
      const t = Math.min(Math.max(fround(xd[xo + j] / sv), lo), hi);
      const a = fround(t + 6755399441055744 - 6755399441055744 + zv);
      y[yo + j] = gd[go + j] * (+(a >= qmin) * +(a <= qmax));
    }
    return;
  }
  for (let j = 0; j < n; j++) {
    const t = Math.min(Math.max(fround(xd[xo + j] / sv), lo), hi);
    const r = t + 6755399441055744 - 6755399441055744;
    const a = fround(r + zv);
    const inside = +(a >= qmin) * +(a <= qmax);
    const edge = Math.min(Math.max(a, qmin), qmax) - zv;
    y[yo + j] = gd[go + j] * (inside * (r - t) + (1 - inside) * edge);
  }
}

/** {@linkcode fakeQuantBackwardRow}'s branch-free loops; return true when the row must be redone. */
function fakeQuantBackwardRowFast(
  y: HostArray,
  yo: number,
  gd: HostArray,
  go: number,
  xd: HostArray,
  xo: number,
  n: number,
  sv: number,
  zi: number,
  qmin: number,
  qmax: number,
  toX: boolean,
): boolean {
  let bad = 0;
  if (toX) {
    for (let j = 0; j < n; j++) {
      const t = fround(xd[xo + j] / sv);
      bad |= +!(Math.abs(t) <= FAST_T);
      const a = ((t + 6755399441055744 - 6755399441055744) | 0) + zi;
      y[yo + j] = gd[go + j] * (a < qmin || a > qmax ? 0 : 1); // g·0 keeps g's sign, as before
    }
    return bad !== 0;
  }
  // Inside the grid `r − t`, outside the nearer end `qmin − z` or `qmax − z` (in r's terms).
  const lo = qmin - zi, hi = qmax - zi;
  for (let j = 0; j < n; j++) {
    const t = fround(xd[xo + j] / sv);
    bad |= +!(Math.abs(t) <= FAST_T);
    const r = t + 6755399441055744 - 6755399441055744;
    y[yo + j] = gd[go + j] * (r < lo ? lo : r > hi ? hi : r - t);
  }
  return bad !== 0;
}

function fakeQuantK(
  [x, s, z]: CpuIn[],
  { qmin, qmax, drop }: OpAttrs["fakeQuant"],
  out: OutInfo,
): HostArray {
  const y = take("f32", sizeOf(out.shape));
  const xd = x.data, sd = s.data, zd = z.data;
  const yb = bits(y), xb = bits(xd);
  const st = [x, s, z].map((t) => bstrides(t.shape, out.shape));
  forEachRow(out.shape, st, (o, [ox, os, oz], len, [ix, is, iz]) => {
    if (ix === 1 && is === 0 && iz === 0) {
      const step = drop ? DROP_BLOCK : len;
      for (let b = 0; b < len; b += step) {
        const n = Math.min(step, len - b);
        fakeQuantRow(y, o + b, xd, ox + b, n, sd[os], zd[oz], qmin, qmax);
        if (drop) keepRow(yb, o + b, xb, ox + b, 1, n, drop, 1);
      }
    } else {
      for (let j = 0; j < len; j++) {
        fakeQuantRow(y, o + j, xd, ox + j * ix, 1, sd[os + j * is], zd[oz + j * iz], qmin, qmax);
      }
      if (drop) keepRow(yb, o, xb, ox, ix, len, drop, 1);
    }
  });
  return y;
}

/** Rows are fake-quantized and dropped in blocks of this many elements (the block stays in cache). */
const DROP_BLOCK = 4096;

/**
 * QDrop's drop after a fake-quant row: where {@linkcode randomMaskK}'s mask (same `p`, keys and
 * flat output index) is 1, `y` becomes `x` (`kept: 1`) or 0 (`kept: 0`, the scale's gradient).
 * A branch-free bit select: the mask is random, so a branch would mispredict half the time.
 */
function keepRow(
  y: Int32Array,
  yo: number,
  xd: Int32Array,
  xo: number,
  ix: number,
  n: number,
  { p, k0, k1 }: QuantDrop,
  kept: 0 | 1,
): void {
  const thr = maskThreshold(p);
  if (thr === 0) return;
  const ts = thr - 2147483648;
  for (let j = 0; j < n; j++) {
    const m = -((maskHash(yo + j, k0, k1) ^ -2147483648) < ts); // -1 where kept, else 0
    y[yo + j] = (kept ? xd[xo + j * ix] & m : 0) | (y[yo + j] & ~m);
  }
}

function fakeQuantBackwardK(
  [g, x, s, z]: CpuIn[],
  { qmin, qmax, wrt, drop }: OpAttrs["fakeQuantBackward"],
  out: OutInfo,
): HostArray {
  const y = take("f32", sizeOf(out.shape));
  const gd = g.data, xd = x.data, sd = s.data, zd = z.data;
  const st = [g, x, s, z].map((t) => bstrides(t.shape, out.shape));
  const toX = wrt === "x";
  const yb = bits(y), gb = bits(gd);
  forEachRow(out.shape, st, (o, [og, ox, os, oz], len, [ig, ix, is, iz]) => {
    if (ig === 1 && ix === 1 && is === 0 && iz === 0) {
      const step = drop ? DROP_BLOCK : len;
      for (let b = 0; b < len; b += step) {
        const n = Math.min(step, len - b);
        fakeQuantBackwardRow(y, o + b, gd, og + b, xd, ox + b, n, sd[os], zd[oz], qmin, qmax, toX);
        if (drop) keepRow(yb, o + b, gb, og + b, 1, n, drop, toX ? 1 : 0);
      }
    } else {
      for (let j = 0; j < len; j++) {
        fakeQuantBackwardRow(
          y,
          o + j,
          gd,
          og + j * ig,
          xd,
          ox + j * ix,
          1,
          sd[os + j * is],
          zd[oz + j * iz],
          qmin,
          qmax,
          toX,
        );
      }
      if (drop) keepRow(yb, o, gb, og, ig, len, drop, toX ? 1 : 0);
    }
  });
  return y;
}

const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** The reference kernel table: every op in plain TypeScript. */
export const CPU_KERNELS: { [O in Op]: Kernel<O> } = {
  neg: unaryK("neg"),
  exp: unaryK("exp"),
  log: unaryK("log"),
  sqrt: unaryK("sqrt"),
  abs: unaryK("abs"),
  sign: unaryK("sign"),
  relu: reluK,
  sigmoid: unaryK("sigmoid"),
  tanh: unaryK("tanh"),
  erf: unaryK("erf"),
  round: unaryK("round"),
  floor: unaryK("floor"),
  roundSte: unaryK("roundSte"),
  clip: clipK,
  clipBackward: clipBackwardK,
  randomMask: randomMaskK,
  add: binaryK("add"),
  sub: binaryK("sub"),
  mul: binaryK("mul"),
  div: binaryK("div"),
  pow: binaryK("pow"),
  minimum: binaryK("minimum"),
  maximum: binaryK("maximum"),
  lt: binaryK("lt"),
  le: binaryK("le"),
  gt: binaryK("gt"),
  ge: binaryK("ge"),
  eq: binaryK("eq"),
  ne: binaryK("ne"),
  where: whereK,
  sum: reduceK(0, "p + q"),
  max: reduceK(-Infinity, "q > p ? q : p"),
  min: reduceK(Infinity, "q < p ? q : p"),
  argmax: argmaxK,
  topk: topkK,
  matmul: ([a, b], attrs, out) => matmulRef(a, b, attrs, out),
  conv2d: ([x, w], a, out) => conv2dRef(x, w, a, out),
  conv2dBackwardInput: ([dy, w], a) => conv2dBackwardInputRef(dy, w, a),
  conv2dBackwardWeight: ([x, dy], a) => conv2dBackwardWeightRef(x, dy, a),
  maxPool2d: ([x], a, out) => maxPool(x, a, out),
  maxPool2dBackward: (ins, a) => maxPoolBackward(ins, a),
  avgPool2d: ([x], a, out) => avgPool(x, a, out),
  avgPool2dBackward: ([dy], a) => avgPoolBackward(dy, a),
  upsampleNearest: upsampleK,
  upsampleNearestBackward: upsampleBackwardK,
  transpose: transposeK,
  concat: concatK,
  slice: sliceK,
  sliceBackward: sliceBackwardK,
  pad: padK,
  gather: gatherK,
  gatherBackward: gatherBackwardK,
  expand: expandK,
  cast: ([x], { dtype }, out) => {
    const y = alloc(out);
    if (dtype === "i32") { for (let i = 0; i < y.length; i++) y[i] = Math.trunc(x.data[i]); }
    else y.set(x.data);
    return y;
  },
  fakeQuant: fakeQuantK,
  fakeQuantBackward: fakeQuantBackwardK,
};
