/**
 * Records + a paper → the report's view model (pure: no I/O, no clock).
 *
 * Each reported cell gets, per suite, the measured value (mean ± sample std over seeds), its
 * comparability class and a verdict against a stated tolerance:
 * - `exact` (the paper's checkpoint on the full val set): |measured − paper| ≤ tol.exact;
 * - `same-arch` (same architecture, another checkpoint or a val subset):
 *   |drop_measured − drop_paper| ≤ tol.sameArch, drops taken from each side's FP32;
 * - `proxy` (the project's small models): the cell has no verdict of its own; the paper's claims
 *   (method orderings) are checked instead.
 *
 * @module
 */
import {
  budgetText,
  type Cell,
  type Claim,
  explainMissing,
  type JsonValue,
  type Paper,
  type PaperMeta,
  planCell,
  recipeFor,
  type ReportedRow,
  type ResultRecord,
  runKey,
  type SampleSet,
  type Suite,
  SUITES,
} from "../papers/mod.ts";
import { type BaselineCell, type ClaimDrift, claimDrift } from "./drift.ts";

/**
 * A claim gets a verdict only where both sides ran at least this share of the paper's iterations
 * per unit (the `quick` budget's tenth); below it the methods have barely started, and the report
 * says so instead.
 */
export const MIN_ITERS_SHARE = 0.1;

/** Chance top-1 (%) of a suite's classifiers: 10 classes on the proxies, 1,000 on ImageNet. */
export function chanceOf(suite: Suite): number {
  return suite === "proxy" ? 10 : 0.1;
}

/**
 * The top-1 (%) at or below which a run counts as collapsed: not clearly above chance, i.e.
 * chance + max(chance, 5 pt) (20 % on the proxies, 5.1 % on ImageNet).
 */
export function collapsedBelow(suite: Suite): number {
  const c = chanceOf(suite);
  return c + Math.max(c, 5);
}

/** A share as people read it: "0.1 %", "2.5 %", "10 %". */
function formatShare(x: number): string {
  const p = 100 * x;
  return `${p < 1 ? p.toFixed(1) : Math.round(p * 10) / 10} %`;
}

/** The tolerances of the verdicts, in percentage points. */
export interface Tolerances {
  /** exact: |measured − paper|. */
  exact: number;
  /** same-arch: |drop_measured − drop_paper|. */
  sameArch: number;
  /** claims: the smallest noise band around a gap of 0. */
  proxyNoise: number;
}

/** The tolerances used unless a caller passes others. */
export const DEFAULT_TOLERANCES: Tolerances = { exact: 1.0, sameArch: 2.0, proxyNoise: 0.25 };

/** A comparability class. */
export type ComparabilityClass = "exact" | "same-arch" | "proxy";

/** Mean, sample standard deviation (n − 1; 0 when n = 1) and count. */
export interface Stat {
  mean: number;
  std: number;
  n: number;
  /** Evaluation images per run (smallest over the runs), where recorded. */
  evalN?: number;
}

/**
 * Standard error (points) of a measured mean: the seed-to-seed part (std/√n) and the evaluation
 * sampling part of a proportion measured on `evalN` images (√(p(1−p)/evalN)/√n), combined.
 */
export function standardError(s: Stat): number {
  const seed = s.n > 1 ? s.std / Math.sqrt(s.n) : 0;
  const p = Math.min(Math.max(s.mean / 100, 0), 1);
  const sample = s.evalN ? (100 * Math.sqrt((p * (1 - p)) / s.evalN)) / Math.sqrt(s.n) : 0;
  return Math.sqrt(seed ** 2 + sample ** 2);
}

/** The standard normal distribution function (Abramowitz–Stegun 26.2.17, |error| < 7.5e-8). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + 0.2316419 * Math.abs(z));
  const d = 0.3989422804014327 * Math.exp(-z * z / 2);
  const q = d * t *
    (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return z >= 0 ? 1 - q : q;
}

/**
 * The power of a claim check against a true gap `delta` (the paper's, in points): the chance
 * that the measured gap exceeds the band max(`floor`, 2·SE), SE the gap's standard error from
 * `better` and `worse`; and the seeds per side for 80 % at the same per-seed spread and
 * evaluation size (null when either side has one seed: the spread is unknown; 1 when one seed
 * per side would do; at most 1,000).
 */
