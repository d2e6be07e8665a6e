/**
 * 2-D convolution (NCHW, OIHW, groups, dilation, stride, asymmetric pads) and its two gradients,
 * as implicit GEMMs without an im2col buffer. Each thread computes `TM` rows (output channels,
 * input channels) by 4 columns (pixels or weight taps) in vec4 accumulators; every kernel is in
 * gather form, so no atomics are needed.
 *
 * - forward:         rows o (per group),  columns (n, oh, ow), reduction (c, kh, kw)
 * - backward input:  rows c (per group),  columns (n, h, w),   reduction (o, kh, kw)
 * - backward weight: rows o (per group),  columns (c, kh, kw), reduction (n, oh, ow)
 *
 * @module
 */
import type { Conv2dAttrs, OutInfo } from "../ops.ts";
import { sizeOf } from "../ops.ts";
import { bindings, bytesOf, type Ctx, type GpuIn, type GpuStorage } from "./_ctx.ts";

const WX = 16, WY = 4;

/** Shared params: [N, C, H, W, O, Cg, KH, KW, OH, OW, s0, s1, p0, p1, d0, d1, Og]. */
function convParams(
  x: readonly number[],
  w: readonly number[],
  y: readonly number[],
  a: Conv2dAttrs,
) {
  const [N, C, H, W] = x;
  const [O, Cg, KH, KW] = w;
  const [, , OH, OW] = y;
  return [
    N,
    C,
    H,
    W,
    O,
    Cg,
    KH,
    KW,
    OH,
    OW,
    a.strides[0],
    a.strides[1],
    a.pads[0],
    a.pads[1],
    a.dilations[0],
    a.dilations[1],
    O / a.groups,
  ];
}

const HEAD = `
  let N = P[0]; let C = P[1]; let H = P[2]; let W = P[3]; let O = P[4]; let Cg = P[5];
  let KH = P[6]; let KW = P[7]; let OH = P[8]; let OW = P[9]; let strH = P[10]; let strW = P[11];
  let padT = P[12]; let padL = P[13]; let dilH = P[14]; let dilW = P[15]; let Og = P[16];
  let g = i32(gid.z);`;

const ENTRY = `@compute @workgroup_size(${WX}, ${WY})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {`;

const J = [0, 1, 2, 3];
const rep = (n: number, f: (i: number) => string) =>
  Array.from({ length: n }, (_, i) => f(i)).join("\n");

function forwardCode(tm: number): string {
  return `${bindings(["f32", "f32"], "f32")}
${ENTRY}${HEAD}
  let PN = N * OH * OW;
  let pb = i32(gid.x) * 4; let ob = i32(gid.y) * ${tm};
  if (pb >= PN || ob >= Og) { return; }
${
    rep(4, (j) =>
      `  let p${j} = min(pb + ${j}, PN - 1); let n${j} = p${j} / (OH * OW);
  let oh${j} = (p${j} / OW) % OH; let ow${j} = p${j} % OW;
  let xb${j} = (n${j} * C + g * Cg) * H * W;
  let ihb${j} = oh${j} * strH - padT; let iwb${j} = ow${j} * strW - padL;`)
  }
${
    rep(tm, (i) =>
      `  let wr${i} = (g * Og + min(ob + ${i}, Og - 1)) * Cg * KH * KW;
  var acc${i} = vec4<f32>();`)
  }
  for (var c = 0; c < Cg; c++) {
    for (var kh = 0; kh < KH; kh++) {
${
    rep(4, (j) =>
      `      let ih${j} = ihb${j} + kh * dilH; let vh${j} = ih${j} >= 0 && ih${j} < H;
      let xr${j} = xb${j} + c * H * W + ih${j} * W;`)
  }
      for (var kw = 0; kw < KW; kw++) {
${
    rep(4, (j) =>
      `        let iw${j} = iwb${j} + kw * dilW; let v${j} = vh${j} && iw${j} >= 0 && iw${j} < W;
        let x${j} = select(0.0, src0[select(0, xr${j} + iw${j}, v${j})], v${j});`)
  }
        let xv = vec4<f32>(x0, x1, x2, x3);
        let kidx = (c * KH + kh) * KW + kw;
${rep(tm, (i) => `        acc${i} += src1[wr${i} + kidx] * xv;`)}
      }
    }
  }
${
    rep(tm, (i) =>
      `  if (ob + ${i} < Og) {
${
        J.map((j) =>
          `    if (pb + ${j} < PN) { dst[((n${j} * O + g * Og + ob + ${i}) * OH + oh${j}) * OW + ow${j}] = acc${i}[${j}]; }`
        ).join("\n")
      }
  }`)
  }
}`;
}

