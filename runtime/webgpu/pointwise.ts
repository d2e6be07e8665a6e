/**
 * Pointwise kernels generated from one table: unary, binary, comparison, `where`, `clip`, `cast`
 * and `expand`. Each input is read either at the output index (same size), at 0 (a scalar), or
 * through broadcast strides passed in the params buffer.
 *
 * Arithmetic runs in i32 when every input of an integer-capable binary op is i32, else in f32;
 * results convert to the output dtype (f32 -> i32 truncates, as the CPU backend's `Int32Array`
 * store does for values in range).
 *
 * @module
 */
import type { BinaryOp, DType, OutInfo, QuantDrop, UnaryOp } from "../ops.ts";
import { sizeOf } from "../ops.ts";
import {
  bindings,
  broadcastStrides,
  bytesOf,
  type Ctx,
  f32Bits,
  type GpuIn,
  type GpuStorage,
  grid,
  main1d,
  wgslType,
} from "./_ctx.ts";

/** WGSL helpers the expressions may call. */
const PRELUDE = `
fn inf_() -> f32 { return bitcast<f32>(0x7f800000u); }
fn mask_h_(v: u32) -> u32 {
  var h = v;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}
fn nan_() -> f32 { return bitcast<f32>(0x7fc00000u); }
fn erf_(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277)))))))));
  return select(r - 1.0, 1.0 - r, x >= 0.0);
}
fn pow_(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (a == 0.0) { return select(0.0, inf_(), b < 0.0); }
  if (a > 0.0) { return pow(a, b); }
  if (floor(b) != b) { return nan_(); }
  let r = pow(-a, b);
  return select(r, -r, abs(b) % 2.0 == 1.0);
}
fn sigmoid_(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}
fn fq_(x: f32, s: f32, z: f32, lo: f32, hi: f32) -> f32 {
  let a = round(x / s) + z;
  return (select(select(a, hi, a > hi), lo, a < lo) - z) * s;
}
fn fqgx_(g: f32, x: f32, s: f32, z: f32, lo: f32, hi: f32) -> f32 {
  let a = round(x / s) + z;
  return select(0.0, g, a >= lo && a <= hi);
}
fn fqgs_(g: f32, x: f32, s: f32, z: f32, lo: f32, hi: f32) -> f32 {
  let t = x / s;
  let r = round(t);
  let a = r + z;
  return g * select(select(hi, lo, a < lo) - z, r - t, a >= lo && a <= hi);
}
fn tanh_(x: f32) -> f32 {
  if (abs(x) < 0.55) {
    let x2 = x * x;
    return x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0 +
      x2 * (62.0 / 2835.0 + x2 * (-1382.0 / 155925.0 + x2 * (21844.0 / 6081075.0)))))));
  }
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
`;

/** Unary expressions in `x` (f32); `clip` reads its bounds from the params. */
const UNARY: { [O in UnaryOp]: string } = {
  neg: "-x",
  exp: "exp(x)",
  log: "log(x)",
  sqrt: "sqrt(x)",
  abs: "abs(x)",
  sign: "select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0)",
  relu: "select(0.0, x, x > 0.0)",
  sigmoid: "sigmoid_(x)",
  tanh: "tanh_(x)",
  erf: "erf_(x)",
  // WGSL's round() rounds half to even, as ONNX and the CPU backend do.
  round: "round(x)",
  floor: "floor(x)",
  roundSte: "round(x)",
  clip: "select(select(x, bitcast<f32>(P[2]), x > bitcast<f32>(P[2])), bitcast<f32>(P[1]), " +
    "x < bitcast<f32>(P[1]))",
};

interface BinaryRule {
  /** f32 expression in `a`, `b`, returning f32. */
  f: string;
  /** i32 expression (returning i32, or f32 for comparisons); absent: computed in f32. */
  i?: string;
}

const cmp = (o: string): BinaryRule => ({
  f: `select(0.0, 1.0, a ${o} b)`,
  i: `select(0.0, 1.0, a ${o} b)`,
});

/** Binary expressions. */
const BINARY: { [O in BinaryOp]: BinaryRule } = {
  add: { f: "a + b", i: "a + b" },
  sub: { f: "a - b", i: "a - b" },
  mul: { f: "a * b", i: "a * b" },
  div: { f: "a / b", i: "select(a / b, 0, b == 0)" },
  pow: { f: "pow_(a, b)" },
  minimum: { f: "select(b, a, a < b)", i: "select(b, a, a < b)" },
  maximum: { f: "select(b, a, a > b)", i: "select(b, a, a > b)" },
  lt: cmp("<"),
  le: cmp("<="),
  gt: cmp(">"),
  ge: cmp(">="),
  eq: cmp("=="),
  ne: cmp("!="),
};

