/**
 * Cells, recipes and run plans.
 *
 * A **cell** is one reported number of a paper: (paper, architecture, W/A bits, method). A
 * **recipe** is versioned data that says how the paper produced it: what the paper fixes
 * (calibration size, iterations, seeds, hyper-parameters). `planCell` turns (cell, recipe, suite,
 * budget) into concrete runs; what the machine chooses (backend, batch size for evaluation, paths)
 * lives in `MachineSettings` and never changes a run's identity (`runKey`).
 *
 * Budgets (iterations per reconstruction unit, calibration images, seeds, evaluation images):
 *
 * | budget | iterations/unit | calibration | seeds | evaluation |
 * |---|---|---|---|---|
 * | smoke | 20 | ≤ 64 images | the first seed | ≤ 500 images |
 * | quick | 2,000 (a tenth of the papers' 20,000) | the paper's | 3 | all |
 * | paper | the recipe's (20,000 for PD-Quant and MRECG) | the paper's | the recipe's | all |
 * | custom | given (`--iters N`) | the paper's, or given (`--calib-n N`) | the recipe's (`--seeds N` takes the first N) | all |
 *
 * `custom` is for a machine where `quick` is too slow (a CPU on the 224² ImageNet models): its
 * records say how far they are from the paper's setup (`config.iters`, `config.calib_n`), and a
 * report never averages runs of different custom settings. A custom budget may also replace
 * recipe hyper-parameters (`--set adaround_lr=0.01`): the resolved config then lists them under
 * `set`, and they are part of the run's identity like the iterations are.
 *
 * A recipe may give its own `smoke_iters` where the budget's 20 iterations are too slow for a
 * pipeline check (FDDA's iterations are whole generator + student training steps).
 *
 * Config keys listed in a recipe's `scaled_by_budget` (e.g. PD-Quant's 500 DC steps) shrink by
 * the same factor as the iterations.
 *
 * @example
 * ```ts
 * import { budgetText } from "./cells.ts";
 * console.log(budgetText("custom", { iters: 100, calibration: 256 })); // custom (100 it/unit, 256 calib)
 * ```
 *
 * @module
 */
import { z } from "zod";
import { type JsonValue, JsonValueSchema, runKey, setText } from "./record.ts";
import {
  ArchIdSchema,
  type BudgetName,
  type Checkpoint,
  MethodIdSchema,
  type Metric,
  PaperIdSchema,
  type PaperMeta,
  parseOrThrow,
  type ReportedRow,
  rowCellKey,
  type Suite,
} from "./schema.ts";

/** One reported cell: its primary row and the other printed versions of the same number. */
export interface Cell {
  /** `paper/arch/wXaY/method`, e.g. "pdquant/resnet18/w2a2/pdquant". */
  id: string;
  paper: string;
  arch: string;
  /** The model as printed in the primary row. */
  model: string;
  w_bits: number;
  a_bits: number;
  method: string;
  metric: Metric;
  row: ReportedRow;
  alternates: ReportedRow[];
}

/** The id of a cell. */
export function cellId(paper: string, arch: string, w: number, a: number, method: string): string {
  return `${paper}/${arch}/w${w}a${a}/${method}`;
}

/**
 * Group a paper's rows into cells. Every cell needs exactly one primary row; rows of a cell that
 * are not primary (another paper version, a secondary source) become its alternates.
 */
export function cellsOf(paper: string, rows: readonly ReportedRow[]): Cell[] {
  const byKey = new Map<string, ReportedRow[]>();
  for (const row of rows) {
    const key = rowCellKey(row);
    byKey.set(key, [...(byKey.get(key) ?? []), row]);
  }
  const cells: Cell[] = [];
  for (const [key, group] of byKey) {
    const primary = group.filter((r) => r.primary);
    if (primary.length !== 1) {
      throw new RangeError(`Cell ${paper}/${key} has ${primary.length} primary rows, expected 1`);
    }
    const row = primary[0];
    cells.push({
      id: cellId(paper, row.arch, row.w_bits, row.a_bits, row.method),
      paper,
      arch: row.arch,
      model: row.model,
      w_bits: row.w_bits,
      a_bits: row.a_bits,
      method: row.method,
      metric: row.metric,
      row,
      alternates: group.filter((r) => !r.primary),
    });
  }
  return cells;
}

