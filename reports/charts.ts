/**
 * Server-side SVG charts built with d3's scales and shapes (no DOM, no script in the page):
 * a dot chart with error bars, a grouped bar chart, and a generic line chart.
 *
 * Every mark carries a `<title>` so the browser shows its exact value on hover.
 *
 * @example
 * ```ts
 * import { lineChart } from "./charts.ts";
 * const svg = lineChart({
 *   title: "loss per unit", x: ["u1", "u2"], yLabel: "loss",
 *   series: [{ name: "brecq", values: [1, 2] }],
 * });
 * console.log(svg.startsWith("<svg")); // true
 * ```
 *
 * @module
 */
// @ts-types="@types/d3-scale"
import { scaleBand, scaleLinear, scaleLog, scalePoint } from "d3-scale";
// @ts-types="@types/d3-shape"
import { line } from "d3-shape";

/** Escape text for HTML/SVG. */
export function esc(s: string | number): string {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/** A colour-blind-safe palette (Okabe–Ito), cycled. */
export const PALETTE = [
  "#0072B2",
  "#D55E00",
  "#009E73",
  "#CC79A7",
  "#E69F00",
  "#56B4E9",
  "#999999",
  "#000000",
];

function fmt(v: number): string {
  return Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v * 100) / 100) : (
    Math.abs(v) < 0.01 && v !== 0 ? v.toExponential(1) : v.toFixed(2)
  );
}

const W = 560;
const H = 260;
const M = { top: 28, right: 150, bottom: 36, left: 48 };

function frame(title: string, body: string, yLabel: string, height = H): string {
  return `<svg class="chart" width="${W}" height="${height}" ` +
    `viewBox="0 0 ${W} ${height}" role="img" aria-label="${esc(title)}">` +
    `<text x="${M.left}" y="16" class="chart-title">${esc(title)}</text>` +
    `<text transform="translate(12,${M.top + (height - M.top - M.bottom) / 2}) rotate(-90)" ` +
    `text-anchor="middle" class="axis-label">${esc(yLabel)}</text>${body}</svg>`;
}

function yAxis(y: (v: number) => number, ticks: number[], x0: number, x1: number): string {
  return ticks.map((t) =>
    `<g class="tick"><line x1="${x0}" x2="${x1}" y1="${y(t)}" y2="${y(t)}" class="grid"/>` +
    `<text x="${x0 - 4}" y="${y(t) + 3}" text-anchor="end">${esc(fmt(t))}</text></g>`
  ).join("");
}

function legend(names: string[], colors: string[], x: number, y: number, dashed?: boolean[]) {
  return names.map((n, i) =>
    `<g class="legend" transform="translate(${x},${y + i * 16})">` +
    `<rect width="10" height="10" fill="${colors[i]}"${
      dashed?.[i] ? ` fill-opacity="0.35" stroke="${colors[i]}"` : ""
    }/><text x="14" y="9">${esc(n)}</text></g>`
  ).join("");
}

/** One series of a dot chart: a value (and optional ± error) per category. */
export interface DotSeries {
  name: string;
  points: ({ value: number; err?: number; label?: string } | undefined)[];
  hollow?: boolean;
}

/** Dots (with ± error bars) per category for several series, e.g. paper vs measured. */
export function dotChart(opts: {
  title: string;
  categories: string[];
  series: DotSeries[];
  yLabel: string;
  yDomain?: [number, number];
}): string {
  const x = scalePoint<string>().domain(opts.categories).range([M.left + 20, W - M.right - 20]);
  const all = opts.series.flatMap((s) => s.points.flatMap((p) => p ? [p.value] : []));
  const y = scaleLinear()
    .domain(opts.yDomain ?? [0, Math.max(1, ...all)])
    .nice()
    .range([H - M.bottom, M.top]);
  const offset = (i: number) => (i - (opts.series.length - 1) / 2) * 7;
  const marks = opts.series.map((s, i) => {
    const c = PALETTE[i % PALETTE.length];
    return s.points.map((p, j) => {
      if (!p) return "";
      const cx = x(opts.categories[j])! + offset(i);
      const cy = y(p.value);
      const bar = p.err
        ? `<line x1="${cx}" x2="${cx}" y1="${y(p.value - p.err)}" y2="${
          y(p.value + p.err)
        }" stroke="${c}"/>`
        : "";
      return `<g class="dot">${bar}<circle cx="${cx}" cy="${cy}" r="4" fill="${
        s.hollow ? "white" : c
      }" stroke="${c}" stroke-width="1.5"><title>${
        esc(
          `${s.name} · ${opts.categories[j]}: ${fmt(p.value)}${p.err ? ` ± ${fmt(p.err)}` : ""}${
            p.label ? ` (${p.label})` : ""
          }`,
        )
      }</title></circle></g>`;
    }).join("");
  }).join("");
  const xAxis = opts.categories.map((c) =>
    `<text x="${x(c)}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(c)}</text>`
  ).join("");
  const body = yAxis(y, y.ticks(5), M.left, W - M.right) + xAxis + marks +
    legend(
      opts.series.map((s) => s.name),
      opts.series.map((_, i) => PALETTE[i % PALETTE.length]),
      W - M.right + 12,
      M.top,
    );
  return frame(opts.title, body, opts.yLabel);
}