const COMPARE = new Set<string>(["lt", "le", "gt", "ge", "eq", "ne"]);

/**
 * The generic pointwise kernel. `expr` receives the loaded inputs' WGSL names (`v0`, `v1`, ...)
 * already converted to `loadTypes[k]`, and returns an expression of type `exprType`.
 */
function pointwise(
  ctx: Ctx,
  name: string,
  inputs: readonly GpuIn[],
  loadTypes: readonly DType[],
  exprType: DType,
  expr: string,
  out: OutInfo,
  extra: readonly number[] = [0, 0],
): GpuStorage {
  const n = sizeOf(out.shape);
  const y = ctx.alloc(bytesOf(n));
  if (n === 0) return y;
  const r = out.shape.length;
  const modes = inputs.map((x) => {
    const s = sizeOf(x.shape);
    return s === n ? "s" : s === 1 ? "1" : "b";
  });
  const params = [n, ...extra, ...out.shape];
  const strideBase: number[] = [];
  inputs.forEach((x, k) => {
    strideBase.push(params.length);
    if (modes[k] === "b") params.push(...broadcastStrides(x.shape, out.shape));
  });
  const outT = wgslType(out.dtype);
  const key = `pw:${name}:${inputs.map((x, k) => x.dtype + modes[k] + loadTypes[k]).join(",")}` +
    `:${exprType}>${out.dtype}:r${r}:e${extra.length}:${expr}`;
  const code = () => {
    const lines: string[] = [];
    const anyB = modes.includes("b");
    if (anyB) lines.push("  var rem = i;");
    inputs.forEach((_, k) => {
      if (modes[k] === "b") lines.push(`  var o${k} = 0;`);
    });
    if (anyB) {
      for (let d = r - 1; d >= 0; d--) {
        const sh = `P[${1 + extra.length + d}]`;
        lines.push(`  { let c = rem % ${sh}; rem = rem / ${sh};`);
        inputs.forEach((_, k) => {
          if (modes[k] === "b") lines.push(`    o${k} += c * P[${strideBase[k] + d}];`);
        });
        lines.push("  }");
      }
    }
    inputs.forEach((x, k) => {
      const idx = modes[k] === "s" ? "i" : modes[k] === "1" ? "0" : `o${k}`;
      const raw = `src${k}[${idx}]`;
      const lt = loadTypes[k];
      lines.push(`  let v${k} = ${lt === x.dtype ? raw : `${wgslType(lt)}(${raw})`};`);
    });
    const value = exprType === out.dtype ? `(${expr})` : `${outT}(${expr})`;
    lines.push(`  dst[i] = ${value};`);
    return `${bindings(inputs.map((x) => wgslType(x.dtype)), outT)}\n${PRELUDE}\n${
      main1d(lines.join("\n"))
    }`;
  };
  ctx.dispatch({
    key,
    code,
    inputs: inputs.map((x) => x.storage),
    output: y,
    params,
    groups: grid(n),
  });
  return y;
}

/** A unary op (f32 in, f32 out). */
export function unary(op: UnaryOp, ctx: Ctx, x: GpuIn, out: OutInfo, lo = 0, hi = 0): GpuStorage {
  return pointwise(
    ctx,
    op,
    [x],
    ["f32"],
    "f32",
    UNARY[op].replaceAll(/\bx\b/g, "v0"),
    out,
    [f32Bits(lo), f32Bits(hi)],
  );
}

/** A binary op with broadcasting. */
export function binary(op: BinaryOp, ctx: Ctx, a: GpuIn, b: GpuIn, out: OutInfo): GpuStorage {
  const rule = BINARY[op];
  const intMath = a.dtype === "i32" && b.dtype === "i32" && rule.i !== undefined;
  const t: DType = intMath ? "i32" : "f32";
  const src = (intMath ? rule.i! : rule.f).replaceAll(/\ba\b/g, "v0").replaceAll(/\bb\b/g, "v1");
  const exprType: DType = COMPARE.has(op) ? "f32" : t;
  return pointwise(ctx, op, [a, b], [t, t], exprType, src, out);
}

/** `cond ? a : b` with broadcasting; `cond` is true where nonzero. */
export function where(ctx: Ctx, c: GpuIn, a: GpuIn, b: GpuIn, out: OutInfo): GpuStorage {
  const zero = c.dtype === "f32" ? "0.0" : "0";
  return pointwise(
    ctx,
    "where",
    [c, a, b],
    [c.dtype, out.dtype, out.dtype],
    out.dtype,
    `select(v2, v1, v0 != ${zero})`,
    out,
  );
}

/** Dtype conversion (f32 -> i32 truncates toward zero). */
export function cast(ctx: Ctx, x: GpuIn, out: OutInfo): GpuStorage {
  return pointwise(ctx, "cast", [x], [x.dtype], x.dtype, "v0", out);
}

