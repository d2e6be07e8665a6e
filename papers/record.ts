/**
 * The result record (one JSON line per run) and its append-only JSONL store.
 *
 * Every record is validated with zod when it is written and again when it is read. Appends are one
 * `write` of one complete line followed by `fdatasync`, so a killed run can at worst leave a torn
 * last line: `readRecords` reports and skips it, and the next `appendRecord` cuts it off before
 * writing. A corrupt line anywhere else is an error naming its line number.
 *
 * @example
 * ```ts
 * import { appendRecord, readRecords, runKey } from "./record.ts";
 * const path = await Deno.makeTempFile({ suffix: ".jsonl" });
 * // appendRecord(path, record) returns false when a record with the same runKey is stored.
 * const { records } = await readRecords(path);
 * console.log(records.length); // 0
 * ```
 *
 * @module
 */
import { z } from "zod";
import {
  BitsSchema,
  BudgetNameSchema,
  formatIssues,
  MethodIdSchema,
  PaperIdSchema,
  PercentSchema,
  SuiteSchema,
} from "./schema.ts";
import { migrateRecord } from "./record_migrate.ts";

/** The record schema version written by this code. */
export const RECORD_SCHEMA_VERSION = 1;

/** A JSON value (what a resolved method config may hold). */
export type JsonValue = string | number | boolean | null | JsonValue[] | {
  [key: string]: JsonValue;
};
/** A zod schema for JSON values (finite numbers only). */
export const JsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(JsonValueSchema),
    z.record(z.string(), JsonValueSchema),
  ])
);

/** Accuracy-style metrics (percent). A classification run has top1; a detection run has map. */
const MetricValuesSchema = z.strictObject({
  top1: PercentSchema.optional(),
  top5: PercentSchema.optional(),
  map: PercentSchema.optional(),
  /** How many images the metric was computed on (for its sampling error). */
  n: z.int().min(1).optional(),
});

/** The per-unit reconstruction losses along the network (MRECG's oscillation plot). */
export const UnitLossSchema = z.strictObject({
  /** The unit's name in forward order, e.g. "layer2.0" or "merge(3,4)". */
  unit: z.string().min(1),
  /** The reconstruction loss at the end of the unit's optimisation. */
  loss: z.number().nonnegative(),
  /** The loss before optimisation, where measured. */
  loss_init: z.number().nonnegative().optional(),
  /** Seconds the unit's reconstruction took (in whichever process did it). */
  seconds: z.number().nonnegative().optional(),
});

/** One protocol's pick among a run's epochs. */
const SelectionPickSchema = MetricValuesSchema.extend({
  rule: z.string().min(1),
  epoch: z.int().min(0),
});

/** One process's share of a resumed run: units `from` … `to` − 1 (0-based). */
export const SegmentSchema = z.strictObject({
  started: z.iso.datetime({ offset: true }).nullable(),
  commit: z.string().min(1).nullable(),
  from: z.int().min(0),
  to: z.int().min(1),
});

