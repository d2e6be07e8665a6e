import { assert, assertClose, assertEquals } from "../runtime/assert.ts";
import { fdda, PAPERS, pdquant, runKey, sampleSet } from "../papers/mod.ts";
import { buildView, lineChart, renderHtml, stat } from "./mod.ts";
import { fakeRecord, pdquantFixture } from "./testing.ts";
import { claimPower, collapseNotes, normalCdf } from "./view.ts";

const GENERATED = "2024-06-01T00:00:00.000Z";
const metas = Object.fromEntries(Object.values(PAPERS).map((p) => [p.meta.id, p.meta]));
const view = buildView(pdquant, pdquantFixture(), { generated: GENERATED, metas });
const html = renderHtml(view);

function suiteOf(cell: string, suite: string) {
  return view.cells.find((c) => c.id === cell)?.suites.find((s) => s.suite === suite);
}

Deno.test("stat gives the mean and the sample standard deviation", () => {
  const s = stat([1, 2, 3])!;
  assertEquals([s.mean, s.std, s.n], [2, 1, 3]);
  assertEquals(stat([5])?.std, 0);
  assertEquals(stat([]), undefined);
});

Deno.test("exact cells compare values against the exact tolerance", () => {
  const agree = suiteOf("pdquant/resnet18/w2a2/pdquant", "imagenet")!;
  assertEquals([agree.cls, agree.verdict, agree.delta], ["exact", "agrees", -0.58]);
  const differ = suiteOf("pdquant/resnet18/w4a4/pdquant", "imagenet")!;
  assertEquals([differ.cls, differ.verdict, differ.delta], ["exact", "differs", -2.3]);
});

Deno.test("same-arch cells compare drops from each side's FP32", () => {
  const agree = suiteOf("pdquant/mobilenetv2/w4a4/pdquant", "imagenet-subset")!;
  assertEquals([agree.cls, agree.verdict], ["same-arch", "agrees"]);
  assertEquals(agree.delta, -0.19); // 4.1 measured vs 72.62 − 68.33 = 4.29
  const differ = suiteOf("pdquant/mobilenetv2/w2a2/qdrop", "imagenet-subset")!;
  assertEquals(differ.verdict, "differs");
});

Deno.test("proxy cells defer to claims, and claims hold or not with their gaps", () => {
  const p = suiteOf("pdquant/mobilenetv2/w2a2/pdquant", "proxy")!;
  assertEquals([p.cls, p.verdict, p.measured?.n], ["proxy", "see claims", 3]);
  const holds = view.claims.find((c) => c.id === "pdquant/mobilenetv2/w2a2/pdquant>qdrop")!;
  assertEquals(holds.checks[0].verdict, "holds");
  assertEquals(holds.checks[0].gap, 3.1);
  assertEquals(holds.paperGap.value, 3.48);
  const not = view.claims.find((c) => c.id === "pdquant/resnet18/w4a4/pdquant>qdrop")!;
  assertEquals(not.checks[0].verdict, "does not hold");
  // ResNet-50 W4A4 maps to the same proxy run.
  const r50 = view.claims.find((c) => c.id === "pdquant/resnet50/w4a4/pdquant>qdrop")!;
  assertEquals(r50.checks[0].shared, true);
});

Deno.test("cells no suite ran say why and how", () => {
  const s = suiteOf("pdquant/resnet50/w2a2/pdquant", "imagenet")!;
  assertEquals(s.verdict, "not run");
  assert(s.reason?.includes("brecq_v1.0/resnet50") && s.how?.includes("--models-dir"));
  const cited = view.cells.find((c) => c.id === "pdquant/resnet18/w4a4/aciq-mix")!;
  assert(cited.suites.every((x) => x.status === "n/a"));
});

Deno.test("the page holds every reported cell with its class and verdict", () => {
  for (const c of pdquant.cells) assert(html.includes(`data-cell="${c.id}"`), c.id);
  assert(html.includes('data-suite="imagenet" data-status="measured" data-verdict="agrees"'));
  assert(html.includes('data-verdict="differs" data-class="exact"'));
  assert(html.includes('data-class="same-arch"'));
  assert(html.includes('data-verdict="holds"'));
  assert(html.includes("53.14")); // the CVPR/v3 alternate
  assert(html.includes("unverified"));
  assert(html.includes("tol ±1"));
  assert(html.includes("reconstruction loss per unit"));
  assert(html.includes(GENERATED));
  assertEquals(view.summary.agrees, 2);
  assertEquals(view.summary.differs, 2);
});