/** Broadcast to the output shape. */
export function expand(ctx: Ctx, x: GpuIn, out: OutInfo): GpuStorage {
  return pointwise(ctx, "expand", [x], [x.dtype], x.dtype, "v0", out);
}

const LO_HI = "bitcast<f32>(P[1]), bitcast<f32>(P[2])";

/**
 * QDrop's keep test in WGSL: {@linkcode randomMask}'s mask on the element index, the keys in
 * params 3 and 4, the threshold in the expression (one pipeline per probability).
 */
function keepTest(p: number): string {
  const thr = Math.floor(p * 4294967296);
  return thr >= 4294967296
    ? "true"
    : `mask_h_(mask_h_(u32(i) ^ bitcast<u32>(P[3])) ^ bitcast<u32>(P[4])) < ${thr}u`;
}

/** The params of a fake-quant kernel: the bounds, then QDrop's keys where it drops. */
const fqParams = (a: { qmin: number; qmax: number; drop?: QuantDrop }) =>
  a.drop
    ? [f32Bits(a.qmin), f32Bits(a.qmax), a.drop.k0 >>> 0, a.drop.k1 >>> 0]
    : [f32Bits(a.qmin), f32Bits(a.qmax)];

/**
 * Fused fake-quant of `[x, scale, zeroPoint]` (broadcast); the bounds travel in the params. With
 * `drop`, the kept elements stay `x`.
 */
export function fakeQuant(
  ctx: Ctx,
  x: GpuIn,
  s: GpuIn,
  z: GpuIn,
  a: { qmin: number; qmax: number; drop?: QuantDrop },
  out: OutInfo,
): GpuStorage {
  const fq = `fq_(v0, v1, v2, ${LO_HI})`;
  return pointwise(
    ctx,
    "fakeQuant",
    [x, s, z],
    ["f32", "f32", "f32"],
    "f32",
    a.drop ? `select(${fq}, v0, ${keepTest(a.drop.p)})` : fq,
    out,
    fqParams(a),
  );
}

/**
 * fakeQuant's STE (`wrt: "x"`) or LSQ (`wrt: "scale"`) gradient from `[g, x, scale, zeroPoint]`;
 * with `drop`, the kept elements pass `g` to `x` and 0 to the scale.
 */
export function fakeQuantBackward(
  ctx: Ctx,
  g: GpuIn,
  x: GpuIn,
  s: GpuIn,
  z: GpuIn,
  a: { qmin: number; qmax: number; wrt: "x" | "scale"; drop?: QuantDrop },
  out: OutInfo,
): GpuStorage {
  const fn = a.wrt === "x" ? "fqgx_" : "fqgs_";
  const grad = `${fn}(v0, v1, v2, v3, ${LO_HI})`;
  const kept = a.wrt === "x" ? "v0" : "0.0";
  return pointwise(
    ctx,
    `fakeQuantBackward_${a.wrt}`,
    [g, x, s, z],
    ["f32", "f32", "f32", "f32"],
    "f32",
    a.drop ? `select(${grad}, ${kept}, ${keepTest(a.drop.p)})` : grad,
    out,
    fqParams(a),
  );
}

/** clip's gradient from `[g, x]`: `g * ((x >= lo) * (x <= hi))`, the bounds in the params. */
export function clipBackward(
  ctx: Ctx,
  g: GpuIn,
  x: GpuIn,
  a: { lo: number; hi: number },
  out: OutInfo,
): GpuStorage {
  return pointwise(
    ctx,
    "clipBackward",
    [g, x],
    ["f32", "f32"],
    "f32",
    "v0 * select(0.0, 1.0, v1 >= bitcast<f32>(P[1]) && v1 <= bitcast<f32>(P[2]))",
    out,
    [f32Bits(a.lo), f32Bits(a.hi)],
  );
}

/**
 * The counter-based random mask (see `randomMask` in ops.ts): lowbias32 twice on the element
 * index and the two keys (in the params); the threshold is part of the expression (one pipeline
 * per probability). The input is bound only for its shape.
 */
export function randomMask(
  ctx: Ctx,
  x: GpuIn,
  a: { p: number; k0: number; k1: number },
  out: OutInfo,
): GpuStorage {
  const thr = Math.floor(a.p * 4294967296);
  const test = thr >= 4294967296
    ? "true"
    : `mask_h_(mask_h_(u32(i) ^ bitcast<u32>(P[1])) ^ bitcast<u32>(P[2])) < ${thr}u`;
  return pointwise(
    ctx,
    "randomMask",
    [x],
    [x.dtype],
    "f32",
    `select(0.0, 1.0, ${test})`,
    out,
    [a.k0 >>> 0, a.k1 >>> 0],
  );
}
