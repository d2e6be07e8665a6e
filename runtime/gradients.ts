/**
 * Gradient rules, one per op: `{ [O in Op]: rule }`. A rule maps the output gradient to one
 * gradient (or null: no gradient flows) per input. Rules are written with the functional API, so
 * they run on every backend.
 *
 * The straight-through estimator is an explicit rule: `roundSte` passes its gradient unchanged.
 *
 * @module
 */
import { type Conv2dAttrs, normAxis, type Op, type OpAttrs, type Pool2dAttrs } from "./ops.ts";
import { runOp, type Tensor } from "./tensor.ts";
import * as m from "./math.ts";

type Grads = (Tensor | null)[];
type Rule<O extends Op> = (g: Tensor, inputs: Tensor[], out: Tensor, attrs: OpAttrs[O]) => Grads;

const none = (): Grads => [null];
const noSecondOrder = (op: string) => (): Grads => {
  throw new TypeError(`No gradient rule for ${op} (second-order gradients are not supported)`);
};
const cmp = (): Grads => [null, null];

function unbroadcast(inputs: Tensor[], grads: (Tensor | null)[]): Grads {
  return grads.map((x, i) => (x && inputs[i].requiresGrad ? m.sumTo(x, inputs[i].shape) : null));
}

function reduceGrad(
  g: Tensor,
  x: Tensor,
  attrs: { axes: number[]; keepDims: boolean },
): Tensor {
  const axes = attrs.axes.map((a) => normAxis(a, x.rank));
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return m.expand(m.reshape(g, kept), [...x.shape]);
}

function extremumGrad(g: Tensor, [x]: Tensor[], out: Tensor, a: OpAttrs["max"]): Grads {
  const axes = a.axes.map((ax) => normAxis(ax, x.rank));
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const mask = m.eq(x, m.reshape(out, kept));
  const count = m.sum(mask, axes, true);
  return [m.div(m.mul(mask, reduceGrad(g, x, a)), count)];
}

function matmulGrad(g: Tensor, [a, b]: Tensor[], _o: Tensor, t: OpAttrs["matmul"]): Grads {
  let ga: Tensor | null = null, gb: Tensor | null = null;
  if (a.requiresGrad) {
    ga = !t.transA
      ? m.matmul(g, b, false, !t.transB)
      : t.transB
      ? m.matmul(b, g, true, true)
      : m.matmul(b, g, false, true);
  }
  if (b.requiresGrad) {
    gb = !t.transB
      ? m.matmul(a, g, !t.transA, false)
      : t.transA
      ? m.matmul(g, a, true, true)
      : m.matmul(g, a, true, false);
  }
  const lead = (x: Tensor, gx: Tensor | null) => {
    if (!gx) return null;
    const extra = gx.rank - x.rank;
    const axes: number[] = [];
    for (let i = 0; i < gx.rank - 2; i++) {
      if (i < extra || (x.shape[i - extra] === 1 && gx.shape[i] !== 1)) axes.push(i);
    }
    return axes.length ? m.reshape(m.sum(gx, axes, true), x.shape) : gx;
  };
  return [lead(a, ga), lead(b, gb)];
}

function convGrad(g: Tensor, [x, w]: Tensor[], _o: Tensor, a: Conv2dAttrs): Grads {
  return [
    x.requiresGrad
      ? runOp("conv2dBackwardInput", [g, w], { ...a, inputShape: [...x.shape] })
      : null,
    w.requiresGrad
      ? runOp("conv2dBackwardWeight", [x, g], { ...a, weightShape: [...w.shape] })
      : null,
  ];
}