/** One run's result. */
export const ResultRecordSchema = z.strictObject({
  schema: z.literal(RECORD_SCHEMA_VERSION),
  paper: PaperIdSchema,
  /** The reported cell this run was planned for (papers/cells.ts `cellId`). */
  cell: z.string().min(1),
  suite: SuiteSchema,
  recipe: z.strictObject({ id: z.string().min(1), version: z.int().min(1) }),
  method: MethodIdSchema,
  model: z.strictObject({
    name: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lower-case hex digits"),
  }),
  bits: z.strictObject({ w: BitsSchema, a: BitsSchema }),
  /** The fully resolved method config (paper-fixed settings after the budget is applied). */
  config: z.record(z.string(), JsonValueSchema),
  seed: z.int(),
  calibration: z.strictObject({
    n: z.int().min(0),
    ids: z.array(z.union([z.string(), z.int()])).optional(),
    hash: z.string().min(1).optional(),
    source: z.string().optional(),
  }).refine((c) => c.ids !== undefined || c.hash !== undefined, {
    message: "give the calibration sample's ids or their hash",
  }).refine((c) => c.ids === undefined || c.ids.length === c.n, {
    message: "calibration.ids must hold n ids",
  }),
  budget: BudgetNameSchema,
  backend: z.string().min(1),
  adapter: z.string().min(1),
  versions: z.strictObject({
    ptq_bench: z.string().min(1),
    deno: z.string().min(1),
    onnxruntime: z.string().min(1).optional(),
  }),
  started: z.iso.datetime({ offset: true }),
  wall_s: z.number().nonnegative(),
  peak_mem_mb: z.number().nonnegative(),
  metrics: MetricValuesSchema.extend({ unit_losses: UnitLossSchema.array().optional() })
    .refine((m) => m.top1 !== undefined || m.map !== undefined, {
      message: "metrics need top1 or map",
    }),
  /** The same model exported to QDQ ONNX and evaluated on onnxruntime. */
  exported: MetricValuesSchema.optional(),
  /**
   * The same file on onnxruntime's fused integer kernels (graph optimisation "all"); absent where
   * onnxruntime rejected it, and in records made before it was recorded.
   */
  exported_int8: MetricValuesSchema.optional(),
  /** The FP32 model, evaluated on the same images. */
  fp32: MetricValuesSchema.refine((m) => m.top1 !== undefined || m.map !== undefined, {
    message: "fp32 needs top1 or map",
  }),
  /**
   * An ad-hoc run's inputs (`deno task quantize`, suite `adhoc`): the model as named and its
   * file, the image folders, the calibration preprocessing choice and the method config fields
   * given directly.
   */
  adhoc: z.strictObject({
    model: z.string().min(1),
    model_path: z.string().min(1),
    size: z.int().min(1).optional(),
    calib_dir: z.string().min(1),
    eval_dir: z.string().min(1),
    calib_preprocess: z.enum(["model", "plain"]),
    method_config: z.record(z.string(), JsonValueSchema),
  }).optional(),
  /**
   * Set when the run continued from a unit checkpoint: how many units earlier processes had done,
   * and which processes (`started`, `wall_s`, `peak_mem_mb` and `versions` are this process's).
   */
  resumed: z.strictObject({
    units_done: z.int().min(1),
    earlier: SegmentSchema.array().min(1),
  }).optional(),
  /**
   * Epoch selection of an epoch-based method (FDDA): the official protocol's pick (the best test
   * top-1 over the evaluated epochs: it selects on the test set; null when no epoch was
   * evaluated), the test-free pick (the returned model, the last epoch: `metrics`), and the
   * accuracy after each evaluated epoch.
   */
  selection: z.strictObject({
    official: SelectionPickSchema.nullable(),
    test_free: SelectionPickSchema,
    per_epoch: MetricValuesSchema.extend({ epoch: z.int().min(0) }).array(),
  }).optional(),
  notes: z.string().array(),
});
export type ResultRecord = z.infer<typeof ResultRecordSchema>;

/** The fields that identify a run (what the runner compares to skip work already done). */
export interface RunIdentity {
  paper: string;
  suite: string;
  recipe: { id: string; version: number };
  method: string;
  model: { name: string };
  bits: { w: number; a: number };
  seed: number;
  budget: string;
  /** The calibration size (part of a `custom` run's identity). */
  calibration?: { n: number };
  /**
   * A run spec's resolved recipe config, or a record's config (which holds it under `recipe`):
   * a `custom` run's iterations and `set` hyper-parameters are part of its identity.
   */
  config?: Record<string, JsonValue>;
}

/**
 * The key of a run: equal keys mean the same run (the cell is not part of it, so two cells whose
 * recipes resolve to the same proxy run share one record).
 *
 * @example
 * ```ts
 * import { runKey } from "./record.ts";
 * console.log(runKey({
 *   paper: "pdquant", suite: "proxy", recipe: { id: "pdquant/pdquant@resnet", version: 1 },
 *   method: "pdquant", model: { name: "proxy_resnet" }, bits: { w: 2, a: 2 }, seed: 1005,
 *   budget: "quick",
 * })); // pdquant|proxy|pdquant/pdquant@resnet@1|pdquant|proxy_resnet|w2a2|quick|seed=1005
 * ```
 */
export function runKey(r: RunIdentity): string {
  return [
    r.paper,
    r.suite,
    `${r.recipe.id}@${r.recipe.version}`,
    r.method,
    r.model.name,
    `w${r.bits.w}a${r.bits.a}`,
    budgetKey(r),
    `seed=${r.seed}`,
  ].join("|");
}

/**
 * The budget part of a run key: the name, and for `custom` the iterations per unit, calibration
 * size and replaced hyper-parameters, e.g. `custom(100it,256calib,adaround_lr=0.01)` (runs of
 * different custom settings are different runs).
 */