// ---------------------------------------------------------------------------------------------
// Suites: which model stands in for a paper's architecture

/**
 * Which model stands in for a paper's architecture in the suites that do not run the paper's
 * own checkpoint: `proxy` (the project's Fashion-MNIST models) and `imagenet-subset` (the shared
 * ImageNet models). Each paper declares its own, in its folder.
 */
export interface StandIns {
  proxy: Readonly<Record<string, string>>;
  "imagenet-subset": Readonly<Record<string, string>>;
}

/** What planning needs to know of a paper. */
export interface PlanContext {
  meta: PaperMeta;
  standIns: StandIns;
}

/** The evaluation and calibration data each suite uses. */
export const SUITE_DATA: Readonly<
  Record<Suite, { eval: string; calibration: string; calibration_max?: number }>
> = {
  proxy: {
    eval: "fashion-mnist test (10,000 images)",
    calibration: "fashion-mnist train, seeded sample",
  },
  "imagenet-subset": {
    eval: "ilsvrc2012_val_subset1300_227px (1,300 val images)",
    calibration: "calib1000_one_per_class_256px, seeded sample",
    calibration_max: 1000,
  },
  imagenet: {
    eval: "ILSVRC2012 val (50,000 images, --imagenet DIR)",
    calibration: "ILSVRC2012 train (--imagenet DIR), seeded sample",
  },
  voc: { eval: "VOC2007 test", calibration: "VOC07+12 trainval, seeded sample" },
  adhoc: {
    eval: "the image folder named by --data",
    calibration: "the image folder named by --calib, seeded sample",
  },
};

// ---------------------------------------------------------------------------------------------
// Budgets

/** What a budget does to a recipe. */
export interface Budget {
  name: BudgetName;
  /** Iterations per unit given the recipe's own; */
  iters(recipeIters: number): number;
  calibrationMax?: number;
  /** How many of the recipe's seeds run (undefined: all). */
  seeds?: number;
  /** At most this many evaluation images (undefined: all). */
  evalLimit?: number;
  note: string;
}

/** The three budgets. */
export const BUDGETS: Readonly<Record<BudgetName, Budget>> = {
  smoke: {
    name: "smoke",
    iters: (n) => Math.min(20, n),
    calibrationMax: 64,
    seeds: 1,
    evalLimit: 500,
    note: "checks that the pipeline runs; the numbers mean nothing",
  },
  quick: {
    name: "quick",
    iters: (n) => Math.min(2000, n),
    seeds: 3,
    note: "a tenth of the papers' 20,000 iterations per unit; enough for method orderings",
  },
  paper: {
    name: "paper",
    iters: (n) => n,
    note: "the paper's iterations, calibration size and seeds",
  },
  custom: {
    name: "custom",
    iters: (n) => n, // replaced by the override's iterations
    note: "iterations per unit (and calibration size) chosen for the machine; see each record",
  },
};

/** The settings a `custom` budget takes from the command line. */
export interface BudgetOverride {
  /** Iterations per reconstruction unit (required). */
  iters: number;
  /** Calibration images (default: the recipe's, capped by the suite's data). */
  calibration?: number;
  /**
   * Recipe hyper-parameters replaced for this run, by the recipe's own key names (e.g.
   * `{ adaround_lr: 0.01 }`); each must be a key of the recipe's fixed config, of the same type.
   */
  set?: Record<string, JsonValue>;
}

/**
 * A budget as people read it: the name, and for `custom` its iterations per unit and (when
 * known) calibration size, e.g. "custom (100 it/unit, 256 calib)".
 */