export function claimPower(
  delta: number,
  better: Stat,
  worse: Stat,
  floor: number,
): { value: number; seedsFor80: number | null } {
  // One side's mean over n seeds at its measured per-seed spread (as `standardError`, which
  // takes a single seed's spread as 0: the projection needs the measured one at every n).
  const seOf = (x: Stat, n: number) => {
    if (n === x.n) return standardError(x);
    const p = Math.min(Math.max(x.mean / 100, 0), 1);
    const sample = x.evalN ? 100 ** 2 * p * (1 - p) / x.evalN : 0;
    return Math.sqrt((x.std ** 2 + sample) / n);
  };
  const powerAt = (nb: number, nw: number) => {
    const se = Math.sqrt(seOf(better, nb) ** 2 + seOf(worse, nw) ** 2);
    const band = Math.max(floor, 2 * se);
    return se > 0 ? normalCdf((delta - band) / se) : delta > band ? 1 : 0;
  };
  const value = Math.round(powerAt(better.n, worse.n) * 100) / 100;
  if (better.n < 2 || worse.n < 2) return { value, seedsFor80: null };
  for (let n = 1; n <= 1000; n++) {
    if (powerAt(n, n) >= 0.8) return { value, seedsFor80: n };
  }
  return { value, seedsFor80: null };
}

