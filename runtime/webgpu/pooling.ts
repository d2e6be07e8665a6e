/**
 * Pooling (max, average with `count_include_pad`) and nearest upsampling, forward and backward.
 * Backward kernels run in gather form (one thread per input cell, visiting the windows that
 * cover it in the CPU backend's order), so no atomics are needed.
 *
 * @module
 */
import type { OpAttrs, OutInfo, Pool2dAttrs } from "../ops.ts";
import { sizeOf } from "../ops.ts";
import {
  bindings,
  bytesOf,
  type Ctx,
  type GpuIn,
  type GpuStorage,
  grid,
  main1d,
  wgslType,
} from "./_ctx.ts";

/** Params: [threads, H, W, OH, OW, k0, k1, s0, s1, p0, p1, p2, p3, countIncludePad]. */
function poolParams(n: number, x: readonly number[], y: readonly number[], a: Pool2dAttrs) {
  return [
    n,
    x[2],
    x[3],
    y[2],
    y[3],
    ...a.kernel,
    ...a.strides,
    ...a.pads,
    a.countIncludePad ? 1 : 0,
  ];
}

const HEAD = `
  let H = P[1]; let W = P[2]; let OH = P[3]; let OW = P[4]; let k0 = P[5]; let k1 = P[6];
  let s0 = P[7]; let s1 = P[8]; let p0 = P[9]; let p1 = P[10]; let p2 = P[11]; let p3 = P[12];
  let cip = P[13] != 0;
  let NEG_INF = bitcast<f32>(0xff800000u);`;

/** Window argmax (first maximum in scan order, -1 if none is above -inf), as the CPU does. */
const ARGMAX_FN = `
fn window_arg(plane: i32, oh: i32, ow: i32, H: i32, W: i32, k0: i32, k1: i32, s0: i32, s1: i32,
              p0: i32, p1: i32) -> i32 {
  var m = bitcast<f32>(0xff800000u);
  var arg = -1;
  for (var kh = 0; kh < k0; kh++) {
    let ih = oh * s0 - p0 + kh;
    if (ih < 0 || ih >= H) { continue; }
    for (var kw = 0; kw < k1; kw++) {
      let iw = ow * s1 - p1 + kw;
      if (iw < 0 || iw >= W) { continue; }
      let c = ih * W + iw;
      let v = src0[plane * H * W + c];
      if (v > m) { m = v; arg = c; }
    }
  }
  return arg;
}`;

/** Divisor of an average window: valid cells, or cells inside the padded extent. */
const DIVISOR_FN = `
fn window_div(oh: i32, ow: i32, H: i32, W: i32, k0: i32, k1: i32, s0: i32, s1: i32, p0: i32,
              p1: i32, p2: i32, p3: i32, cip: bool) -> f32 {
  let h0 = oh * s0 - p0; let w0 = ow * s1 - p1;
  if (cip) {
    let th = clamp(H + p2 - h0, 0, k0); let tw = clamp(W + p3 - w0, 0, k1);
    return f32(th * tw);
  }
  let vh = max(0, min(H, h0 + k0) - max(0, h0)); let vw = max(0, min(W, w0 + k1) - max(0, w0));
  return f32(vh * vw);
}`;

/** Range of output positions whose window covers input index `ih` (inclusive). */
const RANGE_FN = `
fn cover(ih: i32, p: i32, k: i32, s: i32, n: i32) -> vec2<i32> {
  let lo = ih + p - k + 1;
  return vec2<i32>(select(0, (lo + s - 1) / s, lo > 0), min(n - 1, (ih + p) / s));
}`;

function run(
  ctx: Ctx,
  key: string,
  code: () => string,
  inputs: readonly GpuIn[],
  out: OutInfo,
  params: (n: number) => number[],
): GpuStorage {
  const n = sizeOf(out.shape);
  const y = ctx.alloc(bytesOf(n));
  if (n === 0) return y;
  ctx.dispatch({
    key,
    code,
    inputs: inputs.map((x) => x.storage),
    output: y,
    params: params(n),
    groups: grid(n),
  });
  return y;
}

export function maxPool2d(ctx: Ctx, x: GpuIn, a: Pool2dAttrs, out: OutInfo): GpuStorage {
  return run(
    ctx,
    "pool:max",
    () =>
      `${bindings(["f32"], "f32")}
${
        main1d(`${HEAD}
  let ow = i % OW; let oh = (i / OW) % OH; let plane = i / (OW * OH);
  var m = NEG_INF;
  for (var kh = 0; kh < k0; kh++) {
    let ih = oh * s0 - p0 + kh;
    if (ih < 0 || ih >= H) { continue; }
    for (var kw = 0; kw < k1; kw++) {
      let iw = ow * s1 - p1 + kw;
      if (iw < 0 || iw >= W) { continue; }
      let v = src0[(plane * H + ih) * W + iw];
      if (v > m) { m = v; }
    }
  }
  dst[i] = m;`)
      }`,
    [x],
    out,
    (n) => poolParams(n, x.shape, out.shape, a),
  );
}