export function budgetText(budget: string, override?: Partial<BudgetOverride>): string {
  if (budget !== "custom" || override?.iters === undefined) return budget;
  const calib = override.calibration === undefined ? "" : `, ${override.calibration} calib`;
  const set = setText(override.set);
  return `custom (${override.iters} it/unit${calib}${set ? `, ${set}` : ""})`;
}

/** Resolved-config keys that the budget and the cell set, never `--set`. */
const BUDGET_KEYS = ["w_bits", "a_bits", "iters", "calib_n", "batch", "first_last_8bit", "set"];

/** Checks that an override goes with the `custom` budget and only with it. */
export function checkOverride(budget: BudgetName, override?: BudgetOverride): void {
  if (budget === "custom") {
    if (!override || !(Number.isInteger(override.iters) && override.iters >= 0)) {
      throw new RangeError(
        "budget custom needs the iterations per unit (--iters N, a non-negative integer)",
      );
    }
    const c = override.calibration;
    if (c !== undefined && !(Number.isInteger(c) && c >= 1)) {
      throw new RangeError(`--calib-n must be a positive integer (got ${c})`);
    }
    for (const k of Object.keys(override.set ?? {})) {
      if (BUDGET_KEYS.includes(k)) {
        throw new RangeError(
          `--set ${k}: the budget decides ${k} (use --iters / --calib-n / the cell's bits)`,
        );
      }
    }
  } else if (override) {
    throw new RangeError(
      `--iters / --calib-n / --set make a custom budget; they do not go with --budget ${budget}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Recipes

/** A recipe: how a paper produced a family of cells (versioned data). */
export const RecipeSchema = z.strictObject({
  /** e.g. "pdquant/pdquant@resnet" */
  id: z.string().regex(/^[a-z0-9][a-z0-9_./+@-]*$/),
  /** Bump when any fixed setting changes; records of older versions no longer count. */
  version: z.int().min(1),
  paper: PaperIdSchema,
  /** The registry id of the method that runs (`methods/mod.ts`). */
  method: MethodIdSchema,
  /**
   * The method id of the paper's cells it reproduces, where it differs from `method` (the paper's
   * "MRECG+QDrop" is method `mrecg` with `base: "qdrop"` in its config).
   */
  cell_method: MethodIdSchema.optional(),
  /** The architectures (cells) it applies to. */
  archs: ArchIdSchema.array().min(1),
  /** What the paper fixes. */
  fixed: z.strictObject({
    calibration: z.strictObject({
      n: z.int().min(1),
      /** Reconstruction batch size (a paper setting, not a machine one). */
      batch: z.int().min(1),
      source: z.string(),
      augment: z.string(),
    }),
    iters_per_unit: z.int().min(1),
    /**
     * Iterations at the `smoke` budget where the budget's 20 would not be a quick pipeline check
     * (FDDA: 20 whole generator + student training steps); at most `iters_per_unit`. The record's
     * `config.iters` is what ran.
     */
    smoke_iters: z.int().min(1).optional(),
    seeds: z.int().array().min(1),
    first_last_8bit: z.boolean(),
    /** Method hyper-parameters with the paper's values, passed to the method's config schema. */
    config: z.record(z.string(), JsonValueSchema),
    /** Config keys that scale with the budget like the iterations do (e.g. "dc_steps"). */
    scaled_by_budget: z.string().array(),
  }),
  /** Where each fixed value comes from, and what is inferred. */
  notes: z.string().array(),
});
export type Recipe = z.infer<typeof RecipeSchema>;

/** Validate a list of recipes (ids unique). */
export function parseRecipes(values: unknown[], where: string): Recipe[] {
  const recipes = values.map((v, i) => parseOrThrow(RecipeSchema, v, `${where} recipe ${i}`));
  const ids = new Set<string>();
  for (const r of recipes) {
    if (ids.has(r.id)) throw new RangeError(`${where}: recipe id ${r.id} is used twice`);
    ids.add(r.id);
  }
  return recipes;
}

/** The paper method id of the cells a recipe reproduces. */
export function cellMethodOf(recipe: Recipe): string {
  return recipe.cell_method ?? recipe.method;
}

/** The recipe for a cell (same method, architecture listed), if the harness can run it. */
export function recipeFor(recipes: readonly Recipe[], cell: Cell): Recipe | undefined {
  return recipes.find((r) => cellMethodOf(r) === cell.method && r.archs.includes(cell.arch));
}

// ---------------------------------------------------------------------------------------------
// Plans

/** What the machine chooses: never part of a run's identity. */
export interface MachineSettings {
  backend: string;
  /** Evaluation batch size. */
  evalBatch: number;
  threads?: number;
  modelsDir?: string;
  imagenetDir?: string;
  assetsDir?: string;
  resultsDir?: string;
}

/** One concrete run of a cell. */
export interface RunSpec {
  key: string;
  paper: string;
  cell: string;
  suite: Suite;
  recipe: { id: string; version: number };
  /** The cell's method id, as the paper names it (part of the run key). */
  method: string;
  /** The registry id of the method that runs (`methods/mod.ts`). */
  methodId: string;
  model: { name: string; checkpoint?: string; onnx?: string };
  bits: { w: number; a: number };
  /** The fully resolved method config. */
  config: Record<string, JsonValue>;
  seed: number;
  calibration: { n: number; source: string };
  budget: BudgetName;
  eval: { data: string; limit?: number };
  /**
   * An ad-hoc run's inputs (`deno task quantize`): the model file and image folders named on the
   * command line, and method config fields given directly (`--config`), applied after the
   * recipe keys. Absent for a paper's runs.
   */
  adhoc?: AdhocInputs;
}

/** The inputs of an ad-hoc run (suite `adhoc`). */
export interface AdhocInputs {
  /** `--model`: a registry name or an ONNX file. */
  model: string;
  /** `--size`: the input size, where it differs from the model's. */
  size?: number;
  calibDir: string;
  evalDir: string;
  /** How calibration images are preprocessed: the model's own evaluation transform, or plain. */
  calibPreprocess?: "model" | "plain";
  /** Method config fields given directly (method names, e.g. `{ "weightLr": 0.01 }`). */
  methodConfig?: Record<string, JsonValue>;
}

/** Runs for a cell in a suite, or why there are none. */
export type Plan =
  | { ok: true; runs: RunSpec[] }
  | { ok: false; reason: string; how?: string };

/** The paper checkpoint of a cell, from the paper metadata. */
export function checkpointOf(cell: Cell, meta: PaperMeta): Checkpoint | undefined {
  return meta.checkpoints.find((c) => c.id === cell.row.checkpoint);
}

/** Resolve a recipe's config under a budget and bits (pure). */
export function resolveConfig(
  recipe: Recipe,
  budget: BudgetName,
  bits: { w: number; a: number },
  calibrationN: number,
  override?: BudgetOverride,
): Record<string, JsonValue> {
  checkOverride(budget, override);
  const full = recipe.fixed.iters_per_unit;
  const iters = override
    ? override.iters
    : budget === "smoke" && recipe.fixed.smoke_iters !== undefined
    ? Math.min(recipe.fixed.smoke_iters, full)
    : BUDGETS[budget].iters(full);
  const config: Record<string, JsonValue> = { ...recipe.fixed.config };
  for (const key of recipe.fixed.scaled_by_budget) {
    const v = config[key];
    if (typeof v !== "number") {
      throw new TypeError(`Recipe ${recipe.id}: scaled key ${key} is not a number`);
    }
    config[key] = Math.max(1, Math.round((v * iters) / full));
  }
  const set = override?.set ?? {};
  for (const [key, v] of Object.entries(set)) {
    if (!(key in recipe.fixed.config)) {
      throw new RangeError(
        `--set ${key}: recipe ${recipe.id} has no such setting; its settings: ` +
          Object.keys(recipe.fixed.config).join(", "),
      );
    }
    const was = recipe.fixed.config[key];
    if (typeof was !== typeof v || Array.isArray(was) !== Array.isArray(v)) {
      throw new RangeError(
        `--set ${key}=${JSON.stringify(v)}: recipe ${recipe.id} has ${key}=${
          JSON.stringify(was)
        }, a value of another type`,
      );
    }
    config[key] = v;
  }
  return {
    ...config,
    w_bits: bits.w,
    a_bits: bits.a,
    iters,
    calib_n: calibrationN,
    batch: Math.min(recipe.fixed.calibration.batch, calibrationN),
    first_last_8bit: recipe.fixed.first_last_8bit,
    ...(Object.keys(set).length ? { set } : {}),
  };
}

/**
 * Plan the runs of a cell in one suite under a budget (pure: it does not look at the disk).
 */
export function planCell(
  cell: Cell,
  recipe: Recipe | undefined,
  suite: Suite,
  budgetName: BudgetName,
  paper: PlanContext,
  override?: BudgetOverride,
): Plan {
  checkOverride(budgetName, override);
  if (!recipe) {
    return {
      ok: false,
      reason: `method "${cell.method}" (${cell.row.method_printed}) is not implemented in ` +
        "ptq-bench: the paper's number is shown for reference only",
    };
  }
  let model: RunSpec["model"];
  if (suite === "voc") {
    if (cell.metric !== "map") {
      return { ok: false, reason: "a classification cell: voc is the detection suite" };
    }
    return { ok: false, reason: "no VOC detector recipe for this paper" };
  } else if (suite === "proxy") {
    const name = paper.standIns.proxy[cell.arch];
    if (!name) {
      return {
        ok: false,
        reason: `no proxy stand-in is defined for ${cell.model}`,
        how: `map the architecture to a proxy model in the paper's stand-ins ` +
          `(papers/${cell.paper}/mod.ts)`,
      };
    }
    model = { name };
  } else if (suite === "imagenet-subset") {
    const name = paper.standIns["imagenet-subset"][cell.arch];
    if (!name) {
      return {
        ok: false,
        reason: `no ${cell.model} is among the shared ImageNet models`,
        how: "export the paper's checkpoint to ONNX and run the imagenet suite (see there)",
      };
    }
    model = { name };
  } else if (suite === "adhoc") {
    return { ok: false, reason: "adhoc runs come from `deno task quantize`, not from a paper" };
  } else {
    const ck = checkpointOf(cell, paper.meta);
    if (!ck) {
      return {
        ok: false,
        reason: `the paper does not name the checkpoint behind ${cell.model}`,
      };
    }
    model = { name: ck.onnx.replace(/\.onnx$/, ""), checkpoint: ck.id, onnx: ck.onnx };
  }
  const budget = BUDGETS[budgetName];
  const cap = Math.min(
    budget.calibrationMax ?? Infinity,
    SUITE_DATA[suite].calibration_max ?? Infinity,
  );
  const n = Math.min(override?.calibration ?? recipe.fixed.calibration.n, cap);
  const seeds = recipe.fixed.seeds.slice(0, budget.seeds ?? recipe.fixed.seeds.length);
  const bits = { w: cell.w_bits, a: cell.a_bits };
  const config = resolveConfig(recipe, budgetName, bits, n, override);
  const runs = seeds.map((seed): RunSpec => {
    const spec = {
      paper: cell.paper,
      cell: cell.id,
      suite,
      recipe: { id: recipe.id, version: recipe.version },
      method: cell.method,
      methodId: recipe.method,
      model,
      bits,
      config,
      seed,
      calibration: { n, source: SUITE_DATA[suite].calibration },
      budget: budgetName,
      eval: { data: SUITE_DATA[suite].eval, limit: budget.evalLimit },
    };
    return { key: runKey(spec), ...spec };
  });
  return { ok: true, runs };
}

