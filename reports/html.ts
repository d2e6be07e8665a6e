/**
 * View model → one self-contained HTML page: inline CSS, inline SVG, no script, no external URL.
 * Source locators (which may be URLs) are printed as plain text, never as links.
 *
 * @module
 */
import { barChart, dotChart, esc, lineChart, PALETTE } from "./charts.ts";
import { driftText } from "./drift.ts";
import {
  type CellView,
  type ClaimView,
  collapsedBelow,
  MIN_ITERS_SHARE,
  type ReportView,
  type SampleView,
  type SelectionView,
  type Stat,
  type SuiteView,
} from "./view.ts";

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1400px;
padding:16px 24px;color:#1a1a1a}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.meta{color:#555}.small{font-size:12px;color:#555}code{font-size:12px}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border-bottom:1px solid #e5e5e5;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f6f6f6;position:sticky;top:0}td.num{text-align:right;font-variant-numeric:tabular-nums}
tbody.cell{border-top:2px solid #ccc}
.v-agrees,.v-holds{color:#0a6b2c;font-weight:600}.v-differs,.v-does-not-hold{color:#b00020;
font-weight:600}.v-inconclusive,.v-see-claims{color:#8a6d00}.v-not-run,.v-n-a{color:#777}
.cls{display:inline-block;padding:0 5px;border-radius:3px;font-size:12px;background:#eee}
.cls-exact{background:#d7f0dd}.cls-same-arch{background:#e3ecfb}.cls-proxy{background:#f6ecd2}
.unverified{color:#b35c00;font-size:12px}.inferred{color:#6a4fb0;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:12px}
svg.chart{border:1px solid #eee;background:#fff;font-size:11px}
svg .chart-title{font-size:13px;font-weight:600}svg .grid{stroke:#eee}svg .zero{stroke:#999}
details summary{cursor:pointer;color:#0057a8}ul.tight{margin:4px 0;padding-left:20px}
.warn{background:#fff4e5;border-left:4px solid #e69f00;padding:6px 10px}
.samples{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0}.samples figure{margin:0;text-align:center}
.samples img{width:56px;height:56px;image-rendering:pixelated;border:1px solid #ddd;margin:1px}
.samples figcaption{font-size:11px;color:#555;max-width:120px}
.drift{max-width:320px}.drift-flagged{color:#b35c00}
`;

function num(v: number | undefined, digits = 2): string {
  return v === undefined ? "—" : v.toFixed(digits);
}

function statText(s: Stat | undefined): string {
  if (!s) return "—";
  const sd = s.n > 1 ? ` ± ${s.std.toFixed(2)}` : "";
  return `${s.mean.toFixed(2)}${sd} <span class="small">(n=${s.n})</span>`;
}

function signed(v: number | undefined): string {
  if (v === undefined) return "—";
  return (v > 0 ? "+" : "") + v.toFixed(2);
}

function verdictClass(v: string): string {
  return `v-${v.replace(/[^a-z]+/gi, "-").toLowerCase()}`;
}

function paperCell(c: CellView): string {
  const p = c.paper;
  const flags = [
    p.verified ? "" : `<span class="unverified">unverified source</span>`,
    p.inferred ? `<span class="inferred" title="${esc(p.inferred)}">inferred</span>` : "",
  ].filter(Boolean).join(" ");
  const alts = c.alternates.map((a) =>
    `<div class="small">${esc(a.version ?? "other")}: ${a.value.toFixed(2)}${
      a.verified ? "" : ` <span class="unverified">unverified</span>`
    } <span title="${esc(a.source)}">[${esc(a.source.split(" · ")[0])}]</span>${
      a.versionNote ? ` — ${esc(a.versionNote)}` : ""
    }</div>`
  ).join("");
  return `<td class="num paper-value">${p.value.toFixed(2)} ${flags}${alts}</td>` +
    `<td class="num">${num(p.fp32)}</td><td class="num">${num(p.drop)}</td>` +
    // The source's id only (the whole citation on hover and in the Sources section).
    `<td class="small"><span title="${esc(p.source)}">${esc(p.source.split(" · ")[0])}</span>${
      p.version ? `<br>${esc(p.version)}` : ""
    }${
      p.inferred ? ` <span class="inferred" title="${esc(p.inferred)}">inferred</span>` : ""
    }</td>`;
}

function runsDetails(s: SuiteView): string {
  if (!s.runs.length) return "";
  const items = s.runs.map((r) =>
    `<li><code>${esc(r.key)}</code> · commit ${esc(r.commit)} · seed ${r.seed} · started ${
      esc(r.started)
    } · ${num(r.value)} · ${esc(r.backend)}</li>`
  ).join("");
  return `<details><summary>${s.runs.length} run(s)</summary><ul class="tight">${items}</ul>` +
    `</details>`;
}

function suiteCells(s: SuiteView): string {
  const attrs = `data-suite="${s.suite}" data-status="${s.status}" data-verdict="${s.verdict}"` +
    (s.cls ? ` data-class="${s.cls}"` : "");
  const cls = s.cls ? `<span class="cls cls-${s.cls}">${s.cls}</span>` : "";
  const verdict = `<span class="${verdictClass(s.verdict)}">${esc(s.verdict)}</span>`;
  if (s.status !== "measured") {
    return `<td ${attrs}>${esc(s.suite)}</td><td colspan="5" class="small">${esc(s.reason ?? "")}${
      s.how ? `<br>how: ${esc(s.how)}` : ""
    }${s.stale ? `<br>${s.stale} record(s) of an older recipe version left out` : ""}</td>` +
      `<td>${cls}</td><td>${verdict}</td>`;
  }
  const deltaTitle = s.cls === "exact"
    ? "measured − paper"
    : s.cls === "same-arch"
    ? "drop measured − drop paper"
    : "";
  return `<td ${attrs}>${esc(s.suite)}<div class="small">${esc(s.model ?? "")} · ${
    esc(s.budget ?? "")
  }</div></td>` +
    `<td class="num measured">${statText(s.measured)}${
      s.exported ? `<div class="small">QDQ onnxruntime: ${statText(s.exported)}</div>` : ""
    }</td>` +
    `<td class="num">${statText(s.fp32)}</td><td class="num">${statText(s.drop)}</td>` +
    `<td class="num" title="${deltaTitle}">${signed(s.delta)}${
      s.tolerance !== undefined ? `<div class="small">tol ±${s.tolerance}</div>` : ""
    }</td><td>${runsDetails(s)}</td><td>${cls}</td><td>${verdict}</td>`;
}

/** The suites where a cell was not measured, in one compact row: each suite's reason and how. */
function notMeasuredCells(ss: SuiteView[]): string {
  const attrs = `data-suite="${ss.map((s) => s.suite).join(" ")}" data-status="${ss[0].status}" ` +
    `data-verdict="${ss[0].verdict}"`;
  const lines = ss.map((s) =>
    `<b>${esc(s.suite)}</b>: ${esc(s.reason ?? "")}${s.how ? ` — ${esc(s.how)}` : ""}${
      s.stale ? ` (${s.stale} record(s) of an older recipe version left out)` : ""
    }`
  );
  return `<td ${attrs}>${ss.map((s) => esc(s.suite)).join(", ")}</td><td colspan="5" ` +
    `class="small"><details><summary>${
      ss.map((s) => `${esc(s.suite)}: ${esc(s.status)}`).join(" · ")
    } (why, and how to run)</summary>${
      lines.join("<br>")
    }</details></td><td></td><td><span class="${verdictClass(ss[0].verdict)}">${
      esc(ss[0].verdict)
    }</span></td>`;
}

function cellRows(c: CellView): string {
  const head =
    `<td rowspan="__ROWSPAN__">${esc(c.model)}<div class="small">${esc(c.arch)}</div></td>` +
    `<td rowspan="__ROWSPAN__">${esc(c.bits)}</td><td rowspan="__ROWSPAN__">${
      esc(c.methodPrinted)
    }` +
    `<div class="small">${esc(c.method)} · ${esc(c.origin)}</div></td>`;
  const allNA = c.suites.every((s) => s.status === "n/a");
  const paper = paperCell(c).replace(/<td/g, `<td rowspan="__ROWSPAN__"`);
  // Measured suites a row each; the suites without a measurement share one compact row.
  const measured = c.suites.filter((s) => s.status === "measured");
  const others = c.suites.filter((s) => s.status !== "measured");
  const inners = allNA
    ? [
      `<td data-suite="all" data-status="n/a" data-verdict="n/a">—</td><td colspan="5" ` +
      `class="small">${esc(c.suites[0].reason ?? "")}</td><td></td><td><span class="v-n-a">` +
      `not reproduced</span></td>`,
    ]
    : [...measured.map(suiteCells), ...(others.length ? [notMeasuredCells(others)] : [])];
  const rows = inners.map((inner, i) => `<tr>${i === 0 ? head + paper : ""}${inner}</tr>`)
    .join("");
  return `<tbody class="cell" data-cell="${esc(c.id)}">${
    rows.replaceAll("__ROWSPAN__", String(inners.length))
  }</tbody>`;
}

function claimRows(c: ClaimView): string {
  const pg = `${signed(c.paperGap.value)}${
    c.paperGap.verified ? "" : ` <span class="unverified">unverified</span>`
  }<div class="small">${esc(c.paperGap.basis)}</div>`;
  const text = `${esc(c.text)}${driftLine(c)}`;
  if (!c.checks.length) {
    return `<tr data-claim="${esc(c.id)}" data-verdict="not run"><td>${text}</td>` +
      `<td class="num">${pg}</td><td colspan="4" class="small">no suite has both runs yet</td>` +
      `<td><span class="v-not-run">not run</span></td></tr>`;
  }
  return c.checks.map((k, i) =>
    `<tr data-claim="${esc(c.id)}" data-suite="${k.suite}" data-verdict="${k.verdict}">` +
    (i === 0
      ? `<td rowspan="${c.checks.length}">${text}</td><td rowspan="${c.checks.length}" ` +
        `class="num">${pg}</td>`
      : "") +
    `<td>${esc(k.suite)} <span class="cls cls-${k.cls}">${k.cls}</span>${
      k.shared ? `<div class="small">run shared with another architecture's claim</div>` : ""
    }${k.budget ? `<div class="small">budget ${esc(k.budget)}</div>` : ""}</td><td class="num">${
      statText(k.better)
    }</td><td class="num">${statText(k.worse)}</td>` +
    `<td class="num">${signed(k.gap)}<div class="small">band ±${k.band}</div></td>` +
    `<td><span class="${verdictClass(k.verdict)}">${k.verdict}</span>${
      k.why ? `<div class="small">${esc(k.why)}</div>` : ""
    }<div class="small">${powerText(k.power)}</div></td></tr>`
  ).join("");
}

/** "Baseline drift: 3 of 12 claims …" (empty where no claim's baseline is printed twice). */
function driftSummary(view: ReportView): string {
  const shown = view.claims.filter((c) => c.drift);
  if (!shown.length) return "";
  const flagged = shown.filter((c) => c.drift!.flagged).length;
  return ` Baseline drift: ${shown.length} claims' baselines are printed more than once across ` +
    `the papers' tables and benchmarks; ${flagged} claim a gain smaller than the spread of those ` +
    `values (flagged under the claim; all values: ` +
    `<a href="baselines.html">baselines across papers</a>).`;
}

/** The worse side's baseline across papers and benchmarks, one small line (flagged in colour). */
function driftLine(c: ClaimView): string {
  if (!c.drift) return "";
  return `<div class="small drift${c.drift.flagged ? " drift-flagged" : ""}" data-drift="${
    c.drift.flagged ? "flagged" : "ok"
  }">${esc(driftText(c.drift))}</div>`;
}

/** "power 35 % (80 % needs 6 seeds a side)": a claim check's power against the paper's gap. */
function powerText(p: ClaimView["checks"][number]["power"]): string {
  const need = p.seedsFor80 === null
    ? "; seed spread unknown with one seed a side"
    : p.value >= 0.8
    ? ""
    : `; 80 % needs ${p.seedsFor80} seeds a side`;
  return `power ${Math.round(p.value * 100)} % against the paper's gap${need}`;
}

const SUITE_PREF = ["imagenet", "imagenet-subset", "proxy"] as const;

function charts(view: ReportView): string {
  const out: string[] = [];
  const archs = [...new Set(view.cells.map((c) => c.arch))];
  const proposed = [
    ...new Set(view.cells.filter((c) => c.origin === "proposed").map((c) => c.method)),
  ];
  for (const arch of archs) {
    const cs = view.cells.filter((c) => c.arch === arch);
    const model = cs.find((c) => c.origin === "proposed")?.model ?? cs[0].model;
    const bits = [...new Set(cs.map((c) => c.bits))];
    const series: Parameters<typeof dotChart>[0]["series"] = [];
    for (const m of proposed) {
      const mc = cs.filter((c) => c.method === m);
      if (!mc.length) continue;
      const at = (b: string) => mc.find((c) => c.bits === b);
      series.push({
        name: `${m} · paper`,
        points: bits.map((b) => {
          const c = at(b);
          return c ? { value: c.paper.value } : undefined;
        }),
      });
      for (const suite of SUITE_PREF) {
        const pts = bits.map((b) => {
          const s = at(b)?.suites.find((x) => x.suite === suite && x.measured);
          return s?.measured
            ? { value: s.measured.mean, err: s.measured.std, label: `n=${s.measured.n}` }
            : undefined;
        });
        if (pts.some(Boolean)) series.push({ name: `${m} · ${suite}`, points: pts, hollow: true });
      }
    }
    if (series.length) {
      out.push(dotChart({
        title: `${model}: paper vs measured top-1 per bit-width`,
        categories: bits,
        series,
        yLabel: "top-1 (%)",
        yDomain: [0, 100],
      }));
    }
    // Methods ptq-bench runs (cited-only baselines would crowd the chart; they stay in the table).
    const methods = [
      ...new Set(
        cs.filter((c) => c.paper.drop !== undefined && c.suites.some((s) => s.status !== "n/a"))
          .map((c) => c.method),
      ),
    ];
    if (methods.length) {
      const barSeries: Parameters<typeof barChart>[0]["series"] = [];
      const faded: boolean[] = [];
      const colors: string[] = [];
      methods.forEach((m, i) => {
        const at = (b: string) => cs.find((c) => c.method === m && c.bits === b);
        barSeries.push({ name: `${m} · paper`, values: bits.map((b) => at(b)?.paper.drop) });
        faded.push(false);
        colors.push(PALETTE[i % PALETTE.length]);
        const best = SUITE_PREF.find((suite) =>
          bits.some((b) => at(b)?.suites.find((s) => s.suite === suite)?.drop)
        );
        if (best) {
          const ds = bits.map((b) => at(b)?.suites.find((s) => s.suite === best)?.drop);
          barSeries.push({
            name: `${m} · ${best}`,
            values: ds.map((d) => d?.mean),
            err: ds.map((d) => d?.std),
          });
          faded.push(true);
          colors.push(PALETTE[i % PALETTE.length]);
        }
      });
      out.push(barChart({
        title: `${model}: drop from FP32 per method`,
        categories: bits,
        series: barSeries,
        yLabel: "FP32 − quantized (pts)",
        faded,
        colors,
      }));
    }
  }
  return out.join("\n");
}

/**
 * Render a report view as one self-contained HTML page.
 *
 * @example
 * ```ts
 * import { buildView, renderHtml } from "./mod.ts";
 * import { pdquant } from "../papers/mod.ts";
 * const html = renderHtml(buildView(pdquant, [], { generated: "2024-01-01T00:00:00Z" }));
 * console.log(html.includes("<svg")); // true
 * ```
 */
function epochsText(es: readonly number[]): string {
  return es.length ? [...new Set(es)].join(", ") : "—";
}

function selectionRows(v: SelectionView): string {
  return `<tr data-cell="${esc(v.cell)}" data-suite="${esc(v.suite)}"><td>${esc(v.model)}</td>` +
    `<td>${esc(v.bits)}</td><td>${esc(v.method)}</td><td>${esc(v.suite)}</td><td>${
      esc(v.budget ?? "—")
    }</td><td class="num">${num(v.paper)}</td><td class="num official">${
      statText(v.official)
    }</td><td class="num">${epochsText(v.officialEpochs)}</td><td class="num test-free">${
      statText(v.testFree)
    }</td><td class="num">${epochsText(v.testFreeEpochs)}</td><td class="num">${
      signed(v.gap)
    }</td><td class="num">${v.evaluated}</td></tr>`;
}

function selectionSection(view: ReportView): string {
  if (!view.selections.length) return "";
  const rule = view.selections.find((v) => v.officialRule)?.officialRule;
  return `<h2>Selection protocols</h2>
<p class="small">Epoch-based runs record two accuracies. <b>Official</b>: the best test top-1 over
the evaluated epochs, as the paper's code reports it — this <b>selects on the test set</b>${
    rule ? ` (${esc(rule)})` : ""
  }. <b>Test-free</b>: ${
    esc(view.selections[0].testFreeRule)
  } — the returned model, and the value the cells and claims use. Mean ± sd over seeds; Δ =
official − test-free.</p>
<table id="selection"><thead><tr><th>model</th><th>W/A</th><th>method</th><th>suite</th>
<th>budget</th><th>paper</th><th>official (best epoch, selects on test)</th><th>epoch</th>
<th>test-free (last epoch)</th><th>epoch</th><th>Δ</th><th>epochs evaluated</th></tr></thead>
<tbody>${view.selections.map(selectionRows).join("")}</tbody></table>`;
}

function sampleGrid(s: SampleView, open: boolean): string {
  const figs = s.classes.map((c) =>
    `<figure data-label="${c.label}">${
      c.images.map((src) => `<img src="${esc(src)}" alt="${esc(c.name)}">`).join("")
    }<figcaption>${esc(c.name)}</figcaption></figure>`
  ).join("");
  return `<details class="sample-run"${open ? " open" : ""}><summary>${esc(s.title)}</summary>` +
    `<div class="samples">${figs}</div><p class="small">${esc(s.note)}. Run <code>${
      esc(s.run)
    }</code>.</p></details>`;
}

function samplesSection(view: ReportView): string {
  if (!view.samples.length) return "";
  return `<h2>Synthetic images per class</h2>
<p class="small">What the generator made at the end of each run, per class (the class names are
the dataset's labels); each image is stretched to its own range for display.</p>
<div id="samples">${view.samples.map((s, i) => sampleGrid(s, i === 0)).join("\n")}</div>`;
}

export function renderHtml(view: ReportView): string {
  const p = view.paper;
  const t = view.tolerances;
  const s = view.summary;
  const warnings = view.warnings.length
    ? `<div class="warn"><b>Warnings</b><ul class="tight">${
      view.warnings.map((w) => `<li>${esc(w)}</li>`).join("")
    }</ul></div>`
    : "";
  const unitCharts = view.unitLosses.map((g) =>
    lineChart({
      title: `reconstruction loss per unit · ${g.title}`,
      x: g.units,
      series: g.series,
      yLabel: "loss",
      log: true,
    })
  ).join("\n");
  const curveCharts = view.budgetCurves.map((c) =>
    lineChart({
      title: `top-1 by it/unit · ${c.title}`,
      x: c.iters,
      series: c.series,
      yLabel: "top-1 %",
    })
  ).join("\n");
  const runs = view.runs.map((r) =>
    `<tr><td><code>${esc(r.key)}</code></td><td>${esc(r.commit)}</td><td class="num">${r.seed}` +
    `</td><td>${esc(r.started)}</td><td class="num">${r.wall_s.toFixed(1)}</td><td>${
      esc(r.backend)
    }</td><td><code>${esc(r.sha256.slice(0, 12))}</code></td><td class="num">${num(r.value)}` +
    `</td><td class="small">${r.notes.map(esc).join("<br>")}</td></tr>`
  ).join("");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(p.short)}: measured vs reported · ptq-bench</title>
<style>${CSS}</style></head>
<body data-paper="${esc(p.id)}">
<h1>${esc(p.title)}</h1>
<div class="meta">${esc(p.authors)} · ${esc(p.venue)} · arXiv ${esc(p.arxiv)}</div>
<div class="small">official code: ${p.code.map(esc).join("; ")} · generated ${
    esc(view.generated)
  } by ptq-bench</div>
${warnings}
<nav id="toc" class="small">Contents: <a href="#summary">summary</a> · <a href="#claims-h">claims</a>
· <a href="#cells-h">reported cells</a>${
    view.selections.length ? ` · <a href="#selection">selection protocols</a>` : ""
  }${
    view.claims.some((c) => c.drift)
      ? ` · <a href="baselines.html">baselines across papers</a>`
      : ""
  }
· <a href="#rules-h">how numbers are compared</a> · <a href="#charts-h">charts</a> · <a href="#runs-h">runs
(${view.runs.length})</a> · <a href="#deviations-h">deviations</a> · <a href="#sources-h">sources</a></nav>
<h2>Summary</h2>
<p id="summary">${s.cells} reported cells; ${s.measured} measured in at least one suite;
${s.agrees} suite comparisons agree and ${s.differs} differ within the tolerances below.
Claims: ${s.claims.holds} hold, ${s.claims.not} do not hold, ${s.claims.inconclusive}
inconclusive, ${s.claims.unchecked} without a verdict (not run, budgets differ, under budget or
collapsed).${driftSummary(view)}</p>
<h2 id="claims-h">Claims</h2>
<table id="claims"><thead><tr><th>claim</th><th>paper gap</th><th>suite</th><th>better</th>
<th>worse</th><th>measured gap</th><th>verdict</th></tr></thead>
<tbody>${view.claims.map(claimRows).join("")}</tbody></table>
<h2 id="cells-h">Reported cells</h2>
<table id="cells"><thead><tr><th>model</th><th>W/A</th><th>method</th><th>paper</th>
<th>FP32</th><th>drop</th><th>source</th><th>suite</th><th>measured</th><th>FP32 measured</th>
<th>drop measured</th><th>Δ</th><th>runs</th><th>class</th><th>verdict</th></tr></thead>
${view.cells.map(cellRows).join("\n")}
</table>
${selectionSection(view)}
${samplesSection(view)}
<h2 id="rules-h">How numbers are compared</h2>
<details><summary>the verdict rules and tolerances</summary>

<ul class="tight" id="tolerances">
<li><span class="cls cls-exact">exact</span> the paper's checkpoint on the full ImageNet val set
(suite <code>imagenet</code>): agrees when |measured − paper| ≤ ${t.exact} pt.</li>
<li><span class="cls cls-same-arch">same-arch</span> the same architecture with another checkpoint
or on the 1,300-image val subset (suite <code>imagenet-subset</code>): compares the drop from each
side's own FP32; agrees when |drop<sub>measured</sub> − drop<sub>paper</sub>| ≤ ${t.sameArch}
pt.</li>
<li><span class="cls cls-proxy">proxy</span> small models on Fashion-MNIST (suite
<code>proxy</code>): no per-cell verdict; the paper's claims (method orderings) are checked. A
claim holds when the measured gap exceeds a noise band of max(${t.proxyNoise} pt, 2 × the
standard error of the gap), does not hold when it is below minus that band, and is inconclusive
in between. The standard error combines the seed-to-seed spread and the sampling error of each
accuracy on its evaluation images (√(p(1−p)/n)), so single-seed runs on a few hundred images get a
wide band. Each check states its power: the chance it would say <em>holds</em> if the true gap
were the paper's printed one (normal approximation with the check's standard error), and the seeds
per side that would give 80 % at the measured spread.</li>
<li>Measured values are the mean ± sample standard deviation over seeds (n runs) of the largest
budget recorded (paper &gt; quick &gt; custom &gt; smoke; among custom budgets, the most iterations
per unit); a claim is checked only where both sides ran under the same budget. Paper values are percent top-1 as printed.</li>
<li>No verdict rests on a run that barely started or collapsed: a claim check says
<em>under budget</em> when either side ran fewer than ${
    Math.round(100 * MIN_ITERS_SHARE)
  } % of the paper's iterations per unit (the smoke budget's 20 of 20,000 is 0.1 %), and
<em>collapsed</em> when either side's top-1 is not clearly above chance (at or below chance +
max(chance, 5 pt): ${collapsedBelow("proxy")} % on the 10-class proxies, ${
    collapsedBelow("imagenet").toFixed(1)
  } % on ImageNet).</li>
</ul>
</details>
<h2 id="charts-h">Charts</h2>
<details><summary>paper vs measured per architecture, reconstruction losses, accuracy against the budget</summary>

<div class="charts">${charts(view)}</div>
${
    unitCharts
      ? `<h2>Reconstruction loss along the network</h2><div class="charts">${unitCharts}</div>`
      : ""
  }
${
    curveCharts
      ? `<h2>Accuracy against the budget</h2><p class="small">Cells run at several iteration
counts per unit with the recipe's own settings (mean over seeds; the x axis is categorical). The
cells table shows the largest budget; every run drawn here is in the runs table.</p>
<div class="charts" id="budget-curves">${curveCharts}</div>`
      : ""
  }
</details>
<h2 id="runs-h">Runs</h2>
<details><summary>${view.runs.length} run(s): key, commit, seed, time, notes</summary>

<table id="runs"><thead><tr><th>run key</th><th>commit</th><th>seed</th><th>started</th>
<th>wall s</th><th>backend</th><th>model sha256</th><th>value</th><th>notes</th></tr></thead>
<tbody>${runs || `<tr><td colspan="9">no runs recorded yet</td></tr>`}</tbody></table>
</details>
<h2 id="deviations-h">Deviations from the papers</h2>
<details><summary>${
    view.deviations.reduce((n, d) => n + d.items.length, 0)
  } deviation(s), by scope</summary>

${
    view.deviations.map((d) =>
      `<h3 class="small">${esc(d.scope)}</h3><ul class="tight">${
        d.items.map((i) => `<li>${esc(i)}</li>`).join("")
      }</ul>`
    ).join("")
  }
</details>
<h2 id="sources-h">Sources</h2>
<details><summary>where every paper number comes from</summary>

<p class="small">${esc(p.transcription)}</p>
<ul class="tight" id="sources">${
    view.sources.map((src) =>
      `<li><b>${esc(src.id)}</b> ${esc(src.kind)}: ${esc(src.locator)}${
        src.note ? ` — ${esc(src.note)}` : ""
      }</li>`
    ).join("")
  }</ul>
<h3 class="small">Not found in any source</h3>
<ul class="tight">${p.notFound.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>
<h3 class="small">Secondary-source facts (unverified)</h3>
<ul class="tight">${p.secondary.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>
</details>
</body></html>
`;
}