/** The gradient table. */
export const GRADS: { [O in Op]: Rule<O> } & { reshape: Rule<"transpose"> } = {
  neg: (g) => [m.neg(g)],
  exp: (g, _, out) => [m.mul(g, out)],
  log: (g, [x]) => [m.div(g, x)],
  sqrt: (g, _, out) => [m.div(g, m.mul(out, 2))],
  abs: (g, [x]) => [m.mul(g, m.sign(x))],
  sign: none,
  relu: (g, [x]) => [m.mul(g, m.gt(x, 0))],
  sigmoid: (g, _, out) => [m.mul(g, m.mul(out, m.sub(1, out)))],
  tanh: (g, _, out) => [m.mul(g, m.sub(1, m.mul(out, out)))],
  erf: (g, [x]) => [m.mul(g, m.mul(m.exp(m.neg(m.mul(x, x))), 2 / Math.sqrt(Math.PI)))],
  round: none,
  floor: none,
  roundSte: (g) => [g],
  clip: (g, [x], _, a) => [runOp("clipBackward", [g, x], a)],
  // Linear in g; piecewise constant in x.
  clipBackward: (gg, [_g, x], _, a) => [runOp("clipBackward", [gg, x], a), null],
  add: (g, ins) => unbroadcast(ins, [g, g]),
  sub: (g, ins) => unbroadcast(ins, [g, ins[1].requiresGrad ? m.neg(g) : null]),
  mul: (g, [a, b]) =>
    unbroadcast([a, b], [
      a.requiresGrad ? m.mul(g, b) : null,
      b.requiresGrad ? m.mul(g, a) : null,
    ]),
  div: (g, [a, b]) =>
    unbroadcast([a, b], [
      a.requiresGrad ? m.div(g, b) : null,
      b.requiresGrad ? m.neg(m.div(m.mul(g, a), m.mul(b, b))) : null,
    ]),
  pow: (g, [a, b], out) =>
    unbroadcast([a, b], [
      a.requiresGrad ? m.mul(g, m.mul(b, m.pow(a, m.sub(b, 1)))) : null,
      b.requiresGrad ? m.mul(g, m.mul(out, m.log(a))) : null,
    ]),
  minimum: (g, [a, b]) => {
    const ma = m.le(a, b);
    return unbroadcast([a, b], [m.mul(g, ma), m.mul(g, m.sub(1, ma))]);
  },
  maximum: (g, [a, b]) => {
    const ma = m.ge(a, b);
    return unbroadcast([a, b], [m.mul(g, ma), m.mul(g, m.sub(1, ma))]);
  },
  lt: cmp,
  le: cmp,
  gt: cmp,
  ge: cmp,
  eq: cmp,
  ne: cmp,
  where: (g, [c, a, b]) => unbroadcast([c, a, b], [null, m.where(c, g, 0), m.where(c, 0, g)]),
  sum: (g, [x], _, a) => [reduceGrad(g, x, a)],
  max: extremumGrad,
  min: extremumGrad,
  argmax: none,
  topk: none,
  matmul: matmulGrad,
  conv2d: convGrad,
  conv2dBackwardInput: noSecondOrder("conv2dBackwardInput"),
  conv2dBackwardWeight: noSecondOrder("conv2dBackwardWeight"),
  maxPool2d: (g, [x], _, a: Pool2dAttrs) => [runOp("maxPool2dBackward", [x, g], a)],
  maxPool2dBackward: noSecondOrder("maxPool2dBackward"),
  avgPool2d: (
    g,
    [x],
    _,
    a,
  ) => [runOp("avgPool2dBackward", [g], { ...a, inputShape: [...x.shape] })],
  avgPool2dBackward: noSecondOrder("avgPool2dBackward"),
  upsampleNearest: (g, _, __, a) => [runOp("upsampleNearestBackward", [g], a)],
  upsampleNearestBackward: noSecondOrder("upsampleNearestBackward"),
  transpose: (g, _, __, { perm }) => {
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [m.transpose(g, inv)];
  },
  concat: (g, xs, _, attrs) => {
    const axis = normAxis(attrs.axis, g.rank);
    let off = 0;
    return xs.map((x) => {
      const start = off;
      off += x.shape[axis];
      return x.requiresGrad ? m.slice(g, [start], [off], [axis]) : null;
    });
  },
  slice: (g, [x], _, a) => [
    runOp("sliceBackward", [g], { inputShape: [...x.shape], starts: a.starts, steps: a.steps }),
  ],
  sliceBackward: noSecondOrder("sliceBackward"),
  // Padding by the negated amounts crops (and zero-fills where the forward cropped).
  pad: (g, _, __, { pads }) => [runOp("pad", [g], { pads: pads.map((p) => -p), value: 0 })],
  gather: (g, [x, idx], _, { axis }) => [
    runOp("gatherBackward", [g, idx], { axis, inputShape: [...x.shape] }),
    null,
  ],
  gatherBackward: noSecondOrder("gatherBackward"),
  expand: (g, [x]) => [m.sumTo(g, x.shape)],
  cast: none,
  // STE to x, LSQ to the scale; the zero point gets none (the observer rounds it).
  fakeQuant: (g, [x, s, z], _, a) => [
    x.requiresGrad
      ? m.sumTo(runOp("fakeQuantBackward", [g, x, s, z], { ...a, wrt: "x" }), x.shape)
      : null,
    s.requiresGrad
      ? m.sumTo(runOp("fakeQuantBackward", [g, x, s, z], { ...a, wrt: "scale" }), s.shape)
      : null,
    null,
  ],
  fakeQuantBackward: noSecondOrder("fakeQuantBackward"),
  randomMask: none,
  reshape: (g, [x]) => [m.reshape(g, x.shape)],
};
