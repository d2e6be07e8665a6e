/**
 * The resumable runner: a paper's cells → planned runs → (skipping runs already recorded) →
 * quantize, evaluate (simulated and exported QDQ on onnxruntime) → one validated record appended
 * per run.
 *
 * A killed run resumes: records are appended one line per finished run with a single write, the
 * store drops a torn last line, and every run whose key is already stored is skipped.
 *
 * @module
 */
import { noGrad, type Tensor, upload } from "../runtime/mod.ts";
import { useBackend } from "../runtime/select.ts";
import { execute, ortAccuracy, ortVersion, resolveModelInput } from "../models/mod.ts";
import {
  attempt,
  type CheckpointSpec,
  evaluate,
  type ImageSamples,
  methodById,
  methodConfigFromRecipe,
  type MethodRegistry,
  METHODS,
  type QuantModel,
  removeCheckpoint,
  type Segment,
  type Selection,
  toQdqOnnx,
} from "../methods/mod.ts";
import {
  type BudgetOverride,
  budgetText,
  type Cell,
  type Paper,
  planCell,
  recipeFor,
  type RunSpec,
} from "./cells.ts";
import { appendSamples, sampleSet, samplesPath } from "./samples.ts";
import { appendRecord, type JsonValue, type ResultRecord, resultsPath, runKey } from "./record.ts";
import type { BudgetName, Suite } from "./schema.ts";
import { PAPERS } from "./registry.ts";
import { type HostBatch, type SuiteInputs, suiteInputs, type SuitePaths } from "./suites.ts";
import {
  estimateCosts,
  formatDuration,
  partition,
  readPaperRecords,
  secondsOf,
  type Shard,
  shardFile,
  type ShardPlan,
} from "./shard.ts";

export { ortAccuracy };

/** Options of {@linkcode reproduce}. */
export interface ReproduceOptions extends SuitePaths {
  /** A paper id of `PAPERS`, or a paper module itself (a test's own). */
  paper: string | Paper;
  /** The method registry the paper's recipes run on (default `METHODS`). */
  methods?: MethodRegistry;
  suites?: Suite[];
  /** Only cells whose id contains one of these strings. */
  cells?: string[];
  budget?: BudgetName;
  /** The iterations (and calibration size) of a `custom` budget. */
  override?: BudgetOverride;
  /** Run at most this many seeds of each cell. */
  seeds?: number;
  resultsDir?: string;
  /**
   * Where a run keeps its unit-level checkpoint while it runs (default `out/checkpoints`): a
   * killed run continues after its last finished unit; the checkpoint is removed once the
   * run's record is appended.
   */
  checkpointDir?: string;
  backend?: string;
  log?: (msg: string) => void;
  /** Stop after this many new runs (for tests). */
  maxRuns?: number;
  /** List the planned runs (recorded or to run) and the cells that cannot run; run nothing. */
  dryRun?: boolean;
  /** Run only this part of the plan (`papers/shard.ts`), recording to its own file. */
  shard?: Shard;
}

/** Why a cell did not run in a suite. */
export interface Skip {
  cell: string;
  suite: Suite;
  reason: string;
  how?: string;
}

/** What {@linkcode reproduce} did. */
export interface ReproduceSummary {
  planned: number;
  ran: number;
  alreadyRecorded: number;
  failed: { key: string; error: string }[];
  skips: Skip[];
  resultsFile: string;
}

/** What makes two planned runs the same computation (everything but the cell and recipe id). */
function computationKey(
  suite: string,
  method: string,
  model: string,
  bits: { w: number; a: number },
  config: unknown,
  seed: number,
  budget: string,
  calibration: number,
): string {
  return JSON.stringify([suite, method, model, bits.w, bits.a, config, seed, budget, calibration]);
}

