/**
 * Sharding a paper's plan over machines (`reproduce --shard I/N`, `deno task slurm`).
 *
 * - **Deterministic.** The partition is a pure function of the planned runs and of the records
 *   of *other* runs (those whose key is not in the plan): the records a sharded job itself
 *   appends never change it, so a shard re-submitted mid-way, on any machine, gets the same runs.
 *   Runs that are the same computation (two cells on one proxy) stay in one shard, so it is
 *   computed once and copied, as in a single process.
 * - **Balanced by expected cost**: each run's seconds are the median wall-clock of recorded runs
 *   of the same kind (suite, method, model, budget, bits; else without the bits); runs without
 *   one are costed from the budget (iterations per unit × calibration images), scaled to seconds
 *   by the runs that have both. Groups go, largest first, to the least-loaded shard.
 * - **Records survive a shared file system**: each shard appends to its own file,
 *   `<paper>.shard-I-of-N.jsonl`, never to a file another machine writes. (Appends from several
 *   NFS clients to one file are not atomic, and `fcntl` locks there depend on the lock daemon;
 *   one writer per file needs neither.) Readers merge every file of a paper
 *   ({@linkcode readPaperRecords}) and refuse a run key recorded twice.
 *
 * @example
 * ```ts
 * import { parseShard, shardFile } from "./shard.ts";
 * console.log(shardFile("out/results", "pdquant", parseShard("2/4")));
 * // out/results/pdquant.shard-2-of-4.jsonl
 * ```
 *
 * @module
 */
import type { RunSpec } from "./cells.ts";
import { appendRecord, readRecords, type ResultRecord, resultsPath, runKey } from "./record.ts";

/** One part of N (1-based). */
export interface Shard {
  index: number;
  count: number;
}

/** `I/N` → the shard; a RangeError naming the text otherwise. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) {
    throw new RangeError(`--shard takes I/N with 1 ≤ I ≤ N (got "${text}")`);
  }
  return { index, count };
}

/** The records file of one shard: `<dir>/<paper>.shard-I-of-N.jsonl`. */
export function shardFile(dir: string, paper: string, shard: Shard): string {
  return resultsPath(paper, dir).replace(
    /\.jsonl$/,
    `.shard-${shard.index}-of-${shard.count}.jsonl`,
  );
}

