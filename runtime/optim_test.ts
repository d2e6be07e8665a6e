/**
 * Adam and SGD against PyTorch's documented update rules computed here in plain float math,
 * for three steps; learning-rate schedules; and that optimizer steps release their temporaries.
 */
import { assertClose, assertEquals } from "./assert.ts";
import * as r from "./mod.ts";

const P0 = [0.5, -1.2, 2.0];
const GRADS = [[0.1, -0.3, 0.5], [-0.2, 0.4, 0.05], [0.3, 0.3, -0.7]];

/** Runs `steps` optimizer steps with the fixed gradients above and returns the parameters. */
function run(make: (p: r.Tensor) => r.Optimizer): number[][] {
  const p = r.tensor(P0).variable();
  const opt = make(p);
  const out: number[][] = [];
  for (const g of GRADS) {
    opt.zeroGrad();
    p.grad = r.tensor(g);
    opt.step();
    out.push(Array.from(p.dataSync()));
  }
  opt.zeroGrad();
  opt.dispose();
  p.dispose();
  return out;
}

Deno.test("Adam matches PyTorch's update rule for three steps (with and without weight decay)", () => {
  for (const wd of [0, 0.1]) {
    const lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const p = [...P0], m = [0, 0, 0], v = [0, 0, 0];
    const expected: number[][] = [];
    GRADS.forEach((g0, k) => {
      const t = k + 1;
      for (let i = 0; i < 3; i++) {
        const g = g0[i] + wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        const mhat = m[i] / (1 - b1 ** t), vhat = v[i] / (1 - b2 ** t);
        p[i] -= lr * mhat / (Math.sqrt(vhat) + eps);
      }
      expected.push([...p]);
    });
    const got = run((q) => new r.Adam([q], { lr, weightDecay: wd }));
    got.forEach((row, k) =>
      assertClose(row, expected[k], { rtol: 1e-6, atol: 1e-7, msg: `step ${k}` })
    );
  }
});

Deno.test("SGD matches PyTorch with momentum, dampening, Nesterov and weight decay", () => {
  const variants = [
    { momentum: 0, nesterov: false, weightDecay: 0, dampening: 0 },
    { momentum: 0.9, nesterov: false, weightDecay: 0, dampening: 0 },
    { momentum: 0.9, nesterov: false, weightDecay: 0.01, dampening: 0.1 },
    { momentum: 0.8, nesterov: true, weightDecay: 0.05, dampening: 0 },
  ];
  for (const o of variants) {
    const lr = 0.1;
    const p = [...P0];
    let buf: number[] | null = null;
    const expected: number[][] = [];
    for (const g0 of GRADS) {
      const g = g0.map((v, i) => v + o.weightDecay * p[i]);
      let d = g;
      if (o.momentum) {
        buf = buf ? buf.map((b, i) => o.momentum * b + (1 - o.dampening) * g[i]) : [...g];
        d = o.nesterov ? g.map((v, i) => v + o.momentum * buf![i]) : buf;
      }
      for (let i = 0; i < 3; i++) p[i] -= lr * d[i];
      expected.push([...p]);
    }
    const got = run((q) => new r.SGD([q], { lr, ...o }));
    got.forEach((row, k) =>
      assertClose(row, expected[k], { rtol: 1e-6, atol: 1e-7, msg: JSON.stringify(o) })
    );
  }
});

Deno.test("a schedule sets each step's learning rate", () => {
  const cos = r.cosineLr(0.1, 10, 0.01);
  assertClose([cos(0), cos(5), cos(10), cos(20)], [0.1, 0.055, 0.01, 0.01], { rtol: 1e-12 });
  assertClose([cos(2)], [0.01 + 0.09 * (1 + Math.cos(Math.PI * 0.2)) / 2], { rtol: 1e-12 });
  const st = r.stepLr(1, [3, 6], 0.5);
  assertEquals([0, 2, 3, 5, 6, 100].map(st), [1, 1, 0.5, 0.5, 0.25, 0.25]);
  // the optimizer reads the schedule at its step count: SGD with lr 1 then 0.5
  const got = run((q) => new r.SGD([q], { lr: r.stepLr(1, [1], 0.5) }));
  assertClose(got[1], P0.map((p, i) => p - GRADS[0][i] - 0.5 * GRADS[1][i]), { rtol: 1e-6 });
});

Deno.test("optimizer steps do not leak buffers", () => {
  for (
    const make of [
      (ps: r.Tensor[]) => new r.Adam(ps, { weightDecay: 0.1 }),
      (ps: r.Tensor[]) =>
        new r.SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1 }),
    ]
  ) {
    const base = r.cpu.memory().liveBuffers;
    const w = r.tensor([[1, 2], [3, 4]]).variable(), b = r.tensor([0.5, -0.5]).variable();
    const opt = make([w, b]);
    const x = r.tensor([[1, -1], [2, 0.5]]);
    const step = () => {
      opt.zeroGrad();
      r.tidy(() => r.backward(r.mse(r.add(r.matmul(x, w), b), r.zeros([2, 2]))));
      opt.step();
    };
    step();
    const after1 = r.cpu.memory().liveBuffers;
    for (let i = 0; i < 5; i++) step();
    assertEquals(r.cpu.memory().liveBuffers, after1, "live buffers grew across steps");
    opt.zeroGrad();
    opt.dispose();
    for (const t of [w, b, x]) t.dispose();
    assertEquals(r.cpu.memory().liveBuffers, base, "optimizer state was not released");
  }
});