/** The computation key of a planned run (an ad-hoc run's inputs are part of it). */
export function runComputationKey(run: RunSpec): string {
  const key = computationKey(
    run.suite,
    run.method,
    run.model.name,
    run.bits,
    run.config,
    run.seed,
    run.budget,
    run.calibration.n,
  );
  return run.adhoc ? JSON.stringify([key, run.adhoc]) : key;
}

/** The checkpoint of a run's reconstruction: its key names the whole computation and backend. */
export function runCheckpoint(run: RunSpec, dir: string, backend: string): CheckpointSpec {
  return { dir, key: JSON.stringify([runComputationKey(run), backend]) };
}

/**
 * How a plan splits into `count` shards: the one partition `reproduce --shard`, `slurm` and
 * `slurm-status` compute (`papers/shard.ts`), from the plan and the records of other runs.
 */
export function shardPlans(
  runs: readonly RunSpec[],
  records: readonly ResultRecord[],
  count: number,
): ShardPlan[] {
  return partition(runs, estimateCosts(runs, records), count, runComputationKey);
}

let startCommit: string | undefined;

/**
 * The commit of the code this process runs: read once, at the first run, not when a record is
 * written (a long run's checkout may move on meanwhile).
 */
function processCommit(): string {
  return startCommit ??= gitCommit();
}