/** Why a planned run has no record yet, and how to get one (for reports). */
export function explainMissing(
  cell: Cell,
  recipe: Recipe | undefined,
  suite: Suite,
  paper: PlanContext,
): { reason: string; how?: string } {
  const plan = planCell(cell, recipe, suite, "paper", paper);
  if (!plan.ok) return { reason: plan.reason, how: plan.how };
  const task = `deno task reproduce ${cell.paper} --suite ${suite}`;
  if (suite === "imagenet") {
    const ck = checkpointOf(cell, paper.meta)!;
    return {
      reason: `the paper's checkpoint ${ck.id} (${ck.file ?? ck.origin}) is not present`,
      how: `export it to ONNX (opset 13, float32 NCHW 224×224 input, 1000 logits) as ` +
        `${ck.onnx}, then run \`${task} --models-dir DIR --imagenet DIR\``,
    };
  }
  if (suite === "imagenet-subset") {
    return {
      reason: "not run yet",
      how: `\`${task}\` (needs the shared assets: --assets DIR or ../shared/assets)`,
    };
  }
  return { reason: "not run yet", how: `\`${task} --budget quick\`` };
}

// ---------------------------------------------------------------------------------------------
// Claims

/** A claim the paper makes by its numbers: `better` beats `worse` on (arch, bits). */
export interface Claim {
  id: string;
  text: string;
  arch: string;
  model: string;
  w_bits: number;
  a_bits: number;
  better: string;
  worse: string;
  betterCell: string;
  worseCell: string;
  /** The paper's gap (percentage points) and where it comes from. */
  paperGap: { value: number; basis: string; verified: boolean };
}