export function maxPool2dBackward(
  ctx: Ctx,
  x: GpuIn,
  dy: GpuIn,
  a: Pool2dAttrs,
  out: OutInfo,
): GpuStorage {
  return run(
    ctx,
    "pool:maxb",
    () =>
      `${bindings(["f32", "f32"], "f32")}
${ARGMAX_FN}
${RANGE_FN}
${
        main1d(`${HEAD}
  let iw = i % W; let ih = (i / W) % H; let plane = i / (W * H);
  let rh = cover(ih, p0, k0, s0, OH); let rw = cover(iw, p1, k1, s1, OW);
  var acc = 0.0;
  for (var oh = rh.x; oh <= rh.y; oh++) {
    for (var ow = rw.x; ow <= rw.y; ow++) {
      if (window_arg(plane, oh, ow, H, W, k0, k1, s0, s1, p0, p1) == ih * W + iw) {
        acc += src1[(plane * OH + oh) * OW + ow];
      }
    }
  }
  dst[i] = acc;`)
      }`,
    [x, dy],
    out,
    (n) => poolParams(n, x.shape, dy.shape, a),
  );
}

export function avgPool2d(ctx: Ctx, x: GpuIn, a: Pool2dAttrs, out: OutInfo): GpuStorage {
  return run(
    ctx,
    "pool:avg",
    () =>
      `${bindings(["f32"], "f32")}
${DIVISOR_FN}
${
        main1d(`${HEAD}
  let ow = i % OW; let oh = (i / OW) % OH; let plane = i / (OW * OH);
  var s = 0.0;
  for (var kh = 0; kh < k0; kh++) {
    let ih = oh * s0 - p0 + kh;
    if (ih < 0 || ih >= H) { continue; }
    for (var kw = 0; kw < k1; kw++) {
      let iw = ow * s1 - p1 + kw;
      if (iw < 0 || iw >= W) { continue; }
      s += src0[(plane * H + ih) * W + iw];
    }
  }
  dst[i] = s / window_div(oh, ow, H, W, k0, k1, s0, s1, p0, p1, p2, p3, cip);`)
      }`,
    [x],
    out,
    (n) => poolParams(n, x.shape, out.shape, a),
  );
}

export function avgPool2dBackward(
  ctx: Ctx,
  dy: GpuIn,
  a: Pool2dAttrs & { inputShape: number[] },
  out: OutInfo,
): GpuStorage {
  return run(
    ctx,
    "pool:avgb",
    () =>
      `${bindings(["f32"], "f32")}
${DIVISOR_FN}
${RANGE_FN}
${
        main1d(`${HEAD}
  let iw = i % W; let ih = (i / W) % H; let plane = i / (W * H);
  let rh = cover(ih, p0, k0, s0, OH); let rw = cover(iw, p1, k1, s1, OW);
  var acc = 0.0;
  for (var oh = rh.x; oh <= rh.y; oh++) {
    for (var ow = rw.x; ow <= rw.y; ow++) {
      acc += src0[(plane * OH + oh) * OW + ow] /
        window_div(oh, ow, H, W, k0, k1, s0, s1, p0, p1, p2, p3, cip);
    }
  }
  dst[i] = acc;`)
      }`,
    [dy],
    out,
    (n) => poolParams(n, a.inputShape, dy.shape, a),
  );
}

export function upsampleNearest(
  ctx: Ctx,
  x: GpuIn,
  { scale }: OpAttrs["upsampleNearest"],
  out: OutInfo,
): GpuStorage {
  const t = wgslType(x.dtype);
  return run(
    ctx,
    `up:${t}`,
    () =>
      `${bindings([t], t)}
${
        main1d(`  let H = P[1]; let W = P[2]; let OH = P[3]; let OW = P[4];
  let ow = i % OW; let oh = (i / OW) % OH; let plane = i / (OW * OH);
  dst[i] = src0[(plane * H + oh / P[5]) * W + ow / P[6]];`)
      }`,
    [x],
    out,
    (n) => [n, x.shape[2], x.shape[3], out.shape[2], out.shape[3], ...scale],
  );
}

export function upsampleNearestBackward(
  ctx: Ctx,
  g: GpuIn,
  { scale }: OpAttrs["upsampleNearestBackward"],
  out: OutInfo,
): GpuStorage {
  return run(
    ctx,
    "upb",
    () =>
      `${bindings(["f32"], "f32")}
${
        main1d(
          `  let H = P[1]; let W = P[2]; let OH = P[3]; let OW = P[4]; let s0 = P[5]; let s1 = P[6];
  let iw = i % W; let ih = (i / W) % H; let plane = i / (W * H);
  var acc = 0.0;
  for (var a = 0; a < s0; a++) {
    let oh = ih * s0 + a;
    if (oh >= OH) { break; }
    for (var b = 0; b < s1; b++) {
      let ow = iw * s1 + b;
      if (ow >= OW) { break; }
      acc += src0[(plane * OH + oh) * OW + ow];
    }
  }
  dst[i] = acc;`,
        )
      }`,
    [g],
    out,
    (n) => [n, out.shape[2], out.shape[3], g.shape[2], g.shape[3], ...scale],
  );
}
