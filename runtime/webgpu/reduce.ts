/**
 * Reductions: sum/max/min over any set of axes, argmax along one axis, and topk along the last.
 *
 * Axes are coalesced first (adjacent kept or reduced dimensions merge, size-1 dimensions drop),
 * so the common cases (a trailing axis, the spatial axes of NCHW, everything) become one kept
 * and one reduced dimension. One thread reduces one output unless there are few outputs and
 * long reductions: then a workgroup of 64 threads shares each output and finishes with a tree.
 *
 * @module
 */
import type { OpAttrs, OutInfo, ReduceOp } from "../ops.ts";
import { normAxis, sizeOf } from "../ops.ts";
import {
  bindings,
  bytesOf,
  type Ctx,
  type GpuIn,
  type GpuStorage,
  grid,
  main1d,
  stridesOf,
  wgslType,
} from "./_ctx.ts";

interface Plan {
  kept: number[];
  keptStrides: number[];
  red: number[];
  redStrides: number[];
}

/** Splits the input's dimensions into kept and reduced groups, merging neighbours. */
function plan(shape: readonly number[], axes: ReadonlySet<number>): Plan {
  const st = stridesOf(shape);
  const p: Plan = { kept: [], keptStrides: [], red: [], redStrides: [] };
  let last: "k" | "r" | null = null;
  shape.forEach((d, i) => {
    if (d === 1) return;
    const cls = axes.has(i) ? "r" : "k";
    const [dims, strides] = cls === "k" ? [p.kept, p.keptStrides] : [p.red, p.redStrides];
    if (last === cls) {
      // contiguous with the previous dimension of the same class: merge
      dims[dims.length - 1] *= d;
      strides[strides.length - 1] = st[i];
    } else {
      dims.push(d);
      strides.push(st[i]);
    }
    last = cls;
  });
  return p;
}

const INIT: { [O in ReduceOp]: { f32: string; i32: string } } = {
  sum: { f32: "0.0", i32: "0" },
  max: { f32: "bitcast<f32>(0xff800000u)", i32: "-2147483647 - 1" },
  min: { f32: "bitcast<f32>(0x7f800000u)", i32: "2147483647" },
};
const COMBINE: { [O in ReduceOp]: string } = {
  sum: "acc + v",
  max: "select(acc, v, v > acc)",
  min: "select(acc, v, v < acc)",
};

/** WGSL: the offset `off` of reduced element `r` from the output's base, by decomposition. */
function redOffset(nRed: number, base: number): string {
  const L = ["    var rem = r;", "    var off = b;"];
  for (let d = nRed - 1; d >= 0; d--) {
    L.push(
      `    { let c = rem % P[${base + d}]; rem = rem / P[${base + d}]; off += c * P[${
        base + nRed + d
      }]; }`,
    );
  }
  return L.join("\n");
}

/** WGSL: the base offset `b` of output `o`. */
function keptBase(nKept: number, base: number): string {
  const L = ["  var remo = o;", "  var b = 0;"];
  for (let d = nKept - 1; d >= 0; d--) {
    L.push(
      `  { let c = remo % P[${base + d}]; remo = remo / P[${base + d}]; b += c * P[${
        base + nKept + d
      }]; }`,
    );
  }
  return L.join("\n");
}

const RWG = 64;

