import { assert, assertEquals } from "../runtime/assert.ts";
import {
  BENCHMARKS,
  cellsOf,
  claimsBetween,
  mrecg,
  type PaperMeta,
  PAPERS,
  parseBenchmark,
  type ReportedRow,
} from "../papers/mod.ts";
import { baselinesView, renderBaselinesHtml } from "./baselines.ts";
import { claimDrift, collectBaselines, driftText } from "./drift.ts";
import { buildView, renderHtml } from "./mod.ts";
import { fakeRecord } from "./testing.ts";

const GENERATED = "2024-06-01T00:00:00.000Z";

/** A row of a fake paper's table (ResNet-18 W4A4 unless told). */
function row(
  paper: string,
  method: string,
  value: number,
  more: Partial<ReportedRow> & { from?: string } = {},
): ReportedRow {
  const { from, ...rest } = more;
  return {
    paper,
    table: `${from ?? paper}-T1`,
    model: "ResNet-18",
    arch: "resnet18",
    w_bits: 4,
    a_bits: 4,
    method,
    method_printed: method.toUpperCase(),
    origin: method === "a" || method === "b" ? "proposed" : "cited",
    metric: "top1",
    value,
    source: {
      paper: from ?? paper,
      source_id: "S1",
      table: "Table 1",
      row: method,
      column: "ResNet-18",
    },
    verified: true,
    primary: true,
    ...rest,
  };
}

function meta(id: string, short: string): PaperMeta {
  return { id, short } as PaperMeta;
}

/** Paper A: "a > brecq" by 0.37; paper B: its own BRECQ, and A's row borrowed (same source). */
const paperA = {
  meta: meta("pa", "PaperA"),
  cells: cellsOf("pa", [row("pa", "a", 69.06), row("pa", "brecq", 68.69)]),
};
const paperB = {
  meta: meta("pb", "PaperB"),
  cells: cellsOf("pb", [
    row("pb", "b", 70),
    row("pb", "brecq", 67.94, { verified: false }),
    row("pb", "brecq", 68.69, { from: "pa", primary: false }),
  ]),
};
const bench = parseBenchmark({
  id: "bench",
  short: "Bench",
  title: "A benchmark",
  arxiv: "2111.03759",
  venue: "somewhere",
  code: "owner/bench",
  transcription: "test",
  protocol: "its own protocol",
  sources: { B1: { kind: "doc", locator: "a page" } },
  rows: [{
    table: "Benchmark",
    model: "ResNet-18",
    arch: "resnet18",
    w_bits: 4,
    a_bits: 4,
    method: "brecq",
    method_printed: "BRECQ",
    metric: "top1",
    value: 68.52,
    source_id: "B1",
    verified: true,
  }],
}, "test benchmark");

Deno.test("collectBaselines: every printed value of a cell across two tables and a benchmark, once per source", () => {
  const cells = collectBaselines([paperA, paperB], [bench]);
  const brecq = cells.find((c) => c.key === "brecq/resnet18/w4a4/top1")!;
  assertEquals(brecq.values.map((v) => [v.value, v.source, v.kind]), [
    [68.69, "PaperA", "paper"],
    [67.94, "PaperB", "paper"],
    [68.52, "Bench", "benchmark"],
  ]);
  // B's borrowed copy of A's number adds no value, only its name.
  assertEquals(brecq.values[0].alsoIn, ["PaperB"]);
  assertEquals(brecq.values[1].verified, false);
  assertEquals([brecq.spread, brecq.sources, brecq.name], [0.75, 3, "BRECQ"]);
  const a = cells.find((c) => c.key === "a/resnet18/w4a4/top1")!;
  assertEquals([a.values.length, a.spread, a.sources], [1, 0, 1]);
});

Deno.test("claimDrift: a gap smaller than the baseline's spread is flagged, a larger one is not", () => {
  const cells = collectBaselines([paperA, paperB], [bench]);
  const [claimA] = claimsBetween(paperA.cells, "a", "brecq");
  assertEquals(claimA.paperGap.value, 0.37);
  const d = claimDrift(claimA, cells)!;
  assertEquals([d.gap, d.spread, d.flagged], [0.37, 0.75, true]);
  assertEquals(
    driftText(d),
    "BRECQ W4A4 ResNet-18 printed 68.69 (PaperA) · 67.94 (PaperB, unverified) · 68.52 (Bench); " +
      "spread 0.75 > gap 0.37: flagged",
  );
  const [claimB] = claimsBetween(paperB.cells, "b", "brecq");
  const e = claimDrift(claimB, cells)!;
  assertEquals([e.gap, e.flagged], [2.06, false]);
  assert(driftText(e).endsWith("spread 0.75 ≤ gap 2.06"));
  // Printed once: nothing to compare.
  assertEquals(claimDrift({ ...claimA, worse: "a" }, cells), undefined);
  assertEquals(claimDrift(claimA, collectBaselines([paperA], [])), undefined);
});

