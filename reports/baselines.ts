/**
 * The cross-paper baselines page (`<out>/baselines.html`): one table per baseline cell (method ×
 * architecture × W/A bits) that at least two sources print, with every printed value and its
 * source, and ptq-bench's own measurement where a record of a real ImageNet suite exists.
 *
 * Only the `imagenet` and `imagenet-subset` suites are shown: `proxy` runs are Fashion-MNIST
 * stand-ins whose top-1 is not on the papers' scale. An `imagenet-subset` run is the same
 * architecture with another checkpoint on 1,300 val images, so its FP32 is shown beside it.
 *
 * @example
 * ```ts
 * import { baselinesView, renderBaselinesHtml } from "./baselines.ts";
 * import { BENCHMARKS, PAPERS } from "../papers/mod.ts";
 * const view = baselinesView(Object.values(PAPERS), BENCHMARKS, [], "2024-01-01T00:00:00Z");
 * console.log(renderBaselinesHtml(view).includes("BRECQ W4A4 ResNet-18")); // true
 * ```
 *
 * @module
 */
import type { Benchmark, Paper, ResultRecord, Suite } from "../papers/mod.ts";
import { esc } from "./charts.ts";
import { type BaselineCell, baselineKey, collectBaselines, type DriftPaper } from "./drift.ts";
import { budgetLabel, collapsedBelow, MIN_ITERS_SHARE, type Stat, stat } from "./view.ts";

/** The suites whose top-1 is on the papers' scale (ImageNet val). */
export const COMPARABLE_SUITES: readonly Suite[] = ["imagenet", "imagenet-subset"];

/** ptq-bench's runs of one baseline cell in one suite, model and budget. */
export interface MeasuredBaseline {
  suite: Suite;
  model: string;
  budget: string;
  top1: Stat;
  fp32: Stat;
  /** Iterations per unit as a share of the paper's (undefined where the recipe is unknown). */
  itersShare?: number;
  /** Why the number says little: "collapsed", "under budget" (empty when neither). */
  flags: string[];
  /** The records' papers (the cell may be run under several papers' recipes). */
  papers: string[];
}

/** One baseline cell of the page. */
export interface BaselineRow extends BaselineCell {
  measured: MeasuredBaseline[];
}

/** The page. */
export interface BaselinesView {
  generated: string;
  cells: BaselineRow[];
  benchmarks: {
    short: string;
    title: string;
    arxiv: string;
    venue: string;
    code: string;
    protocol: string;
  }[];
  papers: string[];
}

/** What the page needs of a paper: its table and its recipes (for the budget share). */
export type BaselinesPaper = DriftPaper & Pick<Paper, "recipes">;

/**
 * Build the page's view (pure): the baseline cells printed by at least `minSources` sources,
 * and the records of the comparable suites that ran them.
 */