/** Grouped bars: per category, one bar per series (faded bars for `faded` series). */
export function barChart(opts: {
  title: string;
  categories: string[];
  series: { name: string; values: (number | undefined)[]; err?: (number | undefined)[] }[];
  yLabel: string;
  faded?: boolean[];
  colors?: string[];
}): string {
  const x0 = scaleBand<string>().domain(opts.categories).range([M.left, W - M.right])
    .paddingInner(0.2).paddingOuter(0.1);
  const x1 = scaleBand<number>().domain(opts.series.map((_, i) => i)).range([0, x0.bandwidth()])
    .padding(0.08);
  const vals = opts.series.flatMap((s) => s.values.flatMap((v) => v === undefined ? [] : [v]));
  const y = scaleLinear().domain([Math.min(0, ...vals), Math.max(1, ...vals)]).nice()
    .range([H - M.bottom, M.top]);
  const colors = opts.colors ?? opts.series.map((_, i) => PALETTE[i % PALETTE.length]);
  const bars = opts.series.map((s, i) =>
    s.values.map((v, j) => {
      if (v === undefined) return "";
      const bx = x0(opts.categories[j])! + x1(i)!;
      const top = y(Math.max(0, v));
      const h = Math.abs(y(v) - y(0));
      const e = s.err?.[j];
      const cx = bx + x1.bandwidth() / 2;
      const errBar = e
        ? `<line x1="${cx}" x2="${cx}" y1="${y(v - e)}" y2="${y(v + e)}" stroke="#333"/>`
        : "";
      return `<g class="bar"><rect x="${bx}" y="${top}" width="${x1.bandwidth()}" height="${h}" ` +
        `fill="${colors[i]}"${
          opts.faded?.[i] ? ` fill-opacity="0.35" stroke="${colors[i]}"` : ""
        }><title>${
          esc(
            `${s.name} · ${opts.categories[j]}: ${fmt(v)}${e ? ` ± ${fmt(e)}` : ""}`,
          )
        }</title></rect>${errBar}</g>`;
    }).join("")
  ).join("");
  const xAxis = opts.categories.map((c) =>
    `<text x="${x0(c)! + x0.bandwidth() / 2}" y="${H - M.bottom + 16}" text-anchor="middle">${
      esc(c)
    }</text>`
  ).join("");
  const zero = `<line x1="${M.left}" x2="${W - M.right}" y1="${y(0)}" y2="${y(0)}" class="zero"/>`;
  const body = yAxis(y, y.ticks(5), M.left, W - M.right) + zero + bars + xAxis +
    legend(opts.series.map((s) => s.name), colors, W - M.right + 12, M.top, opts.faded);
  return frame(opts.title, body, opts.yLabel);
}

/** A line series: one value per x position (undefined leaves a gap). */
export interface LineSeries {
  name: string;
  values: (number | undefined)[];
}

/**
 * A generic line chart over categorical x positions (e.g. reconstruction units in forward order),
 * linear or log y. Used for MRECG's per-unit reconstruction loss (oscillation).
 */
export function lineChart(opts: {
  title: string;
  x: string[];
  series: LineSeries[];
  yLabel: string;
  log?: boolean;
}): string {
  const x = scalePoint<string>().domain(opts.x).range([M.left + 10, W - M.right - 10]);
  const vals = opts.series.flatMap((s) => s.values.filter((v): v is number => v !== undefined));
  const positive = vals.filter((v) => v > 0);
  const useLog = (opts.log ?? false) && positive.length > 0;
  const lo = useLog ? Math.min(...positive) : Math.min(0, ...vals);
  const hi = Math.max(useLog ? lo * 10 : 1e-9, ...vals);
  const y = useLog
    ? scaleLog().domain([lo, hi]).nice().range([H - M.bottom, M.top])
    : scaleLinear().domain([lo, hi]).nice().range([H - M.bottom, M.top]);
  const ticks = useLog ? y.ticks(4).filter((_, i, a) => a.length <= 6 || i % 2 === 0) : y.ticks(5);
  const paths = opts.series.map((s, i) => {
    const c = PALETTE[i % PALETTE.length];
    const pts = s.values.map((v, j) => [j, v] as [number, number | undefined]);
    const gen = line<[number, number | undefined]>()
      .defined((d) => d[1] !== undefined && (!useLog || d[1] > 0))
      .x((d) => x(opts.x[d[0]])!)
      .y((d) => y(d[1]!));
    const dots = pts.filter((d) => d[1] !== undefined && (!useLog || d[1] > 0)).map((d) =>
      `<circle cx="${x(opts.x[d[0]])}" cy="${y(d[1]!)}" r="2.5" fill="${c}"><title>${
        esc(`${s.name} · ${opts.x[d[0]]}: ${fmt(d[1]!)}`)
      }</title></circle>`
    ).join("");
    return `<g class="series"><path d="${gen(pts) ?? ""}" fill="none" stroke="${c}" ` +
      `stroke-width="1.5"/>${dots}</g>`;
  }).join("");
  const every = Math.max(1, Math.ceil(opts.x.length / 12));
  const xAxis = opts.x.map((c, i) =>
    i % every === 0
      ? `<text x="${x(c)}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(c)}</text>`
      : ""
  ).join("");
  const body = yAxis(y, ticks, M.left, W - M.right) + xAxis + paths +
    legend(
      opts.series.map((s) => s.name),
      opts.series.map((_, i) => PALETTE[i % PALETTE.length]),
      W - M.right + 12,
      M.top,
    );
  return frame(opts.title, body, opts.yLabel + (useLog ? " (log)" : ""));
}