/** Mean and sample std of values (undefined when empty). */
export function stat(values: readonly number[]): Stat | undefined {
  const n = values.length;
  if (n === 0) return undefined;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const varSum = values.reduce((s, v) => s + (v - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(varSum / (n - 1)) : 0, n };
}

/** A measured number's provenance. */
export interface RunRef {
  key: string;
  commit: string;
  seed: number;
  started: string;
  budget: string;
  recipe: string;
  model: string;
  sha256: string;
  backend: string;
  wall_s: number;
  value?: number;
  notes: string[];
}

/** One suite of one cell. */
export interface SuiteView {
  suite: Suite;
  cls?: ComparabilityClass;
  status: "measured" | "not-run" | "n/a";
  model?: string;
  budget?: string;
  measured?: Stat;
  fp32?: Stat;
  drop?: Stat;
  exported?: Stat;
  /** exact: measured − paper; same-arch: drop_measured − drop_paper. */
  delta?: number;
  tolerance?: number;
  verdict: "agrees" | "differs" | "see claims" | "not run" | "n/a" | "no paper FP32";
  /** The runs' iterations per unit as a share of the paper's (the smallest over the runs). */
  itersShare?: number;
  reason?: string;
  how?: string;
  runs: RunRef[];
  /** Records of an older recipe version that were left out. */
  stale: number;
}

/** A paper value with its provenance. */
export interface PaperValue {
  value: number;
  fp32?: number;
  drop?: number;
  verified: boolean;
  inferred?: string;
  version?: string;
  versionNote?: string;
  source: string;
}

/** One reported cell. */
export interface CellView {
  id: string;
  arch: string;
  model: string;
  bits: string;
  w: number;
  a: number;
  method: string;
  methodPrinted: string;
  origin: string;
  paper: PaperValue;
  alternates: PaperValue[];
  suites: SuiteView[];
}

/** One claim, checked in every suite where both sides ran. */
export interface ClaimView {
  id: string;
  text: string;
  paperGap: Claim["paperGap"];
  /**
   * The worse side's baseline as every paper and benchmark prints it, and whether the paper's
   * gap is smaller than their spread (absent where only one value is printed, or no baselines
   * were given).
   */
  drift?: ClaimDrift;
  checks: {
    suite: Suite;
    cls: ComparabilityClass;
    better: Stat;
    worse: Stat;
    gap: number;
    band: number;
    /**
     * No verdict where it could not be defended: "budgets differ" (the two sides ran under
     * different budgets), "under budget" (either side ran fewer than
     * {@linkcode MIN_ITERS_SHARE} of the paper's iterations per unit), "collapsed" (either side
     * is not clearly above chance, {@linkcode collapsedBelow}).
     */
    verdict:
      | "holds"
      | "does not hold"
      | "inconclusive"
      | "budgets differ"
      | "under budget"
      | "collapsed";
    /** Why there is no verdict, in words (budget share, chance level). */
    why?: string;
    /**
     * The test's power: the probability that it says "holds" if the true gap were the paper's
     * printed one (normal approximation with this check's standard error), and the seeds per
     * side that would give 80 % (null where the spread is unknown: one seed each).
     */
    power: { value: number; seedsFor80: number | null };
    shared: boolean;
    /** The budget of both sides, or "better's / worse's" when they differ. */
    budget?: string;
  }[];
}

/** A per-unit loss series (the MRECG oscillation plot). */
export interface UnitLossGroup {
  title: string;
  units: string[];
  series: { name: string; values: (number | undefined)[] }[];
}

/**
 * Accuracy against iterations per unit, for one (suite, model, bits, calibration size) where a
 * cell was run at two or more iteration counts with the recipe's own settings.
 */
export interface BudgetCurve {
  title: string;
  /** Iterations per unit, ascending, as the x labels. */
  iters: string[];
  /** One series per method: mean over seeds at each iteration count. */
  series: { name: string; values: (number | undefined)[] }[];
}

/**
 * Both model-selection protocols of a cell's epoch-based runs (FDDA), side by side: the official
 * one (the best test top-1 over the evaluated epochs — it selects on the test set) and the
 * test-free one (the last epoch, the record's `metrics`).
 */
export interface SelectionView {
  cell: string;
  model: string;
  bits: string;
  method: string;
  suite: Suite;
  budget?: string;
  paper: number;
  /** Mean ± sd over the runs of the official pick (absent where no run evaluated an epoch). */
  official?: Stat;
  officialEpochs: number[];
  officialRule?: string;
  testFree: Stat;
  testFreeEpochs: number[];
  testFreeRule: string;
  /** Official − test-free (means). */
  gap?: number;
  /** Epochs evaluated per run (the fewest). */
  evaluated: number;
}

/** One run's generated images (FDDA's synthetic calibration images), grouped by class. */
export interface SampleView {
  /** "suite · model · W4A4 · method · budget". */
  title: string;
  run: string;
  note: string;
  classes: { label: number; name: string; images: string[] }[];
}

/** The whole report. */
export interface ReportView {
  paper: {
    id: string;
    title: string;
    short: string;
    arxiv: string;
    venue: string;
    authors: string;
    code: string[];
    transcription: string;
    notFound: string[];
    secondary: string[];
  };
  generated: string;
  tolerances: Tolerances;
  cells: CellView[];
  claims: ClaimView[];
  unitLosses: UnitLossGroup[];
  budgetCurves: BudgetCurve[];
  /** Both selection protocols of the cells whose runs record them (empty for most papers). */
  selections: SelectionView[];
  /** Generated images of the shown runs that stored some (empty for most papers). */
  samples: SampleView[];
  runs: RunRef[];
  deviations: { scope: string; items: string[] }[];
  sources: { id: string; kind: string; locator: string; note?: string }[];
  warnings: string[];
  summary: {
    cells: number;
    measured: number;
    agrees: number;
    differs: number;
    claims: { holds: number; not: number; inconclusive: number; unchecked: number };
  };
}

/** What `buildView` needs besides the paper and its records. */
export interface ViewOptions {
  /** An ISO time stamp shown in the page (pass it in: the view is pure). */
  generated: string;
  tolerances?: Tolerances;
  /** Metadata of other papers whose rows this paper borrows (for their source descriptions). */
  metas?: Record<string, PaperMeta>;
  /**
   * Method-level deviations by the cells' method id (default: each recipe's method's registry
   * entry).
   */
  methodDeviations?: Record<string, string[]>;
  /** Why a runner skipped a cell in a suite, overriding the generic explanation. */
  skips?: { cell: string; suite: Suite; reason: string; how?: string }[];
  /** Problems met while reading the records (e.g. a torn last line). */
  warnings?: string[];
  /** Images runs stored beside their records (`papers/samples.ts`), matched by run key. */
  samples?: readonly SampleSet[];
  /**
   * Every baseline cell printed by the papers and benchmarks (`collectBaselines`): each claim
   * shows its worse side's values across them.
   */
  baselines?: readonly BaselineCell[];
}

/** Which budget's records a cell shows when several were recorded (the first present). */
const BUDGET_ORDER = ["paper", "quick", "custom", "smoke"];

/**
 * The budget of a record as a label: the name, and for `custom` the iterations per unit and
 * calibration size (runs under different custom settings are never averaged or compared).
 */
export function budgetLabel(r: ResultRecord): string {
  if (r.budget !== "custom") return r.budget;
  return budgetText("custom", { iters: itersOf(r), calibration: r.calibration.n, set: setOf(r) });
}

/** A record's resolved recipe config. */
function recipeConfigOf(r: ResultRecord): Record<string, JsonValue> {
  return (r.config.recipe ?? {}) as Record<string, JsonValue>;
}

/** A record's iterations per unit (the resolved recipe config's `iters`). */
function itersOf(r: ResultRecord): number {
  return Number(recipeConfigOf(r).iters ?? 0);
}

/** The recipe settings a custom run replaced (`--set`), if any. */
function setOf(r: ResultRecord): Record<string, JsonValue> | undefined {
  return recipeConfigOf(r).set as Record<string, JsonValue> | undefined;
}

/**
 * The records of the best budget: by BUDGET_ORDER; among custom ones the recipe's own settings
 * before replaced ones (`--set`), then the most iterations, then the most calibration images.
 */
function bestBudget(records: readonly ResultRecord[]): ResultRecord[] {
  const budget = BUDGET_ORDER.find((b) => records.some((r) => r.budget === b));
  const same = records.filter((r) => r.budget === budget);
  if (budget !== "custom") return same;
  const rank = (r: ResultRecord) => [setOf(r) ? 0 : 1, itersOf(r), r.calibration.n];
  const best = [...same].sort((x, y) => {
    const [a, b] = [rank(x), rank(y)];
    return b[0] - a[0] || b[1] - a[1] || b[2] - a[2];
  })[0];
  return same.filter((r) => budgetLabel(r) === budgetLabel(best));
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

function sourceText(row: ReportedRow, metas: Record<string, PaperMeta>): string {
  const s = row.source;
  const src = metas[s.paper]?.sources[s.source_id];
  return `${s.paper}:${s.source_id}${src ? ` (${src.kind})` : ""} · ${s.table} · row "${s.row}"` +
    ` · column "${s.column}"`;
}

function paperValue(row: ReportedRow, metas: Record<string, PaperMeta>): PaperValue {
  return {
    value: row.value,
    fp32: row.fp32,
    drop: row.fp32 === undefined ? undefined : round2(row.fp32 - row.value),
    verified: row.verified,
    inferred: row.inferred,
    version: row.version,
    versionNote: row.version_note,
    source: sourceText(row, metas),
  };
}

/**
 * The runs' notes for the report's deviations section, each once: notes that differ only in
 * their figures (e.g. every run's fused-kernel top-1) become one line with the figures elided and
 * the number of runs; each run's own notes stay in the Runs table.
 *
 * @example
 * ```ts
 * import { collapseNotes } from "./view.ts";
 * collapseNotes([["top-1 3.1 fused"], ["top-1 4.5 fused", "x"]]);
 * // ["top-1 … fused (2 runs; each run's figures are in the Runs table)", "x"]
 * ```
 */
export function collapseNotes(perRun: readonly (readonly string[])[]): string[] {
  const groups = new Map<string, Set<string>>();
  for (const notes of perRun) {
    for (const n of notes) {
      // Figures, not the digits of names such as "top-1" or "W4A4".
      const shape = n.replace(/(?<![\w-])\d+(?:[.,]\d+)*/g, "…");
      if (!groups.has(shape)) groups.set(shape, new Set());
      groups.get(shape)!.add(n);
    }
  }
  return [...groups].map(([shape, notes]) => {
    if (notes.size === 1) return [...notes][0];
    const runs = perRun.filter((ns) => ns.some((n) => notes.has(n))).length;
    return `${shape} (${runs} runs; each run's figures are in the Runs table)`;
  });
}

function runRef(r: ResultRecord, metric: "top1" | "map"): RunRef {
  return {
    key: runKey(r),
    commit: r.versions.ptq_bench,
    seed: r.seed,
    started: r.started,
    budget: budgetLabel(r),
    recipe: `${r.recipe.id}@${r.recipe.version}`,
    model: r.model.name,
    sha256: r.model.sha256,
    backend: `${r.backend} (${r.adapter})`,
    wall_s: r.wall_s,
    value: r.metrics[metric],
    notes: r.notes,
  };
}

function classOf(suite: Suite): ComparabilityClass | undefined {
  if (suite === "imagenet") return "exact";
  if (suite === "imagenet-subset") return "same-arch";
  if (suite === "proxy") return "proxy";
  return undefined;
}

interface Matched {
  view: SuiteView;
  /** The records the cell shows (its best budget). */
  records: ResultRecord[];
  /** Every current-version record of the cell with its metric, at any budget. */
  current: ResultRecord[];
}

function suiteView(
  paper: Paper,
  cell: Cell,
  suite: Suite,
  records: readonly ResultRecord[],
  tol: Tolerances,
  used: Set<ResultRecord>,
  skip?: { reason: string; how?: string },
): Matched {
  const recipe = recipeFor(paper.recipes, cell);
  const plan = planCell(cell, recipe, suite, "paper", paper);
  const base = { suite, runs: [], stale: 0 };
  if (!plan.ok) {
    const status = recipe && suite !== "voc" ? "not-run" : "n/a";
    return {
      view: { ...base, status, verdict: status === "n/a" ? "n/a" : "not run", ...plan },
      records: [],
      current: [],
    };
  }
  const model = plan.runs[0].model.name;
  const candidates = records.filter((r) =>
    r.paper === paper.meta.id && r.suite === suite && r.recipe.id === recipe!.id &&
    r.method === cell.method && r.bits.w === cell.w_bits && r.bits.a === cell.a_bits &&
    r.model.name === model
  );
  const current = candidates.filter((r) => r.recipe.version === recipe!.version);
  const stale = candidates.length - current.length;
  const withMetric = current.filter((r) => r.metrics[cell.metric] !== undefined);
  const chosen = bestBudget(withMetric);
  const budget = chosen.length ? budgetLabel(chosen[0]) : undefined;
  const itersShare = chosen.length
    ? Math.min(
      ...chosen.map((r) => Number((r.config.recipe as { iters?: number } | undefined)?.iters ?? 0)),
    ) /
      recipe!.fixed.iters_per_unit
    : undefined;
  const cls = classOf(suite);
  if (chosen.length === 0) {
    const why = skip ?? explainMissing(cell, recipe, suite, paper);
    return {
      view: { ...base, stale, cls, model, status: "not-run", verdict: "not run", ...why },
      records: [],
      current: [],
    };
  }
  for (const r of chosen) used.add(r);
  const values = chosen.map((r) => r.metrics[cell.metric]!);
  // Records written before `metrics.n` existed state it in their first note.
  const evalNOf = (r: ResultRecord) =>
    r.metrics.n ?? Number(/^evaluated on (\d+) images/.exec(r.notes[0] ?? "")?.[1] ?? NaN);
  const evalNs = chosen.map(evalNOf).filter((n) => Number.isFinite(n));
  const measured: Stat = {
    ...stat(values)!,
    ...(evalNs.length === chosen.length ? { evalN: Math.min(...evalNs) } : {}),
  };
  const fp32Values = chosen.flatMap((r) => r.fp32[cell.metric] ?? []);
  const fp32 = stat(fp32Values);
  const drop = fp32Values.length === chosen.length
    ? stat(chosen.map((r) => r.fp32[cell.metric]! - r.metrics[cell.metric]!))
    : undefined;
  const exported = stat(chosen.flatMap((r) => r.exported?.[cell.metric] ?? []));
  const view: SuiteView = {
    ...base,
    stale,
    cls,
    model,
    budget,
    itersShare,
    status: "measured",
    measured,
    fp32,
    drop,
    exported,
    verdict: "see claims",
    runs: chosen.map((r) => runRef(r, cell.metric)),
  };
  const paperDrop = cell.row.fp32 === undefined ? undefined : cell.row.fp32 - cell.row.value;
  if (cls === "exact") {
    view.delta = round2(measured.mean - cell.row.value);
    view.tolerance = tol.exact;
    view.verdict = Math.abs(view.delta) <= tol.exact ? "agrees" : "differs";
  } else if (cls === "same-arch") {
    view.tolerance = tol.sameArch;
    if (paperDrop === undefined || drop === undefined) {
      view.verdict = "no paper FP32";
    } else {
      view.delta = round2(drop.mean - paperDrop);
      view.verdict = Math.abs(view.delta) <= tol.sameArch ? "agrees" : "differs";
    }
  }
  return { view, records: chosen, current: withMetric };
}

/**
 * The budget curves of a paper's cells (see {@linkcode BudgetCurve}); their records join `used`,
 * so that the runs table lists them. Runs with replaced settings (`--set`) and the smoke budget's
 * shortened evaluation stay out.
 */
function curvesOf(
  paper: Paper,
  matchedBy: Map<string, Map<Suite, Matched>>,
  used: Set<ResultRecord>,
): BudgetCurve[] {
  // Group → run key → record: a record two cells share (a copy says so) counts once.
  const groups = new Map<string, Map<string, ResultRecord>>();
  for (const cell of paper.cells) {
    for (const [suite, m] of matchedBy.get(cell.id) ?? []) {
      for (const r of m.current) {
        if (setOf(r) || r.budget === "smoke") continue;
        const k = `${r.model.name} · ${bitsLabel(r.bits.w, r.bits.a)} · ${r.calibration.n} ` +
          `calib · ${suite}`;
        groups.set(k, (groups.get(k) ?? new Map()).set(runKey(r), r));
      }
    }
  }
  const curves: BudgetCurve[] = [];
  for (const [title, byKey] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const rs = [...byKey.values()];
    const iters = [...new Set(rs.map(itersOf))].sort((a, b) => a - b);
    if (iters.length < 2) continue;
    for (const r of rs) used.add(r);
    const methods = [...new Set(rs.map((r) => r.method))].sort();
    curves.push({
      title,
      iters: iters.map(String),
      series: methods.map((name) => ({
        name,
        values: iters.map((i) =>
          stat(
            rs.filter((r) => r.method === name && itersOf(r) === i)
              .map((r) => (r.metrics.top1 ?? r.metrics.map)!),
          )?.mean
        ),
      })),
    });
  }
  return curves;
}

/** Both selection protocols per cell and suite, from the records the cells show. */
function selectionsOf(
  paper: Paper,
  cells: readonly CellView[],
  matchedBy: Map<string, Map<Suite, Matched>>,
): SelectionView[] {
  const out: SelectionView[] = [];
  for (const cell of cells) {
    const metric = paper.cells.find((c) => c.id === cell.id)?.metric;
    if (metric !== "top1") continue;
    for (const [suite, m] of matchedBy.get(cell.id) ?? []) {
      const rs = m.records.filter((r) => r.selection);
      if (!rs.length) continue;
      const picks = rs.flatMap((r) => r.selection!.official ? [r.selection!.official] : []);
      const official = stat(picks.map((p) => p.top1!).filter((v) => v !== undefined));
      const testFree = stat(rs.map((r) => r.metrics.top1!))!;
      out.push({
        cell: cell.id,
        model: m.view.model ?? "",
        bits: cell.bits,
        method: cell.method,
        suite,
        budget: m.view.budget,
        paper: cell.paper.value,
        ...(official ? { official } : {}),
        officialEpochs: picks.map((p) => p.epoch),
        ...(picks.length ? { officialRule: picks[0].rule } : {}),
        testFree,
        testFreeEpochs: rs.map((r) => r.selection!.test_free.epoch),
        testFreeRule: rs[0].selection!.test_free.rule,
        ...(official ? { gap: round2(official.mean - testFree.mean) } : {}),
        evaluated: Math.min(...rs.map((r) => r.selection!.per_epoch.length)),
      });
    }
  }
  return out;
}

/** The sample sets of the shown runs, in run-key order, images grouped by class. */
function samplesOf(used: ReadonlySet<ResultRecord>, sets: readonly SampleSet[]): SampleView[] {
  const byRun = new Map(sets.map((s) => [s.run, s]));
  const out: SampleView[] = [];
  const seen = new Set<string>();
  for (const r of [...used].sort((a, b) => runKey(a).localeCompare(runKey(b)))) {
    const key = runKey(r);
    const set = byRun.get(key);
    if (!set || seen.has(key)) continue;
    seen.add(key);
    const classes = new Map<number, SampleView["classes"][number]>();
    for (const img of set.images) {
      const c = classes.get(img.label) ?? { label: img.label, name: img.name, images: [] };
      c.images.push(img.png);
      classes.set(img.label, c);
    }
    out.push({
      title: `${r.suite} · ${r.model.name} · ${bitsLabel(r.bits.w, r.bits.a)} · ${r.method} · ${
        budgetLabel(r)
      }`,
      run: key,
      note: set.note,
      classes: [...classes.values()].sort((a, b) => a.label - b.label),
    });
  }
  return out;
}

function bitsLabel(w: number, a: number): string {
  return `W${w}A${a}`;
}

/**
 * Build the report's view model.
 *
 * @example
 * ```ts
 * import { buildView } from "./view.ts";
 * import { pdquant } from "../papers/mod.ts";
 * const view = buildView(pdquant, [], { generated: "2024-01-01T00:00:00Z" });
 * console.log(view.cells.length > 0, view.summary.measured); // true 0
 * ```
 */
export function buildView(
  paper: Paper,
  records: readonly ResultRecord[],
  opts: ViewOptions,
): ReportView {
  const tol = opts.tolerances ?? DEFAULT_TOLERANCES;
  const metas: Record<string, PaperMeta> = { ...(opts.metas ?? {}), [paper.meta.id]: paper.meta };
  const used = new Set<ResultRecord>();
  const matchedBy = new Map<string, Map<Suite, Matched>>();
  const cells: CellView[] = paper.cells.map((cell) => {
    const bySuite = new Map<Suite, Matched>();
    const suites = SUITES.map((suite) => {
      const skip = opts.skips?.find((s) => s.cell === cell.id && s.suite === suite);
      const m = suiteView(paper, cell, suite, records, tol, used, skip);
      bySuite.set(suite, m);
      return m.view;
    }).filter((s) => s.status !== "n/a" || s.suite !== "voc");
    matchedBy.set(cell.id, bySuite);
    return {
      id: cell.id,
      arch: cell.arch,
      model: cell.model,
      bits: bitsLabel(cell.w_bits, cell.a_bits),
      w: cell.w_bits,
      a: cell.a_bits,
      method: cell.method,
      methodPrinted: cell.row.method_printed,
      origin: cell.row.origin,
      paper: paperValue(cell.row, metas),
      alternates: cell.alternates.map((r) => paperValue(r, metas)),
      suites,
    };
  });

  const claims: ClaimView[] = paper.claims.map((claim) => {
    const checks: ClaimView["checks"] = [];
    for (const suite of SUITES) {
      const b = matchedBy.get(claim.betterCell)?.get(suite);
      const w = matchedBy.get(claim.worseCell)?.get(suite);
      const bs = b?.view.measured;
      const ws = w?.view.measured;
      if (!bs || !ws) continue;
      const gap = round2(bs.mean - ws.mean);
      const se = Math.sqrt(standardError(bs) ** 2 + standardError(ws) ** 2);
      const band = round2(Math.max(tol.proxyNoise, 2 * se));
      const sameBudget = b!.view.budget === w!.view.budget;
      const share = Math.min(b!.view.itersShare ?? 1, w!.view.itersShare ?? 1);
      const floor = collapsedBelow(suite);
      const collapsed = Math.min(bs.mean, ws.mean) <= floor;
      const verdict = !sameBudget
        ? "budgets differ"
        : share < MIN_ITERS_SHARE
        ? "under budget"
        : collapsed
        ? "collapsed"
        : gap > band
        ? "holds"
        : gap < -band
        ? "does not hold"
        : "inconclusive";
      const why = verdict === "under budget"
        ? `budget ${formatShare(share)} of the paper's iterations per unit`
        : verdict === "collapsed"
        ? `top-1 ${Math.min(bs.mean, ws.mean).toFixed(2)} ≤ ${floor.toFixed(1)} ` +
          `(chance ${chanceOf(suite).toFixed(1)} + max(chance, 5 pt))`
        : undefined;
      const power = claimPower(Math.abs(claim.paperGap.value), bs, ws, tol.proxyNoise);
      const shared = paper.claims.some((c) =>
        c !== claim && c.better === claim.better && c.worse === claim.worse &&
        c.w_bits === claim.w_bits && c.a_bits === claim.a_bits &&
        matchedBy.get(c.betterCell)?.get(suite)?.view.model === b!.view.model
      );
      checks.push({
        suite,
        cls: classOf(suite)!,
        better: bs,
        worse: ws,
        gap,
        band,
        verdict,
        ...(why ? { why } : {}),
        power,
        shared,
        budget: sameBudget ? b!.view.budget : `${b!.view.budget} / ${w!.view.budget}`,
      });
    }
    const drift = opts.baselines ? claimDrift(claim, opts.baselines) : undefined;
    return { id: claim.id, text: claim.text, paperGap: claim.paperGap, drift, checks };
  });

  // Per-unit losses, grouped by (suite, model, bits); one series per method (mean over seeds).
  const groups = new Map<string, ResultRecord[]>();
  for (const r of used) {
    if (!r.metrics.unit_losses?.length) continue;
    const k = `${r.suite} · ${r.model.name} · ${bitsLabel(r.bits.w, r.bits.a)}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const unitLosses: UnitLossGroup[] = [...groups].sort(([a], [b]) => a.localeCompare(b)).map(
    ([title, rs]) => {
      // Merged units (MRECG's "a+b") are placed at their last member, so every method's series
      // shares the base units' x positions.
      const units: string[] = [];
      for (const r of rs) {
        for (const u of r.metrics.unit_losses!) {
          for (const part of u.unit.split("+")) if (!units.includes(part)) units.push(part);
        }
      }
      const lastOf = (name: string) => name.split("+").at(-1)!;
      const methods = [...new Set(rs.map((r) => r.method))].sort();
      return {
        title,
        units,
        series: methods.map((m) => ({
          name: m,
          values: units.map((u) =>
            stat(
              rs.filter((r) => r.method === m).flatMap((r) =>
                r.metrics.unit_losses!.filter((x) => lastOf(x.unit) === u).map((x) => x.loss)
              ),
            )?.mean
          ),
        })),
      };
    },
  );

  const budgetCurves = curvesOf(paper, matchedBy, used);
  const selections = selectionsOf(paper, cells, matchedBy);
  const samples = samplesOf(used, opts.samples ?? []);

  const warnings = [...(opts.warnings ?? [])];
  const unused = records.filter((r) => !used.has(r) && r.paper === paper.meta.id);
  if (unused.length) {
    warnings.push(
      `${unused.length} record(s) of ${paper.meta.id} match no current cell, recipe version or ` +
        `preferred budget (e.g. ${runKey(unused[0])})`,
    );
  }
  const stale = cells.reduce((s, c) => s + c.suites.reduce((t, v) => t + v.stale, 0), 0);
  if (stale) warnings.push(`${stale} record(s) of older recipe versions are left out`);
  const dirty = [...used].filter((r) => r.versions.ptq_bench.endsWith("+dirty"));
  if (dirty.length) {
    warnings.push(
      `${dirty.length} of the ${used.size} runs shown were made from a working tree with ` +
        `uncommitted changes (commit marked "+dirty", e.g. ${dirty[0].versions.ptq_bench}): ` +
        "their code is not exactly the named commit",
    );
  }

  const methodDeviations = Object.entries(opts.methodDeviations ?? paper.methodDeviations)
    .filter(([m]) => paper.cells.some((c) => c.method === m))
    .map(([m, items]) => ({ scope: `method ${m}`, items: [...items] }));
  const recordNotes = collapseNotes([...used].map((r) => r.notes));
  const deviations = [
    { scope: `paper ${paper.meta.short}`, items: paper.deviations },
    ...methodDeviations,
    ...(recordNotes.length ? [{ scope: "notes from the runs", items: recordNotes }] : []),
  ];

  const sources = Object.entries(metas).flatMap(([pid, meta]) =>
    pid === paper.meta.id || paper.rows.some((r) => r.source.paper === pid)
      ? Object.entries(meta.sources).map(([id, s]) => ({ id: `${pid}:${id}`, ...s }))
      : []
  );

  const measuredViews = cells.flatMap((c) => c.suites.filter((s) => s.status === "measured"));
  const runs = [...used].sort((a, b) => runKey(a).localeCompare(runKey(b))).map((r) =>
    runRef(r, r.metrics.top1 !== undefined ? "top1" : "map")
  );
  return {
    paper: {
      id: paper.meta.id,
      title: paper.meta.title,
      short: paper.meta.short,
      arxiv: paper.meta.arxiv,
      venue: paper.meta.venue,
      authors: paper.meta.authors,
      code: paper.meta.code.map((c) => `${c.repo} @ ${c.commit}${c.note ? ` (${c.note})` : ""}`),
      transcription: paper.meta.transcription_status,
      notFound: paper.meta.not_found,
      secondary: paper.meta.secondary_facts,
    },
    generated: opts.generated,
    tolerances: tol,
    cells,
    claims,
    unitLosses,
    budgetCurves,
    selections,
    samples,
    runs,
    deviations,
    sources,
    warnings,
    summary: {
      cells: cells.length,
      measured: cells.filter((c) => c.suites.some((s) => s.status === "measured")).length,
      agrees: measuredViews.filter((s) => s.verdict === "agrees").length,
      differs: measuredViews.filter((s) => s.verdict === "differs").length,
      claims: {
        holds: claims.filter((c) => c.checks.some((k) => k.verdict === "holds")).length,
        not: claims.filter((c) => c.checks.some((k) => k.verdict === "does not hold")).length,
        inconclusive:
          claims.filter((c) =>
            c.checks.length > 0 && c.checks.every((k) => k.verdict === "inconclusive")
          ).length,
        // No check at all, or only ones whose sides ran under different budgets.
        unchecked:
          claims.filter((c) =>
            c.checks.every((k) =>
              k.verdict === "budgets differ" || k.verdict === "under budget" ||
              k.verdict === "collapsed"
            )
          )
            .length,
      },
    },
  };
}