function budgetKey(r: RunIdentity): string {
  if (r.budget !== "custom") return r.budget;
  const c = r.config ?? {};
  const nested = c.recipe;
  const recipe = nested && typeof nested === "object" && !Array.isArray(nested) ? nested : c;
  const set = recipe.set && typeof recipe.set === "object" && !Array.isArray(recipe.set)
    ? setText(recipe.set, ",")
    : "";
  return `custom(${recipe.iters ?? "?"}it,${r.calibration?.n ?? "?"}calib${set && `,${set}`})`;
}

/** Replaced recipe settings (`reproduce --set`) as text: `adaround_lr=0.01<sep>T=4`. */
export function setText(set: Record<string, JsonValue> | undefined, sep = ", "): string {
  return Object.entries(set ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(sep);
}

/** The default results file of a paper: `<dir>/<paper>.jsonl`, dir defaulting to out/results. */
export function resultsPath(paper: string, dir = "out/results"): string {
  return `${dir.replace(/\/+$/, "")}/${paper}.jsonl`;
}

/**
 * Validate a record, throwing a TypeError that lists every failing zod path. Older record
 * versions (`ptq-bench/quantize@1`) are migrated first (`record_migrate.ts`).
 */
export function validateRecord(value: unknown, where = "result record"): ResultRecord {
  const result = ResultRecordSchema.safeParse(migrateRecord(value));
  if (!result.success) throw new TypeError(`Invalid ${where}:\n${formatIssues(result.error)}`);
  return result.data;
}

/** What `readRecords` found. */
export interface ReadResult {
  records: ResultRecord[];
  /** A torn last line (a run killed mid-write), skipped. */
  torn?: { line: number; text: string; reason: string };
}

/**
 * Parse JSONL text into validated records. A last line without its newline that does not parse is
 * reported as torn and skipped; any other bad line throws a SyntaxError/TypeError naming its line.
 * A file holding one pretty-printed JSON record (an old `quantize --json` file) is one record.
 */
export function parseRecords(text: string, where = "results"): ReadResult {
  if (/^\s*\{\s*\n/.test(text)) {
    let whole: unknown;
    try {
      whole = JSON.parse(text);
    } catch {
      whole = undefined;
    }
    if (whole !== undefined) return { records: [validateRecord(whole, `record ${where}`)] };
  }
  const lines = text.split("\n");
  const endsClean = text.endsWith("\n") || text.length === 0;
  const records: ResultRecord[] = [];
  let torn: ReadResult["torn"];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === "") continue;
    const isLast = i === lines.length - 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      if (isLast && !endsClean) {
        torn = { line: i + 1, text: line.slice(0, 200), reason: (e as Error).message };
        continue;
      }
      throw new SyntaxError(`${where}:${i + 1}: not valid JSON: ${(e as Error).message}`);
    }
    records.push(validateRecord(value, `record at ${where}:${i + 1}`));
  }
  return torn ? { records, torn } : { records };
}

/** Read and validate a JSONL results file; a missing file holds no records. */
export async function readRecords(path: string): Promise<ReadResult> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { records: [] };
    throw e;
  }
  return parseRecords(text, path);
}

/** The run keys already stored in a results file. */
export async function recordedKeys(path: string): Promise<Set<string>> {
  const { records } = await readRecords(path);
  return new Set(records.map(runKey));
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

/**
 * Validate `rec` and append it as one line, unless a record with the same run key is stored
 * (then nothing is written and the result is false). A torn last line left by a killed run is
 * cut off first. The line goes out in one write call and is fsync'ed before returning true.
 */
export async function appendRecord(path: string, rec: ResultRecord): Promise<boolean> {
  const valid = validateRecord(rec);
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
  let existing = "";
  try {
    existing = await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const { records, torn } = parseRecords(existing, path);
  const key = runKey(valid);
  if (records.some((r) => runKey(r) === key)) return false;
  // A valid last line that lost its newline (a hand edit) keeps its record: start a new line.
  const lead = !torn && existing.length > 0 && !existing.endsWith("\n") ? "\n" : "";
  const bytes = new TextEncoder().encode(lead + JSON.stringify(valid) + "\n");
  const file = await Deno.open(path, { write: true, create: true, append: !torn });
  try {
    if (torn) {
      // Keep everything up to the last complete line, then write after it.
      const keep = new TextEncoder().encode(existing.slice(0, existing.lastIndexOf("\n") + 1));
      await file.truncate(keep.length);
      await file.seek(keep.length, Deno.SeekMode.Start);
    }
    await writeAll(file, bytes);
    await file.syncData();
  } finally {
    file.close();
  }
  return true;
}