function backwardInputCode(tm: number): string {
  return `${bindings(["f32", "f32"], "f32")}
${ENTRY}${HEAD}
  let PN = N * H * W;
  let pb = i32(gid.x) * 4; let cb = i32(gid.y) * ${tm};
  if (pb >= PN || cb >= Cg) { return; }
${
    rep(4, (j) =>
      `  let p${j} = min(pb + ${j}, PN - 1); let n${j} = p${j} / (H * W);
  let h${j} = (p${j} / W) % H; let w${j} = p${j} % W;`)
  }
${
    rep(tm, (i) =>
      `  let c${i} = min(cb + ${i}, Cg - 1);
  var acc${i} = vec4<f32>();`)
  }
  for (var o = 0; o < Og; o++) {
    let oc = g * Og + o;
${rep(4, (j) => `    let yb${j} = (n${j} * O + oc) * OH * OW;`)}
    for (var kh = 0; kh < KH; kh++) {
${
    rep(4, (j) =>
      `      let th${j} = h${j} + padT - kh * dilH; let oh${j} = th${j} / strH;
      let vh${j} = th${j} >= 0 && th${j} % strH == 0 && oh${j} < OH;`)
  }
      for (var kw = 0; kw < KW; kw++) {
${
    rep(4, (j) =>
      `        let tw${j} = w${j} + padL - kw * dilW; let ow${j} = tw${j} / strW;
        let v${j} = vh${j} && tw${j} >= 0 && tw${j} % strW == 0 && ow${j} < OW;
        let y${j} = select(0.0, src0[select(0, yb${j} + oh${j} * OW + ow${j}, v${j})], v${j});`)
  }
        let yv = vec4<f32>(y0, y1, y2, y3);
${rep(tm, (i) => `        acc${i} += src1[((oc * Cg + c${i}) * KH + kh) * KW + kw] * yv;`)}
      }
    }
  }
${
    rep(tm, (i) =>
      `  if (cb + ${i} < Cg) {
${
        J.map((j) =>
          `    if (pb + ${j} < PN) { dst[((n${j} * C + g * Cg + cb + ${i}) * H + h${j}) * W + w${j}] = acc${i}[${j}]; }`
        ).join("\n")
      }
  }`)
  }
}`;
}

