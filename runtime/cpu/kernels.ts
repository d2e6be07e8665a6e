/**
 * CPU kernels in TypeScript for every op: the oracle and the no-GPU path. Dense matmul and
 * convolution route to onnxruntime (see `ort.ts`) when `fast` is on; the loops here are the
 * reference they are tested against.
 *
 * @module
 */
import type { HostArray } from "../backend.ts";
import type { Conv2dAttrs, DType, Op, OpAttrs, OutInfo, Pool2dAttrs } from "../ops.ts";
import { sizeOf } from "../ops.ts";

/** A kernel's view of an input: its host data and shape. */
export interface CpuIn {
  data: HostArray;
  shape: readonly number[];
  dtype: DType;
}

export type Kernel<O extends Op> = (inputs: CpuIn[], attrs: OpAttrs[O], out: OutInfo) => HostArray;

const alloc = (out: OutInfo): HostArray =>
  out.dtype === "f32" ? new Float32Array(sizeOf(out.shape)) : new Int32Array(sizeOf(out.shape));

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
  return outShape.map((d, i) => (i < lead || shape[i - lead] === 1 ? 0 : s[i - lead]));
}

/** Round half to even. */
export function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
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

type F1 = (x: number) => number;
type F2 = (a: number, b: number) => number;

function unaryK<O extends Op>(f: F1): Kernel<O> {
  return ([x], _a, out) => {
    const y = alloc(out);
    const xd = x.data;
    for (let i = 0; i < y.length; i++) y[i] = f(xd[i]);
    return y;
  };
}

function binaryK<O extends Op>(f: F2): Kernel<O> {
  return ([a, b], _attrs, out) => {
    const y = alloc(out);
    const ad = a.data, bd = b.data;
    const n = y.length;
    if (ad.length === n && bd.length === n) {
      for (let i = 0; i < n; i++) y[i] = f(ad[i], bd[i]);
    } else if (bd.length === 1 && ad.length === n) {
      const bv = bd[0];
      for (let i = 0; i < n; i++) y[i] = f(ad[i], bv);
    } else if (ad.length === 1 && bd.length === n) {
      const av = ad[0];
      for (let i = 0; i < n; i++) y[i] = f(av, bd[i]);
    } else {
      broadcastLoop(out.shape, [a.shape, b.shape], (o, [ia, ib]) => {
        y[o] = f(ad[ia], bd[ib]);
      }, n);
    }
    return y;
  };
}

/**
 * Visits every output index with the matching flat index of each broadcast input. The innermost
 * dimension is a tight loop.
 */
function broadcastLoop(
  outShape: readonly number[],
  inShapes: (readonly number[])[],
  visit: (o: number, idx: number[]) => void,
  n: number,
): void {
  const rank = outShape.length;
  if (rank === 0) {
    visit(0, inShapes.map(() => 0));
    return;
  }
  const st = inShapes.map((s) => bstrides(s, outShape));
  const counter = new Array<number>(rank).fill(0);
  const base = inShapes.map(() => 0);
  const last = outShape[rank - 1];
  const idx = inShapes.map(() => 0);
  for (let o = 0; o < n; o += last) {
    for (let j = 0; j < last; j++) {
      for (let k = 0; k < idx.length; k++) idx[k] = base[k] + j * st[k][rank - 1];
      visit(o + j, idx);
    }
    for (let d = rank - 2; d >= 0; d--) {
      counter[d]++;
      for (let k = 0; k < base.length; k++) base[k] += st[k][d];
      if (counter[d] < outShape[d]) break;
      for (let k = 0; k < base.length; k++) base[k] -= st[k][d] * counter[d];
      counter[d] = 0;
    }
  }
}

