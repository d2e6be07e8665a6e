/**
 * The WebGPU kernel table: `{ [O in Op]: GpuKernel<O> }`, so a new op in `ops.ts` does not
 * compile until it has a WebGPU kernel. Pointwise kernels are generated from the table in
 * `pointwise.ts`; the rest are hand-written, one file per family.
 *
 * @module
 */
import type { Op } from "../ops.ts";
import type { GpuKernel } from "./_ctx.ts";
import {
  binary,
  cast,
  clipBackward,
  expand,
  fakeQuant,
  fakeQuantBackward,
  randomMask,
  unary,
  where,
} from "./pointwise.ts";
import { argmax, reduce, topk } from "./reduce.ts";
import { matmul } from "./matmul.ts";
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight } from "./conv.ts";
import {
  avgPool2d,
  avgPool2dBackward,
  maxPool2d,
  maxPool2dBackward,
  upsampleNearest,
  upsampleNearestBackward,
} from "./pooling.ts";
import {
  concat,
  gather,
  gatherBackward,
  pad,
  slice,
  sliceBackward,
  transpose,
} from "./movement.ts";

const u = <O extends Parameters<typeof unary>[0]>(op: O): GpuKernel<O> => (c, [x], _a, out) =>
  unary(op, c, x, out);
const b = <O extends Parameters<typeof binary>[0]>(op: O): GpuKernel<O> => (c, [x, y], _a, out) =>
  binary(op, c, x, y, out);

/** Every op's WebGPU kernel. */
export const GPU_KERNELS: { [O in Op]: GpuKernel<O> } = {
  neg: u("neg"),
  exp: u("exp"),
  log: u("log"),
  sqrt: u("sqrt"),
  abs: u("abs"),
  sign: u("sign"),
  relu: u("relu"),
  sigmoid: u("sigmoid"),
  tanh: u("tanh"),
  erf: u("erf"),
  round: u("round"),
  floor: u("floor"),
  roundSte: u("roundSte"),
  clip: (c, [x], { lo, hi }, out) => unary("clip", c, x, out, lo, hi),
  add: b("add"),
  sub: b("sub"),
  mul: b("mul"),
  div: b("div"),
  pow: b("pow"),
  minimum: b("minimum"),
  maximum: b("maximum"),
  lt: b("lt"),
  le: b("le"),
  gt: b("gt"),
  ge: b("ge"),
  eq: b("eq"),
  ne: b("ne"),
  where: (c, [cond, x, y], _a, out) => where(c, cond, x, y, out),
  sum: (c, [x], a, out) => reduce("sum", c, x, a, out),
  max: (c, [x], a, out) => reduce("max", c, x, a, out),
  min: (c, [x], a, out) => reduce("min", c, x, a, out),
  argmax: (c, [x], a, out) => argmax(c, x, a, out),
  topk: (c, [x], a, out) => topk(c, x, a, out),
  matmul: (c, [x, y], a, out) => matmul(c, x, y, a, out),
  conv2d: (c, [x, w], a, out) => conv2d(c, x, w, a, out),
  conv2dBackwardInput: (c, [dy, w], a, out) => conv2dBackwardInput(c, dy, w, a, out),
  conv2dBackwardWeight: (c, [x, dy], a, out) => conv2dBackwardWeight(c, x, dy, a, out),
  maxPool2d: (c, [x], a, out) => maxPool2d(c, x, a, out),
  maxPool2dBackward: (c, [x, dy], a, out) => maxPool2dBackward(c, x, dy, a, out),
  avgPool2d: (c, [x], a, out) => avgPool2d(c, x, a, out),
  avgPool2dBackward: (c, [dy], a, out) => avgPool2dBackward(c, dy, a, out),
  upsampleNearest: (c, [x], a, out) => upsampleNearest(c, x, a, out),
  upsampleNearestBackward: (c, [g], a, out) => upsampleNearestBackward(c, g, a, out),
  transpose: (c, [x], a, out) => transpose(c, x, a, out),
  concat: (c, xs, a, out) => concat(c, xs, a, out),
  slice: (c, [x], a, out) => slice(c, x, a, out),
  sliceBackward: (c, [g], a, out) => sliceBackward(c, g, a, out),
  pad: (c, [x], a, out) => pad(c, x, a, out),
  gather: (c, [x, idx], a, out) => gather(c, x, idx, a, out),
  gatherBackward: (c, [g, idx], a, out) => gatherBackward(c, g, idx, a, out),
  expand: (c, [x], _a, out) => expand(c, x, out),
  cast: (c, [x], _a, out) => cast(c, x, out),
  fakeQuant: (c, [x, s, z], a, out) => fakeQuant(c, x, s, z, a, out),
  fakeQuantBackward: (c, [g, x, s, z], a, out) => fakeQuantBackward(c, g, x, s, z, a, out),
  clipBackward: (c, [g, x], a, out) => clipBackward(c, g, x, a, out),
  randomMask: (c, [x], a, out) => randomMask(c, x, a, out),
};