function backwardWeightCode(tm: number): string {
  return `${bindings(["f32", "f32"], "f32")}
${ENTRY}${HEAD}
  let QN = Cg * KH * KW;
  let qb = i32(gid.x) * 4; let ob = i32(gid.y) * ${tm};
  if (qb >= QN || ob >= Og) { return; }
${
    rep(4, (j) =>
      `  let q${j} = min(qb + ${j}, QN - 1); let c${j} = q${j} / (KH * KW);
  let kh${j} = (q${j} / KW) % KH; let kw${j} = q${j} % KW;
  let xc${j} = (g * Cg + c${j}) * H * W;`)
  }
${
    rep(tm, (i) =>
      `  let oc${i} = g * Og + min(ob + ${i}, Og - 1);
  var acc${i} = vec4<f32>();`)
  }
  for (var n = 0; n < N; n++) {
    for (var oh = 0; oh < OH; oh++) {
${
    rep(4, (j) =>
      `      let ih${j} = oh * strH - padT + kh${j} * dilH; let vh${j} = ih${j} >= 0 && ih${j} < H;
      let xr${j} = n * C * H * W + xc${j} + ih${j} * W;`)
  }
${rep(tm, (i) => `      let yr${i} = ((n * O + oc${i}) * OH + oh) * OW;`)}
      for (var ow = 0; ow < OW; ow++) {
${
    rep(4, (j) =>
      `        let iw${j} = ow * strW - padL + kw${j} * dilW; let v${j} = vh${j} && iw${j} >= 0 && iw${j} < W;
        let x${j} = select(0.0, src1[select(0, xr${j} + iw${j}, v${j})], v${j});`)
  }
        let xv = vec4<f32>(x0, x1, x2, x3);
${rep(tm, (i) => `        acc${i} += src0[yr${i} + ow] * xv;`)}
      }
    }
  }
${
    rep(tm, (i) =>
      `  if (ob + ${i} < Og) {
${
        J.map((j) =>
          `    if (qb + ${j} < QN) { dst[(g * Og + ob + ${i}) * QN + qb + ${j}] = acc${i}[${j}]; }`
        ).join("\n")
      }
  }`)
  }
}`;
}

const tmFor = (rows: number) => (rows >= 8 ? 8 : rows >= 4 ? 4 : 1);

/** Forward convolution: inputs [x, w]. */
export function conv2d(ctx: Ctx, x: GpuIn, w: GpuIn, a: Conv2dAttrs, out: OutInfo): GpuStorage {
  const y = ctx.alloc(bytesOf(sizeOf(out.shape)));
  if (sizeOf(out.shape) === 0) return y;
  const [N, , OH, OW] = out.shape;
  const Og = w.shape[0] / a.groups, tm = tmFor(Og);
  ctx.dispatch({
    key: `conv:fwd:${tm}`,
    code: () => forwardCode(tm),
    inputs: [x.storage, w.storage],
    output: y,
    params: convParams(x.shape, w.shape, out.shape, a),
    groups: [Math.ceil((N * OH * OW) / (4 * WX)), Math.ceil(Og / (tm * WY)), a.groups],
  });
  return y;
}

/** Input gradient: inputs [dy, w]. */
export function conv2dBackwardInput(
  ctx: Ctx,
  dy: GpuIn,
  w: GpuIn,
  a: Conv2dAttrs & { inputShape: number[] },
  out: OutInfo,
): GpuStorage {
  const y = ctx.alloc(bytesOf(sizeOf(out.shape)));
  if (sizeOf(out.shape) === 0) return y;
  const [N, , H, W] = a.inputShape;
  const Cg = w.shape[1], tm = tmFor(Cg);
  ctx.dispatch({
    key: `conv:bwdx:${tm}`,
    code: () => backwardInputCode(tm),
    inputs: [dy.storage, w.storage],
    output: y,
    params: convParams(a.inputShape, w.shape, dy.shape, a),
    groups: [Math.ceil((N * H * W) / (4 * WX)), Math.ceil(Cg / (tm * WY)), a.groups],
  });
  return y;
}

/** Weight gradient: inputs [x, dy]. */
export function conv2dBackwardWeight(
  ctx: Ctx,
  x: GpuIn,
  dy: GpuIn,
  a: Conv2dAttrs & { weightShape: number[] },
  out: OutInfo,
): GpuStorage {
  const y = ctx.alloc(bytesOf(sizeOf(out.shape)));
  if (sizeOf(out.shape) === 0) return y;
  const [O, Cg, KH, KW] = a.weightShape;
  const Og = O / a.groups, tm = tmFor(Og);
  ctx.dispatch({
    key: `conv:bwdw:${tm}`,
    code: () => backwardWeightCode(tm),
    inputs: [dy.storage, x.storage],
    output: y,
    params: convParams(x.shape, a.weightShape, dy.shape, a),
    groups: [Math.ceil((Cg * KH * KW) / (4 * WX)), Math.ceil(Og / (tm * WY)), a.groups],
  });
  return y;
}
