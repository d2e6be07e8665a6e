/**
 * Movement kernels: transpose and slice (one strided-gather kernel), concat (one copy per input
 * into its region of the output), pad, gather, and the gradients of slice and gather in gather
 * form (each output element sums what lands on it, in the CPU backend's order).
 *
 * @module
 */
import type { DType, OpAttrs, OutInfo } from "../ops.ts";
import { sizeOf } from "../ops.ts";
import {
  bindings,
  bytesOf,
  type Ctx,
  f32Bits,
  type GpuIn,
  type GpuStorage,
  grid,
  main1d,
  stridesOf,
  wgslType,
} from "./_ctx.ts";

/** WGSL that decomposes `i` by the shape at `P[base..]` into `c0..c{r-1}`. */
function coords(r: number, base: number, v = "i"): string {
  const L = [`  var rem = ${v};`];
  for (let d = r - 1; d >= 0; d--) {
    L.push(`  let c${d} = rem % P[${base + d}]; rem = rem / P[${base + d}];`);
  }
  return L.join("\n");
}

/** out[i] = x[offset + sum_d c_d * strides_d] over the output's coordinates. */
function stridedGather(
  ctx: Ctx,
  x: GpuIn,
  out: OutInfo,
  offset: number,
  strides: readonly number[],
): GpuStorage {
  const n = sizeOf(out.shape);
  const y = ctx.alloc(bytesOf(n));
  if (n === 0) return y;
  const r = out.shape.length;
  const t = wgslType(x.dtype);
  ctx.dispatch({
    key: `sg:${t}:${r}`,
    code: () =>
      `${bindings([t], t)}
${
        main1d(`${coords(r, 2)}
  var off = P[1];
${Array.from({ length: r }, (_, d) => `  off += c${d} * P[${2 + r + d}];`).join("\n")}
  dst[i] = src0[off];`)
      }`,
    inputs: [x.storage],
    output: y,
    params: [n, offset, ...out.shape, ...strides],
    groups: grid(n),
  });
  return y;
}

export function transpose(ctx: Ctx, x: GpuIn, { perm }: OpAttrs["transpose"], out: OutInfo) {
  const xs = stridesOf(x.shape);
  return stridedGather(ctx, x, out, 0, perm.map((p) => xs[p]));
}

export function slice(ctx: Ctx, x: GpuIn, { starts, steps }: OpAttrs["slice"], out: OutInfo) {
  const xs = stridesOf(x.shape);
  const offset = starts.reduce((acc, s, d) => acc + s * xs[d], 0);
  return stridedGather(ctx, x, out, offset, xs.map((s, d) => s * steps[d]));
}

export function concat(ctx: Ctx, xs: GpuIn[], { axis }: OpAttrs["concat"], out: OutInfo) {
  const y = ctx.alloc(bytesOf(sizeOf(out.shape)));
  const innerOut = sizeOf(out.shape.slice(axis));
  const t = wgslType(out.dtype);
  let off = 0;
  for (const x of xs) {
    const n = sizeOf(x.shape);
    const inner = sizeOf(x.shape.slice(axis));
    if (n > 0) {
      ctx.dispatch({
        key: `concat:${t}`,
        code: () =>
          `${bindings([t], t)}
${main1d("  dst[(i / P[1]) * P[2] + P[3] + i % P[1]] = src0[i];")}`,
        inputs: [x.storage],
        output: y,
        params: [n, inner, innerOut, off],
        groups: grid(n),
      });
    }
    off += inner;
  }
  return y;
}

export function sliceBackward(
  ctx: Ctx,
  g: GpuIn,
  a: OpAttrs["sliceBackward"],
  out: OutInfo,
): GpuStorage {
  const n = sizeOf(out.shape);
  const y = ctx.alloc(bytesOf(n));
  if (n === 0) return y;
  const r = out.shape.length;
  const body = [coords(r, 1), "  var off = 0;", "  var hit = true;"];
  for (let d = 0; d < r; d++) {
    const [st, sp, gs, gst] = [1 + r + d, 1 + 2 * r + d, 1 + 3 * r + d, 1 + 4 * r + d];
    body.push(`  { let t = c${d} - P[${st}]; let q = t / P[${sp}];
    hit = hit && t >= 0 && t % P[${sp}] == 0 && q < P[${gs}]; off += q * P[${gst}]; }`);
  }
  body.push("  dst[i] = select(0.0, src0[select(0, off, hit)], hit);");
  ctx.dispatch({
    key: `sliceb:${r}`,
    code: () => `${bindings(["f32"], "f32")}\n${main1d(body.join("\n"))}`,
    inputs: [g.storage],
    output: y,
    params: [n, ...out.shape, ...a.starts, ...a.steps, ...g.shape, ...stridesOf(g.shape)],
    groups: grid(n),
  });
  return y;
}