function reduceK<O extends "sum" | "max" | "min">(
  init: number,
  f: F2,
): Kernel<O> {
  return ([x], { axes }, out) => {
    const y = alloc(out).fill(init);
    const xd = x.data;
    if (axes.length === 0) {
      y.set(xd);
      return y;
    }
    // Map each input element to its output slot: out strides with 0 on reduced axes.
    const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const os = strides(keptShape).map((s, i) => (axes.includes(i) ? 0 : s));
    const rank = x.shape.length;
    const inner = x.shape[rank - 1];
    const innerStride = os[rank - 1];
    const counter = new Array<number>(rank).fill(0);
    let base = 0;
    for (let i = 0; i < xd.length; i += inner) {
      if (innerStride === 0) {
        let acc = y[base];
        for (let j = 0; j < inner; j++) acc = f(acc, xd[i + j]);
        y[base] = acc;
      } else {
        for (let j = 0; j < inner; j++) y[base + j] = f(y[base + j], xd[i + j]);
      }
      for (let d = rank - 2; d >= 0; d--) {
        counter[d]++;
        base += os[d];
        if (counter[d] < x.shape[d]) break;
        base -= os[d] * counter[d];
        counter[d] = 0;
      }
    }
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
  const y = new Float32Array(sizeOf(out.shape));
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
        if (transB) for (let j = 0; j < N; j++) row[j] += av * bd[ob + j * K + k];
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
  const y = new Float32Array(sizeOf(out.shape));
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
                acc += xd[((n * C + ci) * H + ih) * W + iw] * wd[((o * Cg + c) * KH + kh) * KW + kw];
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
  const dx = new Float32Array(N * C * H * W);
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
  const dw = new Float32Array(O * Cg * KH * KW);
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
  const y = new Float32Array(sizeOf(out.shape));
  poolLoop(x, a, out.shape[2], out.shape[3], (_p, oi, cells) => {
    let m = -Infinity;
    for (const c of cells) if (x.data[c] > m) m = x.data[c];
    y[oi] = m;
  });
  return y;
}

function maxPoolBackward([x, dy]: CpuIn[], a: Pool2dAttrs): Float32Array {
  const dx = new Float32Array(x.data.length);
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
  const y = new Float32Array(sizeOf(out.shape));
  poolLoop(x, a, out.shape[2], out.shape[3], (_p, oi, cells, total) => {
    let s = 0;
    for (const c of cells) s += x.data[c];
    y[oi] = s / avgDivisor(a, cells, total);
  });
  return y;
}

function avgPoolBackward(dy: CpuIn, a: Pool2dAttrs & { inputShape: number[] }): Float32Array {
  const dx = new Float32Array(sizeOf(a.inputShape));
  const xShape = { data: dx, shape: a.inputShape, dtype: "f32" as const };
  poolLoop(xShape, a, dy.shape[2], dy.shape[3], (_p, oi, cells, total) => {
    const g = dy.data[oi] / avgDivisor(a, cells, total);
    for (const c of cells) dx[c] += g;
  });
  return dx;
}

/** Iterates over the multi-index of a shape in row-major order. */
function forEachIndex(shape: readonly number[], f: (idx: number[], flat: number) => void): void {
  const n = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    f(idx, i);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

function transposeK([x]: CpuIn[], { perm }: OpAttrs["transpose"], out: OutInfo): HostArray {
  const y = alloc(out);
  const xs = strides(x.shape);
  const ps = perm.map((p) => xs[p]);
  const rank = perm.length;
  if (rank === 0) {
    y[0] = x.data[0];
    return y;
  }
  const os = out.shape;
  const last = os[rank - 1], lastStride = ps[rank - 1];
  const counter = new Array<number>(rank).fill(0);
  let base = 0;
  for (let o = 0; o < y.length; o += last) {
    for (let j = 0; j < last; j++) y[o + j] = x.data[base + j * lastStride];
    for (let d = rank - 2; d >= 0; d--) {
      counter[d]++;
      base += ps[d];
      if (counter[d] < os[d]) break;
      base -= ps[d] * counter[d];
      counter[d] = 0;
    }
  }
  return y;
}

function sliceK([x]: CpuIn[], { starts, steps }: OpAttrs["slice"], out: OutInfo): HostArray {
  const y = alloc(out);
  const xs = strides(x.shape);
  forEachIndex(out.shape, (idx, o) => {
    let off = 0;
    for (let d = 0; d < idx.length; d++) off += (starts[d] + idx[d] * steps[d]) * xs[d];
    y[o] = x.data[off];
  });
  return y;
}

function sliceBackwardK([g]: CpuIn[], a: OpAttrs["sliceBackward"], out: OutInfo): HostArray {
  const y = alloc(out);
  const xs = strides(a.inputShape);
  forEachIndex(g.shape, (idx, o) => {
    let off = 0;
    for (let d = 0; d < idx.length; d++) off += (a.starts[d] + idx[d] * a.steps[d]) * xs[d];
    y[off] += g.data[o];
  });
  return y;
}

function padK([x]: CpuIn[], { pads, value }: OpAttrs["pad"], out: OutInfo): HostArray {
  const y = alloc(out).fill(value);
  const os = strides(out.shape);
  const r = x.shape.length;
  forEachIndex(x.shape, (idx, i) => {
    let off = 0;
    for (let d = 0; d < r; d++) off += (idx[d] + pads[d]) * os[d];
    y[off] = x.data[i];
  });
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
      if (k < 0 || k >= d) throw new RangeError(`gather: index ${idx.data[i]} out of range [0, ${d})`);
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
  broadcastLoop(out.shape, [x.shape], (o, [i]) => {
    y[o] = x.data[i];
  }, y.length);
  return y;
}

function whereK([c, a, b]: CpuIn[], _: OpAttrs["where"], out: OutInfo): HostArray {
  const y = alloc(out);
  broadcastLoop(out.shape, [c.shape, a.shape, b.shape], (o, [ic, ia, ib]) => {
    y[o] = c.data[ic] !== 0 ? a.data[ia] : b.data[ib];
  }, y.length);
  return y;
}

function argmaxK([x]: CpuIn[], { axis }: OpAttrs["argmax"], out: OutInfo): HostArray {
  const y = new Int32Array(sizeOf(out.shape));
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
  const y = new Int32Array(sizeOf(out.shape));
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

function upsampleBackwardK([g]: CpuIn[], { scale }: OpAttrs["upsampleNearestBackward"], out: OutInfo) {
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

const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** The reference kernel table: every op in plain TypeScript. */
export const CPU_KERNELS: { [O in Op]: Kernel<O> } = {
  neg: unaryK((x) => -x),
  exp: unaryK(Math.exp),
  log: unaryK(Math.log),
  sqrt: unaryK(Math.sqrt),
  abs: unaryK(Math.abs),
  sign: unaryK((x) => (x > 0 ? 1 : x < 0 ? -1 : 0)),
  relu: unaryK((x) => (x > 0 ? x : 0)),
  sigmoid: unaryK(sigmoid),
  tanh: unaryK(Math.tanh),
  erf: unaryK(erf),
  round: unaryK(roundEven),
  floor: unaryK(Math.floor),
  roundSte: unaryK(roundEven),
  clip: ([x], { lo, hi }, out) => {
    const y = alloc(out);
    for (let i = 0; i < y.length; i++) {
      const v = x.data[i];
      y[i] = v < lo ? lo : v > hi ? hi : v;
    }
    return y;
  },
  add: binaryK((a, b) => a + b),
  sub: binaryK((a, b) => a - b),
  mul: binaryK((a, b) => a * b),
  div: binaryK((a, b) => a / b),
  pow: binaryK(Math.pow),
  minimum: binaryK((a, b) => (a < b ? a : b)),
  maximum: binaryK((a, b) => (a > b ? a : b)),
  lt: binaryK((a, b) => (a < b ? 1 : 0)),
  le: binaryK((a, b) => (a <= b ? 1 : 0)),
  gt: binaryK((a, b) => (a > b ? 1 : 0)),
  ge: binaryK((a, b) => (a >= b ? 1 : 0)),
  eq: binaryK((a, b) => (a === b ? 1 : 0)),
  ne: binaryK((a, b) => (a !== b ? 1 : 0)),
  where: whereK,
  sum: reduceK(0, (a, b) => a + b),
  max: reduceK(-Infinity, (a, b) => (b > a ? b : a)),
  min: reduceK(Infinity, (a, b) => (b < a ? b : a)),
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
    if (dtype === "i32") for (let i = 0; i < y.length; i++) y[i] = Math.trunc(x.data[i]);
    else y.set(x.data);
    return y;
  },
};
