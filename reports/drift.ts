/**
 * Baseline drift: the same baseline cell (method, architecture, W/A bits) printed differently by
 * different papers and benchmarks, and the claims whose gain is smaller than that spread.
 *
 * A printed value is counted once per source (the paper that printed it, its table and the
 * value): a paper that borrows another's table (PD-Quant's rows from MRECG's Table 1) adds no
 * second value, only its name to `alsoIn`. The spread is max − min over the distinct values. A
 * claim "better > worse" is flagged when the paper's gap is smaller than the spread of the worse
 * side's printed values: the baseline moves between sources by more than the gain claimed over
 * it.
 *
 * @example
 * ```ts
 * import { claimDrift, collectBaselines, driftText } from "./drift.ts";
 * import { BENCHMARKS, PAPERS } from "../papers/mod.ts";
 * const baselines = collectBaselines(Object.values(PAPERS), BENCHMARKS);
 * const claim = PAPERS.mrecg.claims.find((c) => c.id === "mrecg/resnet18/w4a4/mrecg+brecq>brecq")!;
 * console.log(driftText(claimDrift(claim, baselines)!));
 * // BRECQ W4A4 ResNet-18 printed 68.69 (MRECG) · 67.94 (FDDA, unverified) · 68.52 (MQBench); spread 0.75 > gap 0.37: flagged
 * ```
 *
 * @module
 */
import type { Benchmark, Claim, Paper, ReportedRow } from "../papers/mod.ts";

/** One printed value of a baseline cell and who printed it. */
export interface PrintedValue {
  value: number;
  /** The printing paper's or benchmark's short name, e.g. "FDDA", "MQBench". */
  source: string;
  /** Its id, e.g. "fdda", "mqbench". */
  sourceId: string;
  kind: "paper" | "benchmark";
  /** The table as the source labels it, e.g. "Table 1". */
  table: string;
  /** The method as printed there, e.g. "BRECQ*". */
  printed: string;
  /** false: read from a secondary source. */
  verified: boolean;
  /** The row is the cell's primary row in the paper's table (benchmarks: always true). */
  primary: boolean;
  /** Other papers whose tables carry this same number (borrowed), by short name. */
  alsoIn: string[];
}

/** A baseline cell and every value printed for it. */
export interface BaselineCell {
  /** `method/arch/wXaY/metric`, e.g. "brecq/resnet18/w4a4/top1". */
  key: string;
  method: string;
  /** The method's name as printed, without reference marks ("BRECQ"). */
  name: string;
  arch: string;
  model: string;
  w: number;
  a: number;
  metric: string;
  values: PrintedValue[];
  /** max − min of the values (percentage points, 2 decimals). */
  spread: number;
  /** How many distinct sources print it. */
  sources: number;
}

/** A claim's paper gap set beside its baseline's drift. */
export interface ClaimDrift {
  baseline: BaselineCell;
  /** The paper's gap (percentage points). */
  gap: number;
  spread: number;
  /** The gap is smaller than the spread of the baseline's printed values. */
  flagged: boolean;
}

/** What the collection needs of a paper. */
export type DriftPaper = Pick<Paper, "meta" | "cells">;

const round2 = (v: number) => Math.round(v * 100) / 100;

/** "BRECQ* [16]" → "BRECQ". */
function cleanName(printed: string): string {
  return printed.replace(/\s*\[\d+\]/g, "").replace(/\*+$/, "").trim();
}

/** The key of a baseline cell. */
export function baselineKey(method: string, arch: string, w: number, a: number, metric = "top1") {
  return `${method}/${arch}/w${w}a${a}/${metric}`;
}

/**
 * Every baseline cell of the papers' tables (primary rows and alternates) and the benchmarks,
 * each with its printed values and their sources (pure). Cells are in first-seen order; values in
 * the order the papers are given, benchmarks last.
 */