Deno.test("the page loads nothing from the network", () => {
  assert(!/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i.test(html), "an external src/href");
  assert(!/<script\b/i.test(html), "a script");
  assert(!/<link\b/i.test(html), "a link element");
  assert(!/@import|url\(/i.test(html), "a CSS import");
});

Deno.test("the report of a paper without records still renders every cell", () => {
  for (const paper of Object.values(PAPERS)) {
    const page = renderHtml(buildView(paper, [], { generated: GENERATED, metas }));
    assertEquals(page.match(/<tbody class="cell"/g)?.length, paper.cells.length);
  }
});

Deno.test("the line chart draws one path per series and skips gaps", () => {
  const svg = lineChart({
    title: "t",
    x: ["a", "b", "c"],
    yLabel: "loss",
    series: [{ name: "s1", values: [1, undefined, 3] }, { name: "s2", values: [2, 2, 2] }],
    log: true,
  });
  assertEquals(svg.match(/<path /g)?.length, 2);
  assertEquals(svg.match(/<circle /g)?.length, 5);
});

Deno.test("custom budgets: the most iterations win, settings never mix, claims need one budget", () => {
  const rec = (method: string, seed: number, top1: number, iters: number, budget = "custom") =>
    fakeRecord({
      cell: `pdquant/mobilenetv2/w4a4/${method}`,
      suite: "imagenet-subset",
      recipe: `pdquant/${method}@mobilenetv2`,
      method,
      model: "mobilenet_v2_tf2ptq",
      w: 4,
      a: 4,
      seed,
      top1,
      fp32: 78,
      budget: budget as "custom",
      iters,
      calibN: 256,
    });
  const records = [
    rec("pdquant", 1005, 28, 100),
    rec("pdquant", 1006, 30, 100),
    rec("pdquant", 1005, 10, 20), // fewer iterations: left out, not averaged in
    rec("qdrop", 1005, 6, 100),
  ];
  const v = buildView(pdquant, records, { generated: GENERATED, metas });
  const s = v.cells.find((c) => c.id === "pdquant/mobilenetv2/w4a4/pdquant")!.suites
    .find((x) => x.suite === "imagenet-subset")!;
  assertEquals([s.budget, s.measured?.mean, s.measured?.n], [
    "custom (100 it/unit, 256 calib)",
    29,
    2,
  ]);
  const claim = v.claims.find((c) => c.id === "pdquant/mobilenetv2/w4a4/pdquant>qdrop")!;
  // 100 of the paper's 20,000 iterations per unit: the gap is shown, not judged.
  assertEquals(claim.checks[0].verdict, "under budget");
  assertEquals(claim.checks[0].why, "budget 0.5 % of the paper's iterations per unit");
  assertEquals(claim.checks[0].budget, "custom (100 it/unit, 256 calib)");
  assert(
    renderHtml(v).includes("budget 0.5 % of the paper&#39;s iterations per unit") ||
      renderHtml(v).includes("budget 0.5 % of the paper's iterations per unit"),
  );
  // At a tenth of the paper's iterations a clear gap holds, unless a side collapsed.
  const judged = (qdropTop1: number) => {
    const rs = [rec("pdquant", 1005, 28, 2000), rec("pdquant", 1006, 30, 2000)];
    const v3 = buildView(pdquant, [...rs, rec("qdrop", 1005, qdropTop1, 2000)], {
      generated: GENERATED,
      metas,
    });
    return v3.claims.find((c) => c.id === "pdquant/mobilenetv2/w4a4/pdquant>qdrop")!.checks[0];
  };
  assertEquals(judged(20).verdict, "holds");
  assertEquals(judged(4).verdict, "collapsed");
  assert(judged(4).why!.includes("≤ 5.1"), judged(4).why);
  // QDrop at another budget: the gap is shown but not judged.
  const other = [...records.slice(0, 3), rec("qdrop", 1005, 6, 2000, "quick")];
  const v2 = buildView(pdquant, other, { generated: GENERATED, metas });
  const c2 = v2.claims.find((c) => c.id === "pdquant/mobilenetv2/w4a4/pdquant>qdrop")!;
  assertEquals(c2.checks[0].verdict, "budgets differ");
  assertEquals(c2.checks[0].budget, "custom (100 it/unit, 256 calib) / quick");
  assert(renderHtml(v2).includes('data-verdict="budgets differ"'));
  // Runs with a replaced recipe setting (`--set`) are their own setting: the recipe's own runs
  // are preferred even at fewer iterations, and the two are never averaged.
  const lr = (method: string, seed: number, top1: number, iters: number) => ({
    ...rec(method, seed, top1, iters),
    config: { recipe: { iters, w_bits: 4, a_bits: 4, set: { adaround_lr: 0.01 } } },
  });
  const v3 = buildView(pdquant, [...records, lr("pdquant", 1005, 60, 200)], {
    generated: GENERATED,
    metas,
  });
  const s3 = v3.cells.find((c) => c.id === "pdquant/mobilenetv2/w4a4/pdquant")!.suites
    .find((x) => x.suite === "imagenet-subset")!;
  assertEquals([s3.budget, s3.measured?.mean, s3.measured?.n], [
    "custom (100 it/unit, 256 calib)",
    29,
    2,
  ]);
  const onlySet = buildView(pdquant, [lr("pdquant", 1005, 60, 2000), lr("qdrop", 1005, 57, 2000)], {
    generated: GENERATED,
    metas,
  });
  const c4 = onlySet.claims.find((c) => c.id === "pdquant/mobilenetv2/w4a4/pdquant>qdrop")!;
  assertEquals(c4.checks[0].budget, "custom (2000 it/unit, 256 calib, adaround_lr=0.01)");
  assertEquals(c4.checks[0].verdict, "holds");
});

Deno.test("a cell run at several iteration counts gets a budget curve; its runs are listed, not warned about", () => {
  const rec = (method: string, seed: number, top1: number, iters: number, set = false) => {
    const r = fakeRecord({
      cell: `pdquant/mobilenetv2/w2a4/${method}`,
      suite: "proxy",
      recipe: `pdquant/${method}@mobilenetv2`,
      method,
      model: "proxy_mbv2",
      w: 2,
      a: 4,
      seed,
      top1,
      fp32: 83.5,
      budget: "custom",
      iters,
      calibN: 1024,
    });
    if (set) (r.config.recipe as Record<string, unknown>).set = { adaround_lr: 0.01 };
    return r;
  };
  const records = [
    rec("qdrop", 1005, 12, 20),
    rec("qdrop", 1005, 58, 100),
    rec("qdrop", 1005, 78, 500),
    rec("qdrop", 1006, 80, 500),
    rec("brecq", 1005, 24, 20),
    rec("brecq", 1005, 79, 500),
    rec("brecq", 1005, 90, 100, true), // replaced settings: not on the curve
  ];
  const v = buildView(pdquant, records, { generated: GENERATED, metas });
  assertEquals(v.budgetCurves.length, 1);
  const c = v.budgetCurves[0];
  assertEquals(c.title, "proxy_mbv2 · W2A4 · 1024 calib · proxy");
  assertEquals(c.iters, ["20", "100", "500"]);
  assertEquals(c.series, [
    { name: "brecq", values: [24, undefined, 79] },
    { name: "qdrop", values: [12, 58, 79] },
  ]);
  assertEquals(v.runs.length, 6);
  assert(
    v.warnings.some((w) => w.startsWith("1 record(s) of pdquant match no")),
    v.warnings.join(),
  );
  const html = renderHtml(v);
  assert(html.includes('id="budget-curves"') && html.includes("top-1 by it/unit"));
  // One iteration count only: no curve.
  assertEquals(
    buildView(pdquant, records.slice(2, 4), { generated: GENERATED, metas }).budgetCurves,
    [],
  );
});

Deno.test("run notes that differ only in their figures are listed once, with the count of runs", () => {
  const fused = (x: string) => `fused integer kernels: top-1 ${x}, top-5 9${x}`;
  assertEquals(
    collapseNotes([
      ["evaluated on 500 images", fused("86.00")],
      ["evaluated on 500 images", fused("84.40")],
      ["resumed from a unit checkpoint with 3 of 20 units done"],
    ]),
    [
      "evaluated on 500 images",
      "fused integer kernels: top-1 …, top-5 … (2 runs; each run's figures are in the Runs table)",
      "resumed from a unit checkpoint with 3 of 20 units done",
    ],
  );
});

Deno.test("a claim check's power is the chance its band is cleared at the paper's gap, with the seeds for 80 %", () => {
  assertClose([normalCdf(0), normalCdf(1.96), normalCdf(-1)], [0.5, 0.975, 0.1587], { atol: 1e-4 });
  // Three seeds a side, spread 1 pt, no sampling term: SE = sqrt(2/3) = 0.816, band = 1.63.
  const s = (mean: number) => ({ mean, std: 1, n: 3 });
  const p = claimPower(2, s(80), s(78), 0.25);
  assertClose([p.value], [normalCdf((2 - 2 * Math.sqrt(2 / 3)) / Math.sqrt(2 / 3))], {
    atol: 0.01,
  });
  // 80 % needs delta >= 2.84 SE: SE <= 0.704 -> 2/n <= 0.496 -> n = 5.
  assertEquals(p.seedsFor80, 5);
  // One seed a side: the spread is unknown.
  assertEquals(claimPower(2, { mean: 80, std: 0, n: 1 }, { mean: 78, std: 0, n: 1 }, 0.25), {
    value: 1,
    seedsFor80: null,
  });
  // A gap far below the noise has almost no power.
  assert(claimPower(0.1, s(80), s(79.9), 0.25).value < 0.05);
});

Deno.test("FDDA: both selection protocols side by side, and the synthetic images per class", async () => {
  const rec = (seed: number, last: number, best: number, bestEpoch: number) => ({
    ...fakeRecord({
      paper: "fdda",
      cell: "fdda/resnet18/w4a4/fdda",
      suite: "proxy",
      recipe: "fdda/fdda@all",
      method: "fdda",
      model: "proxy_resnet",
      w: 4,
      a: 4,
      seed,
      top1: last,
      fp32: 87.6,
      iters: 2000,
    }),
    selection: {
      official: { rule: "best test top-1 over epochs 0–9", epoch: bestEpoch, top1: best },
      test_free: { rule: "the last epoch (no test data used)", epoch: 9, top1: last },
      per_epoch: [{ epoch: bestEpoch, top1: best }, { epoch: 9, top1: last }],
    },
  });
  const records = [rec(4, 70, 74, 6), rec(5, 72, 75, 8)];
  // Two images of class 0 and one of class 9 (28×28 grey), as the runner stores them.
  const pixels = new Float32Array(3 * 28 * 28).map((_, i) => Math.sin(i));
  const set = await sampleSet(runKey(records[0]), "proxy", {
    pixels,
    shape: [3, 1, 28, 28],
    labels: [0, 0, 9],
    note: "test images",
  });
  const v = buildView(fdda, records, { generated: GENERATED, metas, samples: [set] });
  assertEquals(v.selections.length, 1);
  const s = v.selections[0];
  assertEquals([s.suite, s.model, s.official?.mean, s.testFree.mean, s.gap], [
    "proxy",
    "proxy_resnet",
    74.5,
    71,
    3.5,
  ]);
  assertEquals([s.officialEpochs, s.testFreeEpochs, s.evaluated], [[6, 8], [9, 9], 2]);
  assertEquals(v.samples.length, 1);
  assertEquals(
    v.samples[0].classes.map((c) => [c.label, c.name, c.images.length]),
    [[0, "T-shirt/top", 2], [9, "Ankle boot", 1]],
  );
  const page = renderHtml(v);
  assert(page.includes(`<table id="selection">`));
  assert(page.includes("selects on the test set"));
  assert(page.includes("Synthetic images per class"));
  assert(page.includes(`<figcaption>Ankle boot</figcaption>`));
  assertEquals(page.match(/<img src="data:image\/png;base64,/g)?.length, 3);
  assert(!/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i.test(page), "an external src/href");
  // A paper without selections or samples shows neither section.
  assert(!html.includes(`id="selection"`) && !html.includes(`id="samples"`));
  // Samples of a run the report does not show are left out.
  const other = buildView(fdda, records.slice(1), { generated: GENERATED, metas, samples: [set] });
  assertEquals(other.samples.length, 0);
});

Deno.test("a report warns when runs were made from uncommitted code", () => {
  const rec = (seed: number, commit: string) => ({
    ...fakeRecord({
      cell: "pdquant/mobilenetv2/w2a4/qdrop",
      suite: "proxy",
      recipe: "pdquant/qdrop@mobilenetv2",
      method: "qdrop",
      model: "proxy_mbv2",
      w: 2,
      a: 4,
      seed,
      top1: 70,
      fp32: 83,
    }),
    versions: { ptq_bench: commit, deno: "2.9.6", onnxruntime: "1.30.0" },
  });
  const clean = buildView(pdquant, [rec(1005, "0123abc")], { generated: GENERATED });
  assert(!clean.warnings.some((w) => w.includes("uncommitted")), clean.warnings.join());
  const v = buildView(pdquant, [rec(1005, "0123abc"), rec(1006, "0123abc+dirty")], {
    generated: GENERATED,
  });
  assert(
    v.warnings.some((w) => w.startsWith("1 of the 2 runs shown") && w.includes("+dirty")),
    v.warnings.join(),
  );
});