/** Every records file of a paper in `dir`: `<paper>.jsonl`, then its shard files in order. */
export async function paperRecordFiles(dir: string, paper: string): Promise<string[]> {
  const main = resultsPath(paper, dir);
  const base = main.slice(main.lastIndexOf("/") + 1).replace(/\.jsonl$/, "");
  const re = new RegExp(
    `^${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.shard-(\\d+)-of-(\\d+)\\.jsonl$`,
  );
  const shards: { name: string; i: number; n: number }[] = [];
  try {
    for await (const e of Deno.readDir(main.slice(0, main.lastIndexOf("/")) || ".")) {
      const m = e.isFile ? re.exec(e.name) : null;
      if (m) shards.push({ name: e.name, i: Number(m[1]), n: Number(m[2]) });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  shards.sort((a, b) => a.n - b.n || a.i - b.i);
  const dirPart = main.slice(0, main.lastIndexOf("/") + 1);
  let hasMain = false;
  try {
    hasMain = (await Deno.stat(main)).isFile;
  } catch {
    hasMain = false;
  }
  return [...(hasMain ? [main] : []), ...shards.map((s) => dirPart + s.name)];
}

/** A paper's records from all its files, and the files read. */
export interface PaperRecords {
  records: ResultRecord[];
  files: string[];
  /** Torn last lines (killed writers), skipped. */
  torn: { file: string; line: number; reason: string }[];
}

/**
 * Every record of a paper in `dir` (its main file and all shard files); a run key recorded in two
 * places is a RangeError naming both (a shard ran what another file already held).
 */
export async function readPaperRecords(dir: string, paper: string): Promise<PaperRecords> {
  const files = await paperRecordFiles(dir, paper);
  const seen = new Map<string, string>();
  const records: ResultRecord[] = [];
  const torn: PaperRecords["torn"] = [];
  for (const file of files) {
    const r = await readRecords(file);
    if (r.torn) torn.push({ file, line: r.torn.line, reason: r.torn.reason });
    for (const rec of r.records) {
      const key = runKey(rec);
      const where = seen.get(key);
      if (where) {
        throw new RangeError(
          `run ${key} is recorded twice: in ${where} and in ${file}; keep one of the two lines`,
        );
      }
      seen.set(key, file);
      records.push(rec);
    }
  }
  return { records, files, torn };
}

/**
 * Moves the records of shards 1..`count` of a paper into its main file (`reproduce --jobs`, whose
 * local processes each wrote one shard file) and removes those shard files. Idempotent: a record
 * already in the main file is not appended again, so a consolidation killed part-way is finished
 * by the next one. Returns how many records moved.
 */
export async function consolidateShards(
  dir: string,
  paper: string,
  count: number,
): Promise<number> {
  const main = resultsPath(paper, dir);
  let moved = 0;
  for (let index = 1; index <= count; index++) {
    const file = shardFile(dir, paper, { index, count });
    const { records } = await readRecords(file);
    for (const rec of records) if (await appendRecord(main, rec)) moved++;
    try {
      await Deno.remove(file);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return moved;
}

/** A run's expected wall-clock and where the estimate comes from. */
export interface CostEstimate {
  /** Seconds, or null where nothing recorded tells (then only `units` are known). */
  seconds: number | null;
  /** The budget's work: iterations per unit × calibration images (+1 so RTN counts). */
  units: number;
  basis: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The kind of a run for cost estimates (with and without its bits). */
function kinds(r: {
  suite: string;
  method: string;
  model: { name: string };
  budget: string;
  bits: { w: number; a: number };
  key?: string;
}, budgetPart: string): [string, string] {
  const base = [r.suite, r.method, r.model.name, budgetPart].join("|");
  return [`${base}|w${r.bits.w}a${r.bits.a}`, base];
}

/** The budget part of a run key (its 7th field). */
const budgetOf = (key: string) => key.split("|")[6] ?? "";

/**
 * Expected costs of `runs` from `records`. For a partition (`stable`, the default) the records of
 * planned keys are left out, so that a sharded job's own progress never moves the estimates; for
 * a display, every record counts.
 */
export function estimateCosts(
  runs: readonly RunSpec[],
  records: readonly ResultRecord[],
  stable = true,
): Map<string, CostEstimate> {
  const planned = new Set(stable ? runs.map((r) => r.key) : []);
  const byKind = new Map<string, number[]>();
  for (const rec of records) {
    const key = runKey(rec);
    if (planned.has(key) || rec.resumed) continue;
    for (const k of kinds(rec, budgetOf(key))) {
      byKind.set(k, [...(byKind.get(k) ?? []), rec.wall_s]);
    }
  }
  const out = new Map<string, CostEstimate>();
  const ratios: number[] = [];
  for (const r of runs) {
    const iters = Number(r.config.iters ?? 0);
    const units = (1 + iters) * r.calibration.n;
    const [withBits, without] = kinds(r, budgetOf(r.key));
    const hit = byKind.get(withBits) ?? byKind.get(without);
    const seconds = hit ? median(hit) : null;
    if (seconds !== null) ratios.push(seconds / units);
    out.set(r.key, {
      seconds,
      units,
      basis: hit
        ? `median of ${hit.length} recorded run${hit.length > 1 ? "s" : ""} of the same kind`
        : "from the budget",
    });
  }
  // Runs with no recorded kind: the budget's work at the seconds per unit of work of the others.
  const perUnit = ratios.length ? median(ratios) : null;
  for (const e of out.values()) {
    if (e.seconds === null && perUnit !== null) e.seconds = e.units * perUnit;
  }
  return out;
}

/** The expected seconds of `runs` in all; null where any of them has no time scale. */
export function secondsOf(
  runs: readonly RunSpec[],
  estimates: ReadonlyMap<string, CostEstimate>,
): number | null {
  let total = 0;
  for (const r of runs) {
    const s = estimates.get(r.key)?.seconds;
    if (s === null || s === undefined) return null;
    total += s;
  }
  return total;
}

/** A duration as people read it: "45 s", "12 min", "3.4 h". */
export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** One shard's share of the plan. */
export interface ShardPlan {
  shard: Shard;
  runs: RunSpec[];
  /** Expected seconds (null where no recorded run gives a scale). */
  seconds: number | null;
  units: number;
}

/**
 * Splits `runs` into `count` shards: runs with the same computation key stay together; groups,
 * most expensive first (ties by run key), go to the least-loaded shard (ties to the lowest index).
 */
export function partition(
  runs: readonly RunSpec[],
  costs: ReadonlyMap<string, CostEstimate>,
  count: number,
  computationKey: (r: RunSpec) => string,
): ShardPlan[] {
  const groups = new Map<string, RunSpec[]>();
  for (const r of runs) {
    const k = computationKey(r);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const allTimed = runs.every((r) => costs.get(r.key)?.seconds !== null);
  const weight = (g: RunSpec[]) => {
    const c = costs.get(g[0].key)!;
    return allTimed ? c.seconds! : c.units;
  };
  const ordered = [...groups.values()].sort((a, b) =>
    weight(b) - weight(a) || (a[0].key < b[0].key ? -1 : a[0].key > b[0].key ? 1 : 0)
  );
  const plans: ShardPlan[] = Array.from({ length: count }, (_, i) => ({
    shard: { index: i + 1, count },
    runs: [],
    seconds: allTimed ? 0 : null,
    units: 0,
  }));
  const load = plans.map(() => 0);
  for (const g of ordered) {
    let best = 0;
    for (let i = 1; i < count; i++) if (load[i] < load[best]) best = i;
    load[best] += weight(g);
    const p = plans[best];
    p.runs.push(...g);
    // A group runs once; its copies cost nothing.
    const c = costs.get(g[0].key)!;
    p.units += c.units;
    if (p.seconds !== null) p.seconds += c.seconds!;
  }
  // Each shard runs its runs in plan order.
  const order = new Map(runs.map((r, i) => [r.key, i]));
  for (const p of plans) p.runs.sort((a, b) => order.get(a.key)! - order.get(b.key)!);
  return plans;
}