function printedName(cell: Cell): string {
  return cell.row.method_printed.replace(/\s*\[\d+\]$/, "");
}

/**
 * The claims "better > worse" for every (arch, bits) where both methods have a cell. The paper's
 * gap is a printed delta where one exists (primary row first, then alternates), else the
 * difference of the two primary rows.
 */
export function claimsBetween(cells: readonly Cell[], better: string, worse: string): Claim[] {
  const claims: Claim[] = [];
  for (const b of cells.filter((c) => c.method === better)) {
    const w = cells.find((c) =>
      c.method === worse && c.arch === b.arch && c.w_bits === b.w_bits && c.a_bits === b.a_bits
    );
    if (!w) continue;
    const printed = [b.row, ...b.alternates].find((r) => r.printed_delta?.vs === worse);
    const diff = Math.round((b.row.value - w.row.value) * 100) / 100;
    const crossTable = b.row.table !== w.row.table;
    const paperGap = printed
      ? {
        value: printed.printed_delta!.value,
        basis: `printed delta (+${printed.printed_delta!.value}) beside ${printed.value} in ` +
          `${printed.source.paper}:${printed.source.source_id} ${printed.source.table}` +
          (printed === b.row ? "" : `; the primary rows differ by ${diff}`),
        verified: printed.verified,
      }
      : {
        value: diff,
        basis: `${b.row.value} − ${w.row.value} (primary rows` +
          (crossTable ? `, from different tables: ${b.row.table} and ${w.row.table}` : "") +
          ")",
        verified: b.row.verified && w.row.verified,
      };
    const bits = `W${b.w_bits}A${b.a_bits}`;
    claims.push({
      id: `${b.paper}/${b.arch}/w${b.w_bits}a${b.a_bits}/${better}>${worse}`,
      text: `${printedName(b)} > ${printedName(w)} at ${bits} on ${b.model}`,
      arch: b.arch,
      model: b.model,
      w_bits: b.w_bits,
      a_bits: b.a_bits,
      better,
      worse,
      betterCell: b.id,
      worseCell: w.id,
      paperGap,
    });
  }
  return claims;
}

// ---------------------------------------------------------------------------------------------
// A paper module

/** Everything a paper module provides to the runner and the report. */
export interface Paper {
  meta: PaperMeta;
  standIns: StandIns;
  rows: ReportedRow[];
  cells: Cell[];
  recipes: Recipe[];
  claims: Claim[];
  /** The harness's deviations from the paper's setup (method-level ones come from methods/). */
  deviations: string[];
  /** Each recipe's method's deviations (its registry entry), by the cells' method id. */
  methodDeviations: Readonly<Record<string, readonly string[]>>;
}
