/** Forward values of the composite nn ops against direct float64 formulas. */
import { assertClose } from "./assert.ts";
import { randn } from "./_test_util.ts";
import * as r from "./mod.ts";

const rows = (a: ArrayLike<number>, k: number) =>
  Array.from({ length: a.length / k }, (_, i) => Array.from(a).slice(i * k, i * k + k));
const softmax = (v: number[]) => {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b);
  return e.map((x) => x / s);
};

Deno.test("softmax and logSoftmax are stable for large logits", () => {
  r.tidy(() => {
    const x = r.tensor([[1000, 1001, 1002], [-1000, 0, 1000]]);
    assertClose(r.softmax(x).dataSync(), [...softmax([0, 1, 2]), 0, 0, 1], { atol: 1e-7 });
    assertClose(
      r.logSoftmax(x).dataSync(),
      softmax([0, 1, 2]).map(Math.log).concat([-2000, -1000, 0]),
      {
        rtol: 1e-6,
      },
    );
  });
});

Deno.test("layerNorm, batchNorm and batchNormTrain follow their formulas", () => {
  r.tidy(() => {
    const x = randn(24, 1);
    const ln = r.layerNorm(r.tensor(x, [4, 6]), r.tensor([1, 2, 1, 2, 1, 2]), r.full([6], 0.5))
      .dataSync();
    const expected = rows(x, 6).flatMap((row) => {
      const mu = row.reduce((a, b) => a + b) / 6;
      const v = row.reduce((a, b) => a + (b - mu) ** 2, 0) / 6;
      return row.map((val, i) => ((val - mu) / Math.sqrt(v + 1e-5)) * (i % 2 ? 2 : 1) + 0.5);
    });
    assertClose(ln, expected, { rtol: 1e-4, atol: 1e-5 });
    // batchNormTrain over N, H, W per channel
    const xs = [3, 2, 2, 2];
    const bn = r.batchNormTrain(r.tensor(x, xs), r.tensor([2, 1]), r.tensor([0, 1]));
    const perC = [0, 1].map((c) => x.filter((_, i) => Math.floor(i / 4) % 2 === c));
    const mu = perC.map((v) => v.reduce((a, b) => a + b) / v.length);
    const vr = perC.map((v, c) => v.reduce((a, b) => a + (b - mu[c]) ** 2, 0) / v.length);
    assertClose(bn.mean.dataSync(), mu, { rtol: 1e-5, atol: 1e-6 });
    assertClose(bn.var.dataSync(), vr, { rtol: 1e-5 });
    const y = Array.from(x, (v, i) => {
      const c = Math.floor(i / 4) % 2;
      return ((v - mu[c]) / Math.sqrt(vr[c] + 1e-5)) * [2, 1][c] + [0, 1][c];
    });
    assertClose(bn.y.dataSync(), y, { rtol: 1e-4, atol: 1e-5 });
    const inf = r.batchNorm(r.tensor(x, xs), {
      gamma: r.tensor([2, 1]),
      beta: r.tensor([0, 1]),
      runningMean: r.tensor(mu),
      runningVar: r.tensor(vr),
      eps: 1e-5,
    });
    assertClose(inf.dataSync(), y, { rtol: 1e-4, atol: 1e-5 });
  });
});

Deno.test("crossEntropy, klDivergence, mse and perSampleL2 follow their formulas", () => {
  r.tidy(() => {
    const a = randn(12, 1), b = randn(12, 2);
    const labels = [2, 0, 3];
    const ce = rows(a, 4).reduce((acc, row, i) => acc - Math.log(softmax(row)[labels[i]]), 0) / 3;
    assertClose(r.crossEntropy(r.tensor(a, [3, 4]), labels).dataSync(), [ce], { rtol: 1e-5 });
    for (const T of [1, 3]) {
      const kl = rows(a, 4).reduce((acc, row, i) => {
        const p = softmax(row.map((v) => v / T)), q = softmax(rows(b, 4)[i].map((v) => v / T));
        return acc + p.reduce((s, pv, j) => s + pv * Math.log(pv / q[j]), 0);
      }, 0) / 3;
      assertClose(r.klDivergence(r.tensor(a, [3, 4]), r.tensor(b, [3, 4]), T).dataSync(), [kl], {
        rtol: 1e-4,
        atol: 1e-6,
      });
    }
    assertClose(r.klDivergence(r.tensor(a, [3, 4]), r.tensor(a, [3, 4])).dataSync(), [0], {
      atol: 1e-6,
    });
    const sq = Array.from(a, (v, i) => (v - b[i]) ** 2);
    assertClose(r.mse(r.tensor(a), r.tensor(b)).dataSync(), [sq.reduce((x, y) => x + y) / 12], {
      rtol: 1e-5,
    });
    assertClose(r.perSampleL2(r.tensor(a, [3, 4]), r.tensor(b, [3, 4])).dataSync(), [
      sq.reduce((x, y) => x + y) / 3,
    ], { rtol: 1e-5 });
  });
});