export function baselinesView(
  papers: readonly BaselinesPaper[],
  benchmarks: readonly Benchmark[],
  records: readonly ResultRecord[],
  generated: string,
  minSources = 2,
): BaselinesView {
  const cells = collectBaselines(papers, benchmarks).filter((b) => b.sources >= minSources);
  const itersOfRecipe = new Map<string, number>();
  for (const p of papers) {
    for (const r of p.recipes) itersOfRecipe.set(r.id, r.fixed.iters_per_unit);
  }
  const groups = new Map<string, ResultRecord[]>();
  for (const r of records) {
    if (!COMPARABLE_SUITES.includes(r.suite) || r.metrics.top1 === undefined) continue;
    const [, arch, , method] = r.cell.split("/");
    if (!arch || !method) continue;
    const key = `${baselineKey(method, arch, r.bits.w, r.bits.a)}|${r.suite}|${r.model.name}|${
      budgetLabel(r)
    }`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const rows: BaselineRow[] = cells.map((cell) => {
    const measured: MeasuredBaseline[] = [];
    for (const [key, rs] of groups) {
      if (key.split("|")[0] !== cell.key) continue;
      const r0 = rs[0];
      const top1 = stat(rs.map((r) => r.metrics.top1!))!;
      const fp32 = stat(rs.flatMap((r) => r.fp32.top1 ?? []));
      const paperIters = itersOfRecipe.get(r0.recipe.id);
      const iters = Number((r0.config.recipe as Record<string, unknown> | undefined)?.iters);
      const itersShare = paperIters && Number.isFinite(iters) ? iters / paperIters : undefined;
      const flags: string[] = [];
      if (top1.mean <= collapsedBelow(r0.suite)) flags.push("collapsed");
      if (itersShare !== undefined && itersShare < MIN_ITERS_SHARE) flags.push("under budget");
      measured.push({
        suite: r0.suite,
        model: r0.model.name,
        budget: budgetLabel(r0),
        top1,
        fp32: fp32 ?? top1,
        itersShare,
        flags,
        papers: [...new Set(rs.map((r) => r.paper))],
      });
    }
    return { ...cell, measured };
  });
  return {
    generated,
    cells: rows,
    benchmarks: benchmarks.map((b) => ({
      short: b.short,
      title: b.title,
      arxiv: b.arxiv,
      venue: b.venue,
      code: b.code,
      protocol: b.protocol,
    })),
    papers: papers.map((p) => p.meta.short),
  };
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1400px;
padding:16px 24px;color:#1a1a1a}h1{font-size:22px;margin:0 0 4px}
.small{font-size:12px;color:#555}.grid{display:grid;grid-template-columns:repeat(auto-fill,
minmax(430px,1fr));gap:8px 20px}table{border-collapse:collapse;width:100%;margin:4px 0}
caption{text-align:left;font-weight:600;padding:2px 0}
th,td{border-bottom:1px solid #e5e5e5;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f6f6f6;white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums;
white-space:nowrap}
tr.measured td{background:#f3f8ff}.flag{color:#b00020}.unverified{color:#b35c00}
`;

function pct(x: number): string {
  const p = 100 * x;
  return `${p < 1 ? p.toFixed(1) : Math.round(p * 10) / 10} %`;
}

function statText(s: Stat): string {
  return `${s.mean.toFixed(2)}${s.n > 1 ? ` ± ${s.std.toFixed(2)}` : ""} (n=${s.n})`;
}

function cellTable(c: BaselineRow): string {
  const printed = c.values.map((v) =>
    `<tr><td class="num">${v.value.toFixed(2)}</td><td>${esc(v.source)}${
      v.kind === "benchmark" ? " (benchmark)" : ""
    }${v.verified ? "" : ` <span class="unverified">unverified</span>`}</td><td class="small">${
      esc(v.table)
    } · “${esc(v.printed)}”${
      v.alsoIn.length ? ` · also in ${esc(v.alsoIn.join(", "))}'s table` : ""
    }</td></tr>`
  ).join("");
  const measured = c.measured.map((m) =>
    `<tr class="measured"><td class="num">${statText(m.top1)}</td><td>ptq-bench · ${
      esc(m.suite)
    }</td><td class="small">${esc(m.model)} (FP32 ${m.fp32.mean.toFixed(2)}) · budget ${
      esc(m.budget)
    }${m.itersShare === undefined ? "" : ` (${pct(m.itersShare)} of the paper's it/unit)`}${
      m.flags.length ? ` · <span class="flag">${esc(m.flags.join(", "))}</span>` : ""
    }</td></tr>`
  ).join("");
  return `<table data-baseline="${esc(c.key)}"><caption>${esc(c.name)} W${c.w}A${c.a} ${
    esc(c.model)
  } <span class="small">spread ${c.spread.toFixed(2)} pt over ${c.values.length} values</span>` +
    `</caption><thead><tr><th>top-1 %</th><th>printed by</th><th>where</th></tr></thead>` +
    `<tbody>${printed}${measured}</tbody></table>`;
}

/** The page as self-contained HTML (inline CSS, no script, no external URL). */
export function renderBaselinesHtml(view: BaselinesView): string {
  const bench = view.benchmarks.map((b) =>
    `${esc(b.short)} (${esc(b.title)}, ${esc(b.venue)}, arXiv ${esc(b.arxiv)}, github ${
      esc(b.code)
    }): ${esc(b.protocol)}`
  ).join("; ");
  const measuredCells = view.cells.filter((c) => c.measured.length).length;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Baselines across papers · ptq-bench</title>
<style>${CSS}</style></head>
<body data-page="baselines">
<h1>Baselines across papers</h1>
<div class="small">generated ${esc(view.generated)} by ptq-bench · the papers' reports:
${view.papers.map(esc).join(", ")}</div>
<p id="about">The same baseline cell (method × architecture × W/A bits, ImageNet top-1) as each
paper's table and each independent benchmark prints it: ${view.cells.length} cells printed by at
least two sources. A number is listed once per source, table and value (a paper that borrows
another's table adds no value of its own). The spread (max − min) is how far the baseline moves
between sources; each paper's report flags a claim whose gain over the baseline is smaller than
it. Benchmarks: ${bench}.</p>
<p id="measured-note" class="small">Blue rows: ptq-bench's own runs of the cell (${measuredCells}
cells), from the <code>imagenet</code> suite (the paper's checkpoint, full val set) and the
<code>imagenet-subset</code> suite (another checkpoint of the architecture on 1,300 val images; its
FP32 is given, compare drops, not top-1). <code>proxy</code> runs (Fashion-MNIST stand-ins) are
not on the papers' scale and are not shown. A run is marked <em>collapsed</em> at or below
${collapsedBelow("imagenet").toFixed(1)} % top-1 and <em>under budget</em> under ${
    Math.round(100 * MIN_ITERS_SHARE)
  } % of the paper's iterations per unit.</p>
<div class="grid">${view.cells.map(cellTable).join("\n")}</div>
</body></html>
`;
}