/** Bits of the pad value in the output dtype. */
const valueBits = (v: number, d: DType) => (d === "f32" ? f32Bits(v) : Math.trunc(v) | 0);

export function pad(ctx: Ctx, x: GpuIn, { pads, value }: OpAttrs["pad"], out: OutInfo) {
  const n = sizeOf(out.shape);
  const y = ctx.alloc(bytesOf(n));
  if (n === 0) return y;
  const r = out.shape.length;
  const t = wgslType(x.dtype);
  const body = [coords(r, 2), "  var off = 0;", "  var hit = true;"];
  for (let d = 0; d < r; d++) {
    body.push(`  { let t = c${d} - P[${2 + r + d}]; hit = hit && t >= 0 && t < P[${2 + 2 * r + d}];
    off += t * P[${2 + 3 * r + d}]; }`);
  }
  body.push(`  dst[i] = select(bitcast<${t}>(P[1]), src0[select(0, off, hit)], hit);`);
  ctx.dispatch({
    key: `pad:${t}:${r}`,
    code: () => `${bindings([t], t)}\n${main1d(body.join("\n"))}`,
    inputs: [x.storage],
    output: y,
    params: [
      n,
      valueBits(value, x.dtype),
      ...out.shape,
      ...pads.slice(0, r),
      ...x.shape,
      ...stridesOf(x.shape),
    ],
    groups: grid(n),
  });
  return y;
}

/**
 * Gather along `axis`; negative indices count from the end. Out-of-range indices (the CPU backend
 * throws) read as 0: a kernel cannot throw.
 */
export function gather(ctx: Ctx, x: GpuIn, idx: GpuIn, { axis }: OpAttrs["gather"], out: OutInfo) {
  const n = sizeOf(out.shape);
  const y = ctx.alloc(bytesOf(n));
  if (n === 0) return y;
  const t = wgslType(x.dtype);
  const ni = sizeOf(idx.shape);
  const inner = sizeOf(x.shape.slice(axis + 1));
  ctx.dispatch({
    key: `gather:${t}`,
    code: () =>
      `${bindings([t, "i32"], t)}
${
        main1d(`  let ni = P[1]; let inner = P[2]; let D = P[3];
  let o = i / (ni * inner); let ii = (i / inner) % ni; let j = i % inner;
  var k = src1[ii];
  if (k < 0) { k += D; }
  let ok = k >= 0 && k < D;
  dst[i] = select(${t}(0), src0[select(0, (o * D + k) * inner + j, ok)], ok);`)
      }`,
    inputs: [x.storage, idx.storage],
    output: y,
    params: [n, ni, inner, x.shape[axis]],
    groups: grid(n),
  });
  return y;
}

export function gatherBackward(
  ctx: Ctx,
  g: GpuIn,
  idx: GpuIn,
  a: OpAttrs["gatherBackward"],
  out: OutInfo,
): GpuStorage {
  const n = sizeOf(out.shape);
  const y = ctx.alloc(bytesOf(n));
  if (n === 0) return y;
  const ni = sizeOf(idx.shape);
  const inner = sizeOf(a.inputShape.slice(a.axis + 1));
  ctx.dispatch({
    key: "gatherb",
    code: () =>
      `${bindings(["f32", "i32"], "f32")}
${
        main1d(`  let ni = P[1]; let inner = P[2]; let D = P[3];
  let o = i / (D * inner); let k = (i / inner) % D; let j = i % inner;
  var acc = 0.0;
  for (var ii = 0; ii < ni; ii++) {
    var kk = src1[ii];
    if (kk < 0) { kk += D; }
    if (kk == k) { acc += src0[(o * ni + ii) * inner + j]; }
  }
  dst[i] = acc;`)
      }`,
    inputs: [g.storage, idx.storage],
    output: y,
    params: [n, ni, inner, a.inputShape[a.axis]],
    groups: grid(n),
  });
  return y;
}