Deno.test("the repository's tables: MRECG's +0.37 over BRECQ on ResNet-18 W4A4 is flagged", () => {
  const cells = collectBaselines(Object.values(PAPERS), BENCHMARKS);
  const claim = mrecg.claims.find((c) => c.id === "mrecg/resnet18/w4a4/mrecg+brecq>brecq")!;
  const d = claimDrift(claim, cells)!;
  assertEquals(d.baseline.values.map((v) => [v.source, v.value]), [
    ["MRECG", 68.69],
    ["FDDA", 67.94],
    ["MQBench", 68.52],
  ]);
  assertEquals([d.spread, d.gap, d.flagged], [0.75, 0.37, true]);
  // PD-Quant's table borrows MRECG's row: one value, PD-Quant named beside it.
  assertEquals(d.baseline.values[0].alsoIn, ["PD-Quant"]);
});

Deno.test("a paper's report shows the baseline's values beside each claim and counts the flagged ones", () => {
  const baselines = collectBaselines(Object.values(PAPERS), BENCHMARKS);
  const view = buildView(mrecg, [], { generated: GENERATED, baselines });
  const claim = view.claims.find((c) => c.id === "mrecg/resnet18/w4a4/mrecg+brecq>brecq")!;
  assertEquals(claim.drift?.flagged, true);
  const html = renderHtml(view);
  assert(html.includes('data-drift="flagged"'));
  assert(html.includes("spread 0.75 &gt; gap 0.37: flagged"));
  assert(html.includes('href="baselines.html"'));
  // Without baselines the report has no drift lines and no link to the page.
  const plain = renderHtml(buildView(mrecg, [], { generated: GENERATED }));
  assert(!plain.includes("data-drift") && !plain.includes("baselines.html"));
});

Deno.test("the baselines page: one table per cell printed twice, values, sources and ImageNet runs only", () => {
  const records = [
    ...[1, 2].map((seed) =>
      fakeRecord({
        paper: "pdquant",
        cell: "pdquant/resnet18/w4a4/brecq",
        suite: "imagenet-subset",
        recipe: "pdquant/brecq@resnet",
        method: "brecq",
        model: "resnet18_v1",
        w: 4,
        a: 4,
        seed,
        top1: 60 + seed,
        fp32: 70,
        iters: 20000,
      })
    ),
    fakeRecord({
      paper: "pdquant",
      cell: "pdquant/resnet18/w4a4/brecq",
      suite: "proxy",
      recipe: "pdquant/brecq@resnet",
      method: "brecq",
      model: "proxy_resnet",
      w: 4,
      a: 4,
      seed: 1,
      top1: 87.5,
      fp32: 90,
    }),
  ];
  const view = baselinesView(Object.values(PAPERS), BENCHMARKS, records, GENERATED);
  assert(view.cells.every((c) => c.sources >= 2));
  const brecq = view.cells.find((c) => c.key === "brecq/resnet18/w4a4/top1")!;
  assertEquals(brecq.measured.length, 1); // the proxy run is not shown
  const m = brecq.measured[0];
  assertEquals([m.suite, m.model, m.top1.mean, m.top1.n, m.flags], [
    "imagenet-subset",
    "resnet18_v1",
    61.5,
    2,
    [],
  ]);
  const html = renderBaselinesHtml(view);
  assertEquals(html.match(/<table /g)?.length, view.cells.length);
  assert(html.includes('data-baseline="brecq/resnet18/w4a4/top1"'));
  for (
    const s of [
      "67.94",
      "68.69",
      "68.52",
      "MQBench",
      "61.50 ± 0.71 (n=2)",
      "not on the papers' scale",
    ]
  ) {
    assert(html.includes(s), s);
  }
  assert(!html.includes("87.50"));
});