/** sum / max / min over `axes`. */
export function reduce(
  op: ReduceOp,
  ctx: Ctx,
  x: GpuIn,
  { axes }: OpAttrs["sum"],
  out: OutInfo,
): GpuStorage {
  const nOut = sizeOf(out.shape);
  const y = ctx.alloc(bytesOf(nOut));
  if (nOut === 0) return y;
  const p = plan(x.shape, new Set(axes.map((a) => normAxis(a, x.shape.length))));
  const R = sizeOf(x.shape) === 0 ? 0 : sizeOf(p.red);
  const t = wgslType(x.dtype);
  const nk = p.kept.length, nr = p.red.length;
  // P: [nOut, R, kept..., keptStrides..., red..., redStrides...]
  const params = [nOut, R, ...p.kept, ...p.keptStrides, ...p.red, ...p.redStrides];
  const rb = 2 + 2 * nk;
  // CPU stores an empty max/min (+-Infinity) into an Int32Array as 0.
  const empty = t === "i32" && op !== "sum" ? "if (R == 0) { acc = 0; }" : "";
  const wide = nOut < 256 && R >= 1024;
  if (!wide) {
    ctx.dispatch({
      key: `red:${op}:${t}:${nk}:${nr}`,
      code: () =>
        `${bindings([t], t)}
${
          main1d(`  let R = P[1]; let o = i;
${keptBase(nk, 2)}
  var acc: ${t} = ${INIT[op][x.dtype]};
  for (var r = 0; r < R; r++) {
${redOffset(nr, rb)}
    let v = src0[off];
    acc = ${COMBINE[op]};
  }
  ${empty}
  dst[o] = acc;`)
        }`,
      inputs: [x.storage],
      output: y,
      params,
      groups: grid(nOut),
    });
    return y;
  }
  ctx.dispatch({
    key: `redwg:${op}:${t}:${nk}:${nr}`,
    code: () =>
      `${bindings([t], t)}
var<workgroup> part: array<${t}, ${RWG}>;
@compute @workgroup_size(${RWG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = i32(wid.x + wid.y * nwg.x);
  let R = P[1];
  let live = o < P[0];
${keptBase(nk, 2)}
  var acc: ${t} = ${INIT[op][x.dtype]};
  if (live) {
    for (var r = i32(lid.x); r < R; r += ${RWG}) {
${redOffset(nr, rb)}
      let v = src0[off];
      acc = ${COMBINE[op]};
    }
  }
  part[lid.x] = acc;
  workgroupBarrier();
  for (var s = ${RWG / 2}u; s > 0u; s = s / 2u) {
    if (lid.x < s) { let v = part[lid.x + s]; let acc = part[lid.x]; part[lid.x] = ${COMBINE[op]}; }
    workgroupBarrier();
  }
  if (lid.x == 0u && live) { dst[o] = part[0]; }
}`,
    inputs: [x.storage],
    output: y,
    params,
    groups: grid(nOut, 1),
  });
  return y;
}

/** Index of the first maximum along `axis` (i32). */
export function argmax(ctx: Ctx, x: GpuIn, { axis }: OpAttrs["argmax"], out: OutInfo): GpuStorage {
  const nOut = sizeOf(out.shape);
  const y = ctx.alloc(bytesOf(nOut));
  if (nOut === 0) return y;
  const ax = normAxis(axis, x.shape.length);
  const d = x.shape[ax] ?? 1;
  const inner = sizeOf(x.shape.slice(ax + 1));
  const t = wgslType(x.dtype);
  // f32 starts below every value (NaN never wins), as the CPU does; i32 starts at element 0.
  const start = t === "f32"
    ? "var best = bitcast<f32>(0xff800000u); var k0 = 0;"
    : "var best = src0[base]; var k0 = 1;";
  ctx.dispatch({
    key: `argmax:${t}`,
    code: () =>
      `${bindings([t], "i32")}
${
        main1d(`  let D = P[1]; let inner = P[2];
  let base = (i / inner) * D * inner + i % inner;
  var arg = 0;
  if (D > 0) {
    ${start}
    for (var k = k0; k < D; k++) {
      let v = src0[base + k * inner];
      if (v > best) { best = v; arg = k; }
    }
  }
  dst[i] = arg;`)
      }`,
    inputs: [x.storage],
    output: y,
    params: [nOut, d, inner],
    groups: grid(nOut),
  });
  return y;
}

/** Indices of the `k` largest values of each row (last axis), largest first, ties by index. */
export function topk(ctx: Ctx, x: GpuIn, { k }: OpAttrs["topk"], out: OutInfo): GpuStorage {
  const nOut = sizeOf(out.shape);
  const y = ctx.alloc(bytesOf(nOut));
  if (nOut === 0) return y;
  const d = x.shape[x.shape.length - 1];
  const rows = nOut / k;
  const t = wgslType(x.dtype);
  ctx.dispatch({
    key: `topk:${t}`,
    code: () =>
      `${bindings([t], "i32")}
${
        main1d(`  let D = P[1]; let K = P[2];
  let base = i * D;
  var pv: ${t} = src0[base];
  var pj = -1;
  for (var s = 0; s < K; s++) {
    var bv: ${t} = pv;
    var bj = -1;
    for (var j = 0; j < D; j++) {
      let v = src0[base + j];
      // candidates come after the previous pick in (value desc, index asc) order
      let after = pj < 0 || v < pv || (v == pv && j > pj);
      if (after && (bj < 0 || v > bv)) { bv = v; bj = j; }
    }
    dst[i * K + s] = bj;
    pv = bv;
    pj = bj;
  }`)
      }`,
    inputs: [x.storage],
    output: y,
    params: [rows, d, k],
    groups: grid(rows),
  });
  return y;
}
