import { assertClose, assertEquals } from "../../runtime/assert.ts";
import { Random, type Tensor, upload } from "../../runtime/mod.ts";
import {
  bnsLoss,
  cbnsLoss,
  dbnsEarlyLoss,
  dbnsLoss,
  kdLoss,
  type LayerStats,
  startLayer,
} from "./losses.ts";

const t = (xs: number[]) => upload(Float32Array.from(xs), [xs.length]);
const v = (x: Tensor) => (x.dataSync() as Float32Array)[0];
const mseH = (a: number[], b: ArrayLike<number>) =>
  a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0) / a.length;

// Two layers: 2 channels, then 3.
const M = [[1, 2], [0.5, -1, 3]];
const V = [[0.5, 4], [1, 2, 0.25]];
const stats: LayerStats[] = M.map((m, l) => ({ mean: t(m), var: t(V[l]) }));

Deno.test("FDDA's deeper half starts at int((L + 1)/2) − 2 (the official layer counts)", () => {
  assertEquals([20, 27, 52, 53].map(startLayer), [8, 12, 24, 25]);
  assertEquals([1, 2, 3].map(startLayer), [0, 0, 0]);
});

Deno.test("BNS is the MSE of means and variances against the running statistics, averaged over layers", () => {
  const rm = [[0, 1], [1, 1, 1]], rv = [[1, 1], [1, 1, 1]];
  const targets = rm.map((m, l) => ({ mean: t(m), var: t(rv[l]) }));
  const want = M.reduce((s, m, l) => s + mseH(m, rm[l]) + mseH(V[l], rv[l]), 0) / 2;
  assertClose([v(bnsLoss(stats, targets))], [want], { atol: 1e-6, rtol: 1e-6 });
});

Deno.test("D-BNS draws N(centre, 0.5²) for means and N(centre, 1²) for variances over the deeper layers", () => {
  const centre = {
    mean: [Float32Array.from([0, 0]), Float32Array.from([1, 0, 2])],
    var: [Float32Array.from([1, 1]), Float32Array.from([1, 3, 0.5])],
  };
  // From layer 1 only: the noise per element in order, means then variances.
  const r = new Random(9);
  const nm = centre.mean[1].map((c) => c + 0.5 * r.normal());
  const nv = centre.var[1].map((c) => c + 1.0 * r.normal());
  const want = mseH(M[1], nm) + mseH(V[1], nv);
  const got = dbnsLoss(stats, centre, new Random(9), { start: 1, stdMean: 0.5, stdVar: 1 });
  assertClose([v(got)], [want], { atol: 1e-5, rtol: 1e-5 });
  // Both layers: averaged over 2.
  const r2 = new Random(3);
  let sum = 0;
  for (let l = 0; l < 2; l++) {
    const a = centre.mean[l].map((c) => c + 0.5 * r2.normal());
    const b = centre.var[l].map((c) => c + r2.normal());
    sum += mseH(M[l], a) + mseH(V[l], b);
  }
  const all = dbnsLoss(stats, centre, new Random(3), { start: 0, stdMean: 0.5, stdVar: 1 });
  assertClose([v(all)], [sum / 2], { atol: 1e-5, rtol: 1e-5 });
  // C-BNS: the exact centres.
  const c = cbnsLoss(stats, centre, 1);
  assertClose([v(c)], [mseH(M[1], centre.mean[1]) + mseH(V[1], centre.var[1])], {
    atol: 1e-6,
    rtol: 1e-6,
  });
});

Deno.test("The early-epoch D-BNS is 2 · mean over every layer against N(0, 1) noise", () => {
  const r = new Random(4);
  let sum = 0;
  for (let l = 0; l < 2; l++) {
    const a = M[l].map(() => r.normal());
    const b = V[l].map(() => r.normal());
    sum += mseH(M[l], a) + mseH(V[l], b);
  }
  assertClose([v(dbnsEarlyLoss(stats, new Random(4)))], [2 * sum / 2], { atol: 1e-5, rtol: 1e-5 });
});

Deno.test("The KD loss is KL(s/T ‖ t/T)·α·T² + CE(s, y), KL batchmean", () => {
  const s = [[1, 0, -1], [0.5, 2, 0]], tt = [[0, 1, 0], [2, 0, 1]];
  const labels = [0, 1];
  const T = 20, alpha = 20;
  const sm = (x: number[]) => {
    const e = x.map((u) => Math.exp(u));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((u) => u / z);
  };
  let kl = 0, ce = 0;
  for (let i = 0; i < 2; i++) {
    const p = sm(tt[i].map((x) => x / T)), q = sm(s[i].map((x) => x / T));
    kl += p.reduce((a, pi, k) => a + pi * Math.log(pi / q[k]), 0);
    ce += -Math.log(sm(s[i])[labels[i]]);
  }
  const want = (kl / 2) * alpha * T * T + ce / 2;
  const got = kdLoss(
    upload(Float32Array.from(s.flat()), [2, 3]),
    upload(Float32Array.from(tt.flat()), [2, 3]),
    labels,
    T,
    alpha,
  );
  assertClose([v(got)], [want], { atol: 1e-4, rtol: 1e-4 });
});
