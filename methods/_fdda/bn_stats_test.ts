import { assert, assertClose, assertEquals } from "../../runtime/assert.ts";
import { noGrad, Random, type Tensor } from "../../runtime/mod.ts";
import { execute } from "../../models/execute.ts";
import { foldBatchNorm } from "../../models/fold_bn.ts";
import { tinyGraph, tinyInputs } from "../testing.ts";
import { bnSites, captureCentres, disposeSites, siteStats } from "./bn_stats.ts";
import { bnGraph } from "./fixtures.ts";

const host = (t: Tensor) => Array.from(t.dataSync() as Float32Array);

/** Per-channel mean and biased variance of `[N, C, H, W]` host data over N, H, W (by hand). */
function handStats(d: ArrayLike<number>, [n, c, h, w]: readonly number[]) {
  const mean: number[] = [], v: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < h * w; k++) xs.push(d[(i * c + ch) * h * w + k]);
    }
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    mean.push(m);
    v.push(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
  }
  return { mean, var: v };
}

Deno.test("FDDA's BN sites recover the BN input's statistics from the folded layers", () => {
  const g = bnGraph(0);
  const { graph, bn } = foldBatchNorm(g);
  const sites = bnSites(graph, bn);
  try {
    assertEquals(sites.map((s) => s.name), ["bn1", "bn2"]);
    assertEquals(sites.map((s) => s.recovered), [false, false]);
    // Global targets are the running statistics.
    assertClose(host(sites[0].mean), host(g.initializers.get("bn1.m")!), {
      atol: 1e-6,
      rtol: 1e-6,
    });
    assertClose(host(sites[1].var), host(g.initializers.get("bn2.v")!), { atol: 1e-6, rtol: 1e-6 });
    // Batch statistics at the folded output equal those of the unfolded BN input, by hand.
    const x = new Random(4).randn([3, 1, 8, 8]);
    const raw = noGrad(() => execute(g, { feeds: { input: x }, fetch: ["c1.y", "c2.y"] }));
    const folded = noGrad(() =>
      execute(graph, { feeds: { input: x }, fetch: sites.map((s) => s.value) })
    );
    for (const [j, v] of ["c1.y", "c2.y"].entries()) {
      const want = handStats(raw[v].dataSync(), raw[v].shape);
      const got = noGrad(() => siteStats(folded[sites[j].value], sites[j]));
      assertClose(host(got.mean), want.mean, { atol: 1e-4, rtol: 1e-4 });
      assertClose(host(got.var), want.var, { atol: 1e-4, rtol: 1e-4 });
    }
  } finally {
    disposeSites(sites);
  }
});

Deno.test("FDDA's class centres are each class's batch-1 statistics, and the correct set the teacher's hits", async () => {
  const g = bnGraph(1);
  const { graph, bn } = foldBatchNorm(g);
  const sites = bnSites(graph, bn);
  try {
    const x = new Random(5).randn([3, 1, 8, 8]);
    const logits = noGrad(() => execute(g, { feeds: { input: x } }))["logits"].dataSync();
    const pred = [0, 1, 2].map((i) => {
      const row = Array.from(logits.slice(i * 3, i * 3 + 3));
      return row.indexOf(Math.max(...row));
    });
    // Image i is labelled 2 − i; the correct set holds the classes whose image is predicted so.
    const labels = [2, 1, 0];
    const c = await captureCentres(graph, sites, x, labels, 2);
    assertEquals(c.classes, [0, 1, 2]);
    assertEquals(c.numClasses, 3);
    assertEquals([...c.correct].sort(), labels.filter((l, i) => pred[i] === l).sort());
    const raw = noGrad(() => execute(g, { feeds: { input: x }, fetch: ["c2.y"] }))["c2.y"];
    const per = raw.size / 3;
    for (let i = 0; i < 3; i++) {
      const one = raw.dataSync().slice(i * per, (i + 1) * per);
      const want = handStats(one, [1, ...raw.shape.slice(1)]);
      assertClose(Array.from(c.mean.get(labels[i])![1]), want.mean, { atol: 1e-4, rtol: 1e-4 });
      assertClose(Array.from(c.var.get(labels[i])![1]), want.var, { atol: 1e-4, rtol: 1e-4 });
    }
  } finally {
    disposeSites(sites);
  }
});

Deno.test("FDDA recovers per-channel targets at the Conv outputs of a model without BN", async () => {
  const graph = tinyGraph(0);
  const sites = bnSites(graph, new Map());
  try {
    assert(sites.every((s) => s.recovered));
    assertEquals(sites.map((s) => s.name), ["c1", "c2", "c3", "c4", "c5", "c6"]);
    const x = tinyInputs(4, 2);
    const c = await captureCentres(graph, sites, x, [0, 0, 1, 1], 3);
    const y = noGrad(() => execute(graph, { feeds: { input: x }, fetch: ["c3.y"] }))["c3.y"];
    // Global targets: the statistics over all the images; centres: over each class's images.
    const all = handStats(y.dataSync(), y.shape);
    assertClose(host(sites[2].mean), all.mean, { atol: 1e-4, rtol: 1e-4 });
    assertClose(host(sites[2].var), all.var, { atol: 1e-4, rtol: 1e-4 });
    const per = y.size / 4;
    const cls1 = handStats(y.dataSync().slice(2 * per), [2, ...y.shape.slice(1)]);
    assertClose(Array.from(c.mean.get(1)![2]), cls1.mean, { atol: 1e-4, rtol: 1e-4 });
    assertClose(Array.from(c.var.get(1)![2]), cls1.var, { atol: 1e-4, rtol: 1e-4 });
  } finally {
    disposeSites(sites);
  }
});