export function collectBaselines(
  papers: readonly DriftPaper[],
  benchmarks: readonly Benchmark[],
): BaselineCell[] {
  const shortOf = new Map<string, string>(papers.map((p) => [p.meta.id, p.meta.short]));
  for (const b of benchmarks) shortOf.set(b.id, b.short);
  const cells = new Map<string, BaselineCell>();
  const seen = new Map<string, PrintedValue>();
  const add = (
    row: Pick<ReportedRow, "method" | "arch" | "model" | "w_bits" | "a_bits" | "metric">,
    v: Omit<PrintedValue, "alsoIn">,
    host: string,
  ) => {
    const key = baselineKey(row.method, row.arch, row.w_bits, row.a_bits, row.metric);
    let cell = cells.get(key);
    if (!cell) {
      cell = {
        key,
        method: row.method,
        name: cleanName(v.printed),
        arch: row.arch,
        model: row.model,
        w: row.w_bits,
        a: row.a_bits,
        metric: row.metric,
        values: [],
        spread: 0,
        sources: 0,
      };
      cells.set(key, cell);
    }
    const id = `${key}|${v.sourceId}|${v.table}|${v.value}`;
    const prev = seen.get(id);
    if (prev) {
      const hostName = shortOf.get(host) ?? host;
      if (hostName !== prev.source && !prev.alsoIn.includes(hostName)) prev.alsoIn.push(hostName);
      return;
    }
    // A benchmark's name for the method is plain ("QDrop", where a paper prints "QDROP*").
    if (v.kind === "benchmark") cell.name = cleanName(v.printed);
    const value: PrintedValue = { ...v, alsoIn: [] };
    if (host !== v.sourceId) value.alsoIn.push(shortOf.get(host) ?? host);
    seen.set(id, value);
    cell.values.push(value);
  };
  for (const p of papers) {
    for (const c of p.cells) {
      for (const row of [c.row, ...c.alternates]) {
        add(row, {
          value: row.value,
          source: shortOf.get(row.source.paper) ?? row.source.paper,
          sourceId: row.source.paper,
          kind: "paper",
          table: row.source.table,
          printed: row.method_printed,
          verified: row.verified,
          primary: row === c.row,
        }, p.meta.id);
      }
    }
  }
  for (const b of benchmarks) {
    for (const row of b.rows) {
      add(row, {
        value: row.value,
        source: b.short,
        sourceId: b.id,
        kind: "benchmark",
        table: row.table,
        printed: row.method_printed,
        verified: row.verified,
        primary: true,
      }, b.id);
    }
  }
  for (const cell of cells.values()) {
    const vs = cell.values.map((v) => v.value);
    cell.spread = round2(Math.max(...vs) - Math.min(...vs));
    cell.sources = new Set(cell.values.map((v) => v.sourceId)).size;
  }
  return [...cells.values()];
}

/**
 * A claim's drift: its worse side's baseline cell across every source, and whether the paper's
 * gap is smaller than the spread of its printed values. Undefined where the baseline is printed
 * only once (nothing to compare).
 */
export function claimDrift(
  claim: Pick<Claim, "worse" | "arch" | "w_bits" | "a_bits" | "paperGap">,
  baselines: readonly BaselineCell[],
  metric = "top1",
): ClaimDrift | undefined {
  const key = baselineKey(claim.worse, claim.arch, claim.w_bits, claim.a_bits, metric);
  const baseline = baselines.find((b) => b.key === key);
  if (!baseline || baseline.values.length < 2) return undefined;
  const gap = claim.paperGap.value;
  return { baseline, gap, spread: baseline.spread, flagged: gap < baseline.spread };
}

/** "67.94 (FDDA) · 68.69 (MRECG) · 68.52 (MQBench)". */
export function printedValuesText(b: BaselineCell): string {
  return b.values.map((v) =>
    `${v.value} (${v.source}${v.verified ? "" : ", unverified"}${v.primary ? "" : `, ${v.table}`})`
  ).join(" · ");
}

/**
 * One line: "BRECQ W4A4 ResNet-18 printed 67.94 (FDDA) · 68.69 (MRECG) · 68.52 (MQBench);
 * spread 0.75 > gap 0.37: flagged".
 */
export function driftText(d: ClaimDrift): string {
  const b = d.baseline;
  const cmp = d.flagged
    ? `spread ${d.spread.toFixed(2)} > gap ${d.gap.toFixed(2)}: flagged`
    : `spread ${d.spread.toFixed(2)} ≤ gap ${d.gap.toFixed(2)}`;
  return `${b.name} W${b.w}A${b.a} ${b.model} printed ${printedValuesText(b)}; ${cmp}`;
}
