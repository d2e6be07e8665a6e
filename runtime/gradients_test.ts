/**
 * Every differentiable op's gradient against central finite differences (`gradcheck`), on small
 * shapes with broadcasting, several reduction axes, transposed and batched matmul, strided,
 * dilated, grouped and asymmetrically padded convolution, pooling and movement ops.
 */
import { assertEquals, AssertionError, assertThrows } from "./assert.ts";
import { gradcheck, randn, randu, spread } from "./_test_util.ts";
import { GRADS } from "./gradients.ts";
import * as r from "./mod.ts";
import type { Tensor } from "./mod.ts";

const t = (data: ArrayLike<number>, shape: number[], grad = true) => ({
  data: Float32Array.from(data),
  shape,
  grad,
});
const n = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const rn = (shape: number[], seed = 1) => t(randn(n(shape), seed), shape);
const sp = (shape: number[], seed = 3) => t(spread(n(shape), -1, 1, seed), shape);

Deno.test("gradcheck rejects a wrong gradient", () => {
  // The analytic gradient misses the detached factor's term: the check must fail.
  const f = (x: Tensor) => r.mul(x, r.detach(x));
  let failed = false;
  try {
    gradcheck(f, [rn([5])]);
  } catch (e) {
    failed = e instanceof AssertionError;
  }
  if (!failed) throw new Error("gradcheck accepted x * detach(x) with gradient x instead of 2x");
});

Deno.test("unary ops' gradients match finite differences", () => {
  const pos = t(randu(12, 0.5, 2, 2), [3, 4]);
  gradcheck(r.neg, [rn([3, 4])]);
  gradcheck(r.exp, [rn([3, 4])]);
  gradcheck(r.log, [pos]);
  gradcheck(r.sqrt, [pos]);
  gradcheck(r.abs, [sp([3, 4])], { eps: 1e-3 });
  gradcheck(r.relu, [sp([3, 4])], { eps: 1e-3 });
  gradcheck(r.sigmoid, [rn([3, 4])]);
  gradcheck(r.tanh, [rn([3, 4])]);
  gradcheck(r.erf, [rn([3, 4])]);
  gradcheck((x) => r.clip(x, -0.55, 0.3), [sp([3, 4])], { eps: 1e-3 });
  // clip's fused gradient is g at the bounds themselves (closed interval), 0 outside
  r.tidy(() => {
    const x = r.tensor([-0.55, 0.3, -0.56, 0.31, 0, NaN]).variable();
    r.backward(r.sum(r.mul(r.clip(x, -0.55, 0.3), r.tensor([1, 2, 3, 4, 5, 6]))));
    assertEquals(Array.from(x.grad!.dataSync()), [1, 2, 0, 0, 5, 0]);
    x.dispose();
  });
  gradcheck(r.gelu, [rn([3, 4])]);
  gradcheck(r.hardSwish, [t(spread(12, -4.1, 4.3), [3, 4])], { eps: 1e-3 }); // no input at the kinks ±3
  gradcheck((x) => r.leakyRelu(x, 0.1), [sp([3, 4])], { eps: 1e-3 });
  gradcheck(r.square, [rn([2, 2])]);
});

Deno.test("round, floor and sign pass no gradient; roundSte passes it unchanged", () => {
  for (const f of [r.round, r.floor, r.sign]) {
    const x = r.tensor([0.3, 1.7, -2.2]).variable();
    r.backward(r.sum(r.mul(f(x), x)));
    // d/dx [f(x) * x] with f' = 0 is f(x)
    const expected = r.noGrad(() => f(x)).dataSync();
    if (String(x.grad!.dataSync()) !== String(expected)) {
      throw new Error(`${f.name} leaked a gradient`);
    }
    x.dispose();
  }
  const x = r.tensor([0.3, 1.7, -2.2]).variable();
  r.backward(r.sum(r.mul(r.roundSte(x), r.tensor([1, 2, 3]))));
  if (String(x.grad!.dataSync()) !== "1,2,3") {
    throw new Error(`roundSte grad ${x.grad!.dataSync()}`);
  }
  x.dispose();
});