/** The git commit of the working tree, or "unknown". */
export function gitCommit(): string {
  try {
    const out = new Deno.Command("git", {
      args: ["rev-parse", "--short=12", "HEAD"],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const dirty = new Deno.Command("git", {
      args: ["status", "--porcelain", "--untracked-files=no"],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const id = new TextDecoder().decode(out.stdout).trim();
    const d = new TextDecoder().decode(dirty.stdout).trim() ? "+dirty" : "";
    return id ? id + d : "unknown";
  } catch {
    return "unknown";
  }
}

/** The runs a paper asks for in the given suites, deduplicated by run key. */
export function planPaper(
  paperOrId: string | Paper,
  suites: Suite[],
  budget: BudgetName,
  filter?: string[],
  maxSeeds?: number,
  override?: BudgetOverride,
): { runs: RunSpec[]; skips: Skip[]; cells: Cell[] } {
  const paper = paperOf(paperOrId);
  const cells = paper.cells.filter((c) => !filter?.length || filter.some((f) => c.id.includes(f)));
  const runs = new Map<string, RunSpec>();
  const skips: Skip[] = [];
  for (const suite of suites) {
    for (const cell of cells) {
      const plan = planCell(cell, recipeFor(paper.recipes, cell), suite, budget, paper, override);
      if (!plan.ok) {
        skips.push({ cell: cell.id, suite, reason: plan.reason, how: plan.how });
        continue;
      }
      for (const r of plan.runs.slice(0, maxSeeds ?? plan.runs.length)) {
        if (!runs.has(r.key)) runs.set(r.key, r);
      }
    }
  }
  return { runs: [...runs.values()], skips, cells };
}

/** A paper of the registry by id, or the given module. */
export function paperOf(paper: string | Paper): Paper {
  if (typeof paper !== "string") return paper;
  const p = Object.hasOwn(PAPERS, paper) ? PAPERS[paper] : undefined;
  if (!p) {
    throw new RangeError(`Unknown paper "${paper}"; known: ${Object.keys(PAPERS).join(", ")}`);
  }
  return p;
}

async function* tensorBatches(src: AsyncIterable<HostBatch>) {
  for await (const b of src) {
    const images = upload(b.images, b.shape);
    try {
      yield { images, labels: b.labels };
    } finally {
      images.dispose();
    }
  }
}

/**
 * Images on which the simulated model is run beside its exported QDQ graph before the graph's
 * accuracy stands for it (the simulated model runs ~10× slower than onnxruntime on the graph).
 */
export const SIM_CHECK_IMAGES = 64;

/** Images the exported model runs on with onnxruntime's fused integer kernels. */
export const INT8_CHECK_IMAGES = 256;

/**
 * The simulated model's accuracy. The exported QDQ graph run as written is the same arithmetic;
 * that is checked on every run: the simulated model's top-1 class on the first
 * {@linkcode SIM_CHECK_IMAGES} evaluation images must equal the graph's on each. Then the graph's
 * accuracy over all images is the simulated model's; on any difference the simulated model is
 * evaluated on every image (as before this check existed), and the record's note says which.
 */
async function simulatedAccuracy(
  model: QuantModel,
  inputs: SuiteInputs,
  limit: number | undefined,
  exported: { top1: number; top5: number; n: number },
  qdqTop1: number[],
): Promise<{ sim: { top1: number; top5: number; n: number }; simNote: string }> {
  const simTop1: number[] = [];
  const n = Math.min(SIM_CHECK_IMAGES, exported.n);
  await evaluate(model, tensorBatches(firstImages(inputs.evalBatches(limit), n)), simTop1);
  const differ = simTop1.filter((c, i) => c !== qdqTop1[i]).length;
  if (differ === 0 && simTop1.length === n) {
    return {
      sim: exported,
      simNote: `simulated model and exported QDQ graph agree on the top-1 class of each of the ` +
        `first ${n} images; the accuracy over all ${exported.n} is the graph's (onnxruntime, ` +
        `Q/DQ nodes as written)`,
    };
  }
  const sim = await evaluate(model, tensorBatches(inputs.evalBatches(limit)));
  return {
    sim,
    simNote: `simulated model and exported QDQ graph differ in the top-1 class of ${differ} of ` +
      `the first ${n} images: the simulated model was evaluated on all ${sim.n}`,
  };
}

/** The batches of `src` up to `n` images (the last one cut). */
async function* firstImages(src: AsyncIterable<HostBatch>, n: number) {
  let seen = 0;
  for await (const b of src) {
    if (seen >= n) return;
    const rows = b.labels.length, take = Math.min(rows, n - seen);
    const per = b.images.length / rows;
    yield take === rows ? b : {
      images: b.images.subarray(0, take * per),
      labels: b.labels.subarray(0, take),
      shape: [take, ...b.shape.slice(1)],
    };
    seen += take;
  }
}

const fp32Cache = new Map<string, { top1: number; top5: number; n: number }>();

async function fp32Accuracy(inputs: SuiteInputs, limit?: number) {
  const key = `${inputs.model.sha256}|${inputs.evalSource}|${limit ?? "all"}`;
  let acc = fp32Cache.get(key);
  // onnxruntime on the model file as written (an order of magnitude faster than the runtime on
  // the whole evaluation set); the runtime where onnxruntime refuses the file (a fixed batch).
  if (!acc) {
    const ort = await attempt(() =>
      ortAccuracy(Deno.readFileSync(inputs.model.path), inputs.evalBatches(limit), "disabled")
    );
    if (ort.ok) acc = ort.value;
  }
  if (!acc) {
    const g = inputs.graph;
    acc = await evaluate(
      (x: Tensor) =>
        noGrad(() => execute(g, { feeds: { [g.inputs[0].name]: x }, fetch: [g.outputs[0].name] }))[
          g.outputs[0].name
        ],
      tensorBatches(inputs.evalBatches(limit)),
    );
  }
  fp32Cache.set(key, acc);
  return acc;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** The note of a run that continued from a unit checkpoint. */
function resumedNote(
  r: { unitsDone: number; earlier: Segment[] },
  units: { seconds: number }[],
): string {
  const who = r.earlier.map((g) =>
    `units ${g.from + 1}–${g.to} by ${
      g.commit ? `commit ${g.commit.slice(0, 12)}` : "an earlier process"
    }${g.started ? ` (started ${g.started})` : ""}`
  ).join("; ");
  const total = units.reduce((a, u) => a + u.seconds, 0);
  return `resumed from a unit checkpoint with ${r.unitsDone} of ${units.length} units done: ${who}. ` +
    `wall_s, peak_mem_mb, started and versions are this process's; the reconstruction of all ` +
    `units took ${Math.round(total)} s in all (metrics.unit_losses[].seconds)`;
}

/** Runs one planned run and returns its record. */
export async function executeRun(
  run: RunSpec,
  opts: {
    paths: SuitePaths;
    backend: string;
    log: (m: string) => void;
    /** Unit-level checkpoint of the reconstruction; its key must name the whole computation. */
    checkpoint?: CheckpointSpec;
    /** The method registry (default `METHODS`). */
    methods?: MethodRegistry;
    /** Also write the exported QDQ ONNX model to this file. */
    exportTo?: string;
    /** Receives the images the method made, if any (kept beside the record, not in it). */
    onSamples?: (samples: ImageSamples) => void;
  },
): Promise<ResultRecord> {
  // Model weights, calibration and evaluation batches live on this backend (the default).
  const backend = await useBackend(opts.backend);
  const commit = processCommit();
  const t0 = performance.now();
  const started = new Date().toISOString();
  let peak = Deno.memoryUsage().rss;
  const sampleMem = setInterval(() => (peak = Math.max(peak, Deno.memoryUsage().rss)), 500);
  let resumed: { unitsDone: number; earlier: Segment[] } | undefined;
  const checkpoint = opts.checkpoint && {
    ...opts.checkpoint,
    process: { started, commit },
    onResume: (r: { unitsDone: number; earlier: Segment[] }) => (resumed = r),
  };
  try {
    const inputs = await suiteInputs(run, opts.paths);
    const method = methodById(run.methodId, opts.methods ?? METHODS);
    const config = {
      ...methodConfigFromRecipe(method, run.config, run.seed),
      ...run.adhoc?.methodConfig,
    };
    const { images, labels, sample } = await inputs.calibration(
      run.calibration.n,
      run.seed,
      method.calibration,
    );
    const limit = run.eval.limit;
    const res = await (async () => {
      try {
        return await method.run({
          graph: inputs.folded.graph,
          bn: inputs.folded.bn,
          calib: images,
          calibLabels: labels,
          evaluate: (m) => evaluate(m, tensorBatches(inputs.evalBatches(limit))),
          modelName: run.model.name,
          log: (m: string) => opts.log(`    ${m}`),
          checkpoint,
        }, config as never);
      } finally {
        images.dispose();
      }
    })();
    if (res.samples) opts.onSamples?.(res.samples);
    const qdq = await toQdqOnnx(res.model);
    if (opts.exportTo) {
      const dir = opts.exportTo.replace(/\/[^/]*$/, "");
      if (dir !== opts.exportTo) await Deno.mkdir(dir, { recursive: true });
      await Deno.writeFile(opts.exportTo, qdq);
      opts.log(`  exported QDQ model: ${opts.exportTo}`);
    }
    // "disabled": onnxruntime runs the QuantizeLinear/DequantizeLinear nodes as written, which is
    // the simulated arithmetic; "all" lets it fuse them into integer kernels (QLinearConv, …),
    // which take the export's int32 biases as they are and requantize in integers: the same
    // model up to float rounding, unless the run kept float biases (`biasRounding: "float"`),
    // which onnxruntime rounds to int32 when it fuses. Both are recorded and checked.
    const qdqTop1: number[] = [];
    const exported = await ortAccuracy(
      qdq,
      inputs.evalBatches(limit),
      "disabled",
      undefined,
      qdqTop1,
    );
    const { sim, simNote } = await simulatedAccuracy(res.model, inputs, limit, exported, qdqTop1);
    // A file onnxruntime's optimiser rejects is noted, and the run still recorded.
    // The fused integer kernels are checked on the first INT8_CHECK_IMAGES images: on a CPU
    // without VNNI they run ~4× slower than the Q/DQ graph (MobileNetV2: 3.5 images/s here).
    const int8Top1: number[] = [];
    const int8N = Math.min(INT8_CHECK_IMAGES, exported.n);
    const int8 = await attempt(() =>
      ortAccuracy(qdq, firstImages(inputs.evalBatches(limit), int8N), "all", undefined, int8Top1)
    );
    const int8Agree = int8Top1.filter((c, i) => c === qdqTop1[i]).length;
    const fp32 = await fp32Accuracy(inputs, limit);
    res.model.dispose?.();
    const notes: string[] = [];
    const differs = (what: string, top1: number) => {
      if (Math.abs(sim.top1 - top1) <= 0.1) return;
      notes.push(
        `simulated top-1 ${sim.top1.toFixed(2)} and ${what} top-1 ${top1.toFixed(2)} ` +
          "differ by more than 0.1 pt",
      );
    };
    differs("exported QDQ", exported.top1);
    if (int8.ok && int8Agree < 0.99 * int8.value.n) {
      notes.push(
        `the fused integer kernels (optimisation "all") and the Q/DQ graph give the same top-1 ` +
          `class on only ${int8Agree} of the first ${int8.value.n} images`,
      );
    }
    const resolved = JSON.parse(
      JSON.stringify(res.config, (_k, v) => typeof v === "function" ? undefined : v),
    ) as Record<string, JsonValue>;
    const record: ResultRecord = {
      schema: 1,
      paper: run.paper,
      cell: run.cell,
      suite: run.suite,
      recipe: run.recipe,
      method: run.method,
      model: { name: run.model.name, sha256: inputs.model.sha256 },
      bits: run.bits,
      config: { recipe: run.config, method: resolved },
      seed: run.seed,
      calibration: {
        n: sample.n,
        ids: sample.ids.length <= 4096 ? sample.ids : undefined,
        hash: sample.hash,
        source: inputs.calibPreprocess
          ? `${run.calibration.source}, ${inputs.calibPreprocess}`
          : run.calibration.source,
      },
      budget: run.budget,
      backend: opts.backend,
      adapter: backend.deviceInfo,
      versions: { ptq_bench: commit, deno: Deno.version.deno, onnxruntime: ortVersion() },
      started,
      wall_s: round2((performance.now() - t0) / 1000),
      peak_mem_mb: Math.round(Math.max(peak, Deno.memoryUsage().rss) / 2 ** 20),
      metrics: {
        top1: round2(sim.top1),
        top5: round2(sim.top5),
        n: sim.n,
        unit_losses: res.units.filter((u) => !Number.isNaN(u.lossBefore)).map((u) => ({
          unit: u.name,
          loss: Math.max(0, u.lossAfter),
          loss_init: Math.max(0, u.lossBefore),
          seconds: round2(u.seconds),
        })),
      },
      exported: { top1: round2(exported.top1), top5: round2(exported.top5), n: exported.n },
      ...(int8.ok
        ? {
          exported_int8: {
            top1: round2(int8.value.top1),
            top5: round2(int8.value.top5),
            n: int8.value.n,
          },
        }
        : {}),
      fp32: { top1: round2(fp32.top1), top5: round2(fp32.top5), n: fp32.n },
      notes: [
        `evaluated on ${sim.n} images: ${inputs.evalSource}${
          limit ? ` (strided subset, limit ${limit})` : ""
        }`,
        `exported QDQ with onnxruntime's fused integer kernels (graph optimisation "all"): ` +
        (int8.ok
          ? `top-1 ${int8.value.top1.toFixed(2)}, top-5 ${int8.value.top5.toFixed(2)} on the ` +
            `first ${int8.value.n} images, the same top-1 class as the Q/DQ graph on ${int8Agree}`
          : `failed (${int8.error})`) +
        `; "exported" is the same file with optimisations disabled (Q/DQ nodes run as written)`,
        simNote,
        ...notes,
        ...(res.selection ? [selectionNote(res.selection, sim.top1)] : []),
        ...(resumed ? [resumedNote(resumed, res.units)] : []),
      ],
      ...(res.selection ? { selection: selectionRecord(res.selection, sim) } : {}),
      ...(run.adhoc ? { adhoc: adhocRecord(run, inputs) } : {}),
      ...(resumed
        ? {
          resumed: {
            units_done: resumed.unitsDone,
            earlier: resumed.earlier.map((g) => ({ ...g, commit: g.commit?.slice(0, 12) ?? null })),
          },
        }
        : {}),
    };
    return record;
  } finally {
    clearInterval(sampleMem);
  }
}

/** Both selection protocols of an epoch-based method, as the record keeps them. */
function selectionRecord(
  s: Selection,
  sim: { top1: number; top5: number; n: number },
): NonNullable<ResultRecord["selection"]> {
  const acc = (a: { top1: number; top5: number; n: number }) => ({
    top1: round2(a.top1),
    top5: round2(a.top5),
    n: a.n,
  });
  return {
    official: s.official
      ? { rule: s.official.rule, epoch: s.official.epoch, ...acc(s.official) }
      : null,
    test_free: { rule: s.testFree.rule, epoch: s.testFree.epoch, ...acc(sim) },
    per_epoch: s.perEpoch.map((e) => ({ epoch: e.epoch, ...acc(e) })),
  };
}

/** The note that puts both protocols side by side. */
function selectionNote(s: Selection, top1: number): string {
  const official = s.official
    ? `official protocol (${s.official.rule}; it selects on the test set): top-1 ` +
      `${s.official.top1.toFixed(2)} at epoch ${s.official.epoch}`
    : "official protocol: no epoch was evaluated";
  return `${official}; test-free protocol (${s.testFree.rule}): top-1 ${top1.toFixed(2)} at ` +
    `epoch ${s.testFree.epoch} (metrics.top1)`;
}

/** What an ad-hoc record keeps of its inputs (the model file, folders, preprocessing). */
function adhocRecord(run: RunSpec, inputs: SuiteInputs): NonNullable<ResultRecord["adhoc"]> {
  const a = run.adhoc!;
  return {
    model: a.model,
    model_path: inputs.model.path,
    ...(a.size !== undefined ? { size: a.size } : {}),
    calib_dir: a.calibDir,
    eval_dir: a.evalDir,
    // The choice as resolved (a registered model at its own size defaults to its own transform).
    calib_preprocess: resolveModelInput(a.model, a.size?.toString(), a.calibPreprocess).calib,
    method_config: a.methodConfig ?? {},
  };
}

/** Runs a paper's cells in the given suites, skipping recorded runs; appends records. */
export async function reproduce(o: ReproduceOptions): Promise<ReproduceSummary> {
  processCommit(); // the code as it was when the command started
  const log = o.log ?? ((m: string) => console.error(m));
  const budget = o.budget ?? "smoke";
  const suites = o.suites ?? ["proxy"];
  const paper = paperOf(o.paper);
  const plan = planPaper(paper, suites, budget, o.cells, o.seeds, o.override);
  const { skips } = plan;
  const resultsDir = o.resultsDir ?? "out/results";
  const checkpointDir = o.checkpointDir ?? "out/checkpoints";
  // Every file of the paper counts as recorded: the main one and every shard's.
  const { records: stored, files } = await readPaperRecords(resultsDir, paper.meta.id);
  const runs = o.shard
    ? shardPlans(plan.runs, stored, o.shard.count)[o.shard.index - 1].runs
    : plan.runs;
  const file = o.shard
    ? shardFile(resultsDir, paper.meta.id, o.shard)
    : resultsPath(paper.meta.id, resultsDir);
  if (!o.dryRun) await Deno.mkdir(file.replace(/\/[^/]*$/, "") || ".", { recursive: true });
  const done = new Set(stored.map(runKey));
  // Two cells can plan the very same computation (ResNet-18 and ResNet-50 recipes on the one
  // ResNet proxy): it runs once, and the other cell gets a copy of the record that says so.
  const computed = new Map<string, ResultRecord>();
  for (const r of stored) {
    computed.set(
      computationKey(
        r.suite,
        r.method,
        r.model.name,
        r.bits,
        r.config.recipe,
        r.seed,
        r.budget,
        r.calibration.n,
      ),
      r,
    );
  }
  const todo = runs.filter((r) => !done.has(r.key));
  const part = o.shard ? ` (shard ${o.shard.index}/${o.shard.count} of ${plan.runs.length})` : "";
  log(
    `${paper.meta.id}: ${runs.length} runs planned${part} in ${suites.join(", ")} (budget ${
      budgetText(budget, o.override)
    }); ${runs.length - todo.length} already recorded in ${
      files.length ? files.join(", ") : file
    }; ${skips.length} cell/suite pairs cannot run here; records go to ${file}`,
  );
  if (o.dryRun) {
    // For the display every record counts (a recorded run shows what it took).
    const shown = estimateCosts(runs, stored, false);
    for (const r of runs) {
      const c = shown.get(r.key)!;
      const est = c.seconds === null ? "time unknown" : `~${formatDuration(c.seconds)}`;
      log(`  ${done.has(r.key) ? "recorded" : "to run  "} ${r.key}  (${est}, ${c.basis})`);
    }
    const left = secondsOf(todo, shown);
    log(
      `  ${todo.length} to run: ` +
        (left !== null
          ? `~${formatDuration(left)} in all`
          : "no recorded run of the same kind gives a time scale yet"),
    );
    for (const k of skips) log(`  cannot run ${k.cell} in ${k.suite}: ${k.reason}`);
  }
  const summary: ReproduceSummary = {
    planned: runs.length,
    ran: 0,
    alreadyRecorded: runs.length - todo.length,
    failed: [],
    skips,
    resultsFile: file,
  };
  for (const [i, run] of todo.entries()) {
    if (o.dryRun || (o.maxRuns !== undefined && summary.ran >= o.maxRuns)) break;
    log(`[${i + 1}/${todo.length}] ${run.key}`);
    try {
      let samples: ImageSamples | undefined;
      const ck = runComputationKey(run);
      const checkpoint = runCheckpoint(run, checkpointDir, o.backend ?? "cpu");
      const same = computed.get(ck);
      const rec = same
        ? {
          ...same,
          cell: run.cell,
          recipe: run.recipe,
          notes: [
            ...same.notes,
            `same computation as run ${runKey(same)} (model, method, resolved recipe config, ` +
            "seed, calibration size and budget identical): its result is reused, not re-run; " +
            "wall-clock and memory are that run's",
          ],
        }
        : await executeRun(run, {
          paths: o,
          backend: o.backend ?? "cpu",
          log,
          checkpoint,
          methods: o.methods,
          onSamples: (s) => (samples = s),
        });
      if (same) log("  same computation as an earlier run: record copied, not re-run");
      computed.set(ck, rec);
      await appendRecord(file, rec);
      if (samples) {
        // One sidecar per paper, whichever shard ran the run (shard files are merged later).
        await appendSamples(
          samplesPath(resultsPath(paper.meta.id, resultsDir)),
          await sampleSet(runKey(rec), rec.suite, samples),
        );
      }
      if (!same) await removeCheckpoint(checkpoint);
      summary.ran++;
      log(
        `  top-1 ${rec.metrics.top1} (QDQ on onnxruntime ${rec.exported?.top1}, FP32 ${rec.fp32.top1}) in ${rec.wall_s} s`,
      );
    } catch (e) {
      const msg = (e as Error).message;
      summary.failed.push({ key: run.key, error: msg });
      log(`  FAILED: ${msg}`);
      if (Deno.env.get("PTQ_DEBUG")) console.error(e);
    }
  }
  return summary;
}