Deno.test("binary ops' gradients match finite differences with broadcasting", () => {
  const shapes: [number[], number[]][] = [
    [[2, 3], [2, 3]],
    [[2, 3, 4], [3, 1]],
    [[1, 3, 1], [2, 1, 4]],
    [[4], [2, 3, 4]],
    [[2, 3], []],
  ];
  for (const [sa, sb] of shapes) {
    const a = rn(sa, 1), b = rn(sb, 2);
    gradcheck(r.add, [a, b]);
    gradcheck(r.sub, [a, b]);
    gradcheck(r.mul, [a, b]);
    gradcheck(r.div, [a, t(randu(n(sb), 0.5, 2, 4), sb)]);
    gradcheck(r.pow, [t(randu(n(sa), 0.5, 2, 5), sa), t(randu(n(sb), -1.5, 2, 6), sb)]);
    // distinct values so no pair is within eps of a tie
    const da = t(spread(n(sa), -1, 1, 7), sa), db = t(spread(n(sb), -1.013, 0.987, 8), sb);
    gradcheck(r.minimum, [da, db], { eps: 1e-3 });
    gradcheck(r.maximum, [da, db], { eps: 1e-3 });
  }
  // a number operand and a constant operand
  gradcheck((x) => r.div(3, x), [t(randu(6, 0.5, 2), [2, 3])]);
  gradcheck((x, c) => r.mul(x, c), [rn([2, 3]), { ...rn([3], 2), grad: false }]);
});

Deno.test("where's gradient goes to the chosen branch, with broadcasting", () => {
  const cond = { data: Float32Array.from([1, 0, 0, 1, 1, 0, 1, 0]), shape: [2, 1, 4], grad: false };
  gradcheck((c, a, b) => r.where(c, a, b), [cond, rn([2, 3, 4], 1), rn([4], 2)]);
  gradcheck((c, a) => r.where(c, a, 0.5), [cond, rn([3, 1], 3)]);
});

Deno.test("reductions' gradients match finite differences over several axes", () => {
  const x = rn([2, 3, 4]);
  for (const keep of [false, true]) {
    for (const axes of [[0], [1], [-1], [0, 2], [0, 1, 2], undefined]) {
      gradcheck((v) => r.sum(v, axes, keep), [x]);
      gradcheck((v) => r.mean(v, axes, keep), [x]);
      gradcheck((v) => r.variance(v, axes, keep), [x]);
      gradcheck((v) => r.max(v, axes, keep), [sp([2, 3, 4], 5)], { eps: 1e-3 });
      gradcheck((v) => r.min(v, axes, keep), [sp([2, 3, 4], 6)], { eps: 1e-3 });
    }
  }
  // ties split the gradient evenly (like torch.amax)
  const y = r.tensor([1, 3, 3, 2]).variable();
  r.backward(r.max(y));
  if (String(y.grad!.dataSync()) !== "0,0.5,0.5,0") {
    throw new Error(`tie grad ${y.grad!.dataSync()}`);
  }
  y.dispose();
});

Deno.test("matmul's gradients match finite differences with transposes and batch broadcasting", () => {
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
    const a = rn(ta ? [4, 3] : [3, 4], 1), b = rn(tb ? [5, 4] : [4, 5], 2);
    gradcheck((x, y) => r.matmul(x, y, ta, tb), [a, b]);
    // batched, broadcasting a [2,1,·,·] against b [3,·,·]
    const ab = rn(ta ? [2, 1, 4, 3] : [2, 1, 3, 4], 3), bb = rn(tb ? [3, 5, 4] : [3, 4, 5], 4);
    gradcheck((x, y) => r.matmul(x, y, ta, tb), [ab, bb]);
  }
  gradcheck((x, y) => r.matmul(x, y), [rn([2, 3]), rn([2, 3, 2], 5)]);
  gradcheck((a, b, c) => r.gemm(a, b, c, { transB: true, alpha: 0.5, beta: 2 }), [
    rn([2, 3]),
    rn([4, 3], 2),
    rn([4], 3),
  ]);
});

Deno.test("conv2d's input and weight gradients match finite differences", () => {
  const cases: { x: number[]; w: number[]; o: r.Conv2dOptions }[] = [
    { x: [2, 2, 5, 5], w: [3, 2, 3, 3], o: { pads: [1, 1, 1, 1] } },
    { x: [1, 2, 6, 7], w: [2, 2, 3, 2], o: { strides: [2, 3], pads: [0, 1, 2, 0] } },
    { x: [1, 2, 7, 7], w: [2, 2, 3, 3], o: { dilations: [2, 1], pads: [2, 1, 0, 1] } },
    { x: [1, 4, 5, 5], w: [6, 2, 3, 3], o: { groups: 2, strides: [2, 2], pads: [1, 0, 1, 2] } },
    { x: [2, 3, 5, 4], w: [3, 1, 3, 3], o: { groups: 3, pads: [1, 1, 1, 1] } }, // depthwise
    { x: [1, 2, 4, 4], w: [4, 1, 3, 3], o: { groups: 2, strides: [2, 1], dilations: [1, 2] } },
    { x: [2, 3, 3, 3], w: [4, 3, 1, 1], o: {} },
  ];
  for (const c of cases) {
    gradcheck((x, w) => r.conv2d(x, w, undefined, c.o), [rn(c.x, 1), rn(c.w, 2)]);
  }
  gradcheck((x, w, b) => r.conv2d(x, w, b, { pads: [1, 1, 1, 1] }), [
    rn([1, 2, 3, 3]),
    rn([3, 2, 3, 3], 2),
    rn([3], 3),
  ]);
});

Deno.test("pooling and upsampling gradients match finite differences", () => {
  const x = sp([2, 2, 5, 6], 9);
  gradcheck((v) => r.maxPool2d(v, [2, 2]), [x], { eps: 1e-3 });
  gradcheck((v) => r.maxPool2d(v, [3, 2], { strides: [2, 1], pads: [1, 0, 1, 1] }), [x], {
    eps: 1e-3,
  });
  for (const countIncludePad of [false, true]) {
    gradcheck(
      (v) => r.avgPool2d(v, [3, 3], { strides: [2, 2], pads: [1, 1, 1, 0], countIncludePad }),
      [rn([1, 2, 5, 6])],
    );
  }
  gradcheck((v) => r.avgPool2d(v, [2, 3]), [rn([1, 2, 4, 6])]);
  gradcheck(r.globalAvgPool, [rn([2, 3, 3, 2])]);
  gradcheck((v) => r.upsampleNearest(v, [2, 3]), [rn([1, 2, 2, 3])]);
});

Deno.test("movement ops' gradients match finite differences", () => {
  const x = rn([2, 3, 4]);
  gradcheck((v) => r.transpose(v, [2, 0, 1]), [x]);
  gradcheck((v) => r.transpose(v), [x]);
  gradcheck((a, b, c) => r.concat([a, b, c], 1), [
    rn([2, 1, 3]),
    rn([2, 2, 3], 2),
    rn([2, 3, 3], 3),
  ]);
  gradcheck((a, b) => r.concat([a, b], -1), [rn([2, 2]), rn([2, 3], 2)]);
  gradcheck((v) => r.slice(v, [0, -3], [2, 4], [0, 2]), [x]);
  gradcheck((v) => r.slice(v, [1, 0], [100, 4], [1, 2], [2, 3]), [x]);
  gradcheck((v) => r.pad(v, [0, 1, 2, 1, 0, 1], 0.5), [x]);
  gradcheck((v) => r.pad(v, [0, -1, 1, 0, 1, -2]), [x]); // negative pads crop
  const idx = { data: Int32Array.from([2, 0, -1, 2]), shape: [2, 2], grad: false };
  gradcheck((v, i) => r.gather(v, i, 1), [x, idx]); // repeated indices accumulate
  gradcheck((v, i) => r.gather(v, i, -1), [x, { ...idx, data: Int32Array.from([3, 0, 0, 1]) }]);
  gradcheck((v) => r.expand(v, [2, 3, 4]), [rn([3, 1])]);
  gradcheck((v) => r.expand(v, [2, 1, 4]), [rn([1, 1])]);
  gradcheck((v) => r.reshape(v, [4, -1]), [x]);
  gradcheck((v) => r.flatten(r.unsqueeze(r.squeeze(v), [0]), 2), [rn([2, 1, 3])]);
  gradcheck((v) => r.mul(r.transpose(v, [1, 0]), r.transpose(v, [1, 0])), [rn([2, 3])]);
});

Deno.test("composite nn ops' gradients match finite differences", () => {
  gradcheck((v) => r.softmax(v, 1), [rn([2, 3, 4])]);
  gradcheck((v) => r.logSoftmax(v), [rn([3, 5])]);
  gradcheck((v, g, b) => r.layerNorm(v, g, b, 1e-5, -2), [
    rn([2, 3, 4]),
    rn([3, 4], 2),
    rn([4], 3),
  ]);
  gradcheck((v, g, b) => r.batchNormTrain(v, g, b).y, [rn([3, 2, 2, 2]), rn([2], 2), rn([2], 3)]);
  gradcheck((v) => r.batchNormTrain(v, r.tensor([1, 1]), r.tensor([0, 0])).var, [rn([3, 2, 2])]);
  gradcheck((v) => {
    const p = {
      gamma: r.tensor([1.5, -0.5]),
      beta: r.tensor([0.1, 0.2]),
      runningMean: r.tensor([0.3, -0.2]),
      runningVar: r.tensor([0.5, 2]),
      eps: 1e-5,
    };
    return r.batchNorm(v, p);
  }, [rn([2, 2, 2, 2])]);
  gradcheck((v) => r.crossEntropy(v, [2, 0, 4]), [rn([3, 5])]);
  for (const temperature of [1, 4]) {
    gradcheck((p, q) => r.klDivergence(p, q, temperature), [
      { ...rn([3, 5], 1), grad: false },
      rn([3, 5], 2),
    ]);
  }
  gradcheck(r.perSampleL2, [rn([3, 2, 2], 1), rn([3, 2, 2], 2)]);
  gradcheck(r.mse, [rn([3, 4], 1), rn([3, 4], 2)]);
});

Deno.test("klDivergence sends no gradient to the target logits", () => {
  const p = r.tensor([[1, 2, 3]]).variable(), q = r.tensor([[0, 1, 0]]).variable();
  r.backward(r.klDivergence(p, q, 2));
  if (p.grad !== null) throw new Error("target got a gradient");
  if (q.grad === null) throw new Error("prediction got no gradient");
  p.dispose();
  q.dispose();
});

Deno.test("second-order gradients are refused with a TypeError", () => {
  assertThrows(() => GRADS.conv2dBackwardInput(null!, [], null!, null!), TypeError);
});

Deno.test("a gradient a rule hands to two inputs survives the first input's accumulation", async () => {
  // `add(a, b)` hands its one gradient to both inputs; `a` already holds a gradient from a later
  // consumer when the add is reached, so the accumulation must not dispose the shared tensor.
  const { add, backward, mul, sum, tensor } = await import("./mod.ts");
  const x = tensor([1, 2]).variable();
  const b = tensor([3, 4]).variable();
  const a = mul(x, 2);
  const loss = add(sum(mul(a, 3)), sum(add(a, b)));
  backward(loss);
  const gx = Array.from(x.grad!.dataSync()), gb = Array.from(b.grad!.dataSync());
  if (gx.join() !== "8,8" || gb.join() !== "1,1") throw new Error(`grads ${gx} / ${gb}`);
});
