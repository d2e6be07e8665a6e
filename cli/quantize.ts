/**
 * `deno task quantize`: one ad-hoc run of one method on one model, through the same pipeline as
 * `reproduce` (`executeRun`): seeded calibration sample, the method, the simulated model's
 * accuracy, the QDQ export scored on onnxruntime (as written, and with fused integer kernels),
 * the FP32 accuracy, and one validated result record (suite `adhoc`, `--json FILE`).
 *
 * Budgets are `reproduce`'s, applied to the method's official settings (20,000 iterations per
 * unit, 1,024 calibration images, capped by the calibration folder): `smoke` 20 iterations on 64
 * images, `quick` 2,000 iterations, `paper` 20,000; `--iters` / `--calib-n` make a custom budget.
 * A killed run continues after its last reconstructed unit from a checkpoint in
 * `--checkpoints DIR`, removed when the run completes.
 *
 * @module
 */
import { BACKEND_FLAG, CHECKPOINTS_FLAG } from "./_shared_flags.ts";
import {
  methodById,
  methodConfigFromRecipe,
  METHODS,
  OFFICIAL_CALIBRATION,
  OFFICIAL_ITERS,
  parseConfig,
} from "../methods/mod.ts";
import { ImageNetDataset } from "../datasets/mod.ts";
import { MODELS, resolveModelInput } from "../models/mod.ts";
import {
  type BudgetName,
  BUDGETS,
  checkOverride,
  executeRun,
  type JsonValue,
  runCheckpoint,
  runKey,
  type RunSpec,
  SUITE_DATA,
  validateRecord,
} from "../papers/mod.ts";
import { removeCheckpoint } from "../methods/mod.ts";
import { ASSETS_FLAG, assetsRoot } from "./_assets.ts";
import { InputError, parseFlags, run, type TaskSpec, UsageError } from "./_flags.ts";
import { requireFolder } from "./_input.ts";

/** Method config fields the command line sets itself (`--config` may not). */
const DECIDED: Record<string, string> = {
  wBits: "--w",
  aBits: "--a",
  iters: "--iters",
  calibSize: "--calib-n",
  seed: "--seed",
};

/** The flags of `deno task quantize`. */
export const SPEC = {
  name: "quantize",
  summary: "quantize one model with one method: simulated and exported-QDQ accuracy, one record",
  flags: [
    {
      name: "model",
      type: "string",
      required: true,
      placeholder: "NAME|FILE.onnx",
      help: "a registry name (models/registry.ts) or an ONNX file",
    },
    {
      name: "method",
      type: "string",
      required: true,
      values: Object.keys(METHODS),
      help: "the method (methods/mod.ts)",
    },
    { name: "w", type: "int", default: 4, min: 1, placeholder: "BITS", help: "weight bits" },
    {
      name: "a",
      type: "int",
      default: 4,
      min: 1,
      placeholder: "BITS",
      help: "activation bits (32: activations stay in float)",
    },
    {
      name: "budget",
      type: "string",
      values: ["smoke", "quick", "paper"],
      help: "smoke: 20 it/unit, 64 images; quick: 2,000 it/unit; paper: 20,000 it/unit " +
        "(quick and paper on the official 1,024 images, capped by the folder) " +
        "(default: quick; custom when --iters or --calib-n is given)",
    },
    {
      name: "iters",
      type: "int",
      min: 0,
      placeholder: "N",
      help: "a custom budget: N iterations per reconstruction unit",
    },
    {
      name: "calib-n",
      type: "int",
      min: 1,
      placeholder: "N",
      help: "a custom budget's calibration images (default: 1,024, capped by the folder)",
    },
    { name: "seed", type: "int", default: 1005, help: "the run's seed (sample, masks, init)" },
    {
      name: "config",
      type: "string",
      placeholder: "JSON",
      help: "other fields of the method's config, e.g. '{\"weightLr\": 0.01}' (checked by its " +
        "schema)",
    },
    ASSETS_FLAG,
    {
      name: "calib",
      type: "path",
      placeholder: "DIR",
      help: "calibration images, an ImageNet-style folder " +
        "(default: <assets>/imagenet/calib1000_one_per_class_256px)",
    },
    {
      name: "data",
      type: "path",
      placeholder: "DIR",
      help: "evaluation images, an ImageNet-style folder " +
        "(default: <assets>/imagenet/ilsvrc2012_val_subset1300_227px)",
    },
    {
      name: "limit",
      type: "int",
      min: 1,
      placeholder: "N",
      help: "evaluate an evenly strided subset of N images (default: the budget's; smoke 500)",
    },
    {
      name: "size",
      type: "int",
      min: 1,
      placeholder: "N",
      help: "input size (default: the registry's; 224 for an ONNX file)",
    },
    {
      name: "calib-preprocess",
      type: "string",
      values: ["model", "plain"],
      help: "calibration images through the model's own evaluation preprocessing, or a plain " +
        "resize (default: model for a registered model at its own size, else plain)",
    },
    BACKEND_FLAG,
    CHECKPOINTS_FLAG,
    {
      name: "out",
      type: "path",
      placeholder: "FILE.onnx",
      help: "the exported QDQ model (default: out/<model>.<method>.w<W>a<A>.qdq.onnx)",
    },
    {
      name: "json",
      type: "path",
      placeholder: "FILE",
      help: "write the run's result record (one JSON line; `deno task table` reads it)",
    },
  ],
  notes: [
    "Exit code 0 on success, 1 when a file or folder is missing or the run fails, 2 on bad " +
    "arguments (nothing is run or written then).",
  ],
} as const satisfies TaskSpec;

/** `--config JSON` as an object of method config fields. */
function parseMethodConfig(text: string | undefined): Record<string, JsonValue> {
  if (text === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new UsageError("--config: expected a JSON object of config fields");
  }
  for (const k of Object.keys(v)) {
    if (k in DECIDED) throw new UsageError(`--config: set ${k} with ${DECIDED[k]}`);
  }
  return v as Record<string, JsonValue>;
}

/** The ad-hoc run the command line describes (checked before anything runs). */
export async function planQuantize(args: string[]): Promise<{ run: RunSpec; out: string }> {
  const { values: v } = parseFlags(SPEC, args);
  const custom = v.iters !== undefined || v["calib-n"] !== undefined;
  if (custom && v.budget !== undefined) {
    throw new UsageError(`--iters / --calib-n make a custom budget; drop --budget ${v.budget}`);
  }
  const budget: BudgetName = custom ? "custom" : v.budget ?? "quick";
  const override = custom ? { iters: v.iters as number, calibration: v["calib-n"] } : undefined;
  try {
    checkOverride(budget, override);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  // Everything the command line alone decides is checked before any file is looked at.
  const method = methodById(v.method);
  const methodConfig = parseMethodConfig(v.config);
  const B = BUDGETS[budget];
  const iters = override ? override.iters : B.iters(OFFICIAL_ITERS);
  const wanted = override?.calibration ??
    Math.min(OFFICIAL_CALIBRATION, B.calibrationMax ?? Infinity);
  const checkConfig = (n: number) => {
    const config: Record<string, JsonValue> = { w_bits: v.w, a_bits: v.a, iters, calib_n: n };
    try {
      parseConfig(method.config, {
        ...methodConfigFromRecipe(method, config, v.seed),
        ...methodConfig,
      }, method.id);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    return config;
  };
  checkConfig(wanted);
  if (!v.model.endsWith(".onnx") && !(v.model in MODELS)) {
    throw new UsageError(
      `--model ${v.model}: not a registry name (${
        Object.keys(MODELS).join(", ")
      }) or an .onnx file`,
    );
  }
  const root = assetsRoot(v.assets);
  const calibDir = v.calib ?? `${root}/imagenet/calib1000_one_per_class_256px`;
  const evalDir = v.data ?? `${root}/imagenet/ilsvrc2012_val_subset1300_227px`;
  await requireFolder(calibDir, "calibration folder (--calib)");
  await requireFolder(evalDir, "evaluation folder (--data)");
  let input;
  try {
    input = resolveModelInput(v.model, v.size?.toString(), v["calib-preprocess"]);
  } catch (e) {
    // A preprocessing that cannot apply is the command line's fault; a missing file is not.
    const message = `--model ${v.model}: ${(e as Error).message}`;
    throw e instanceof RangeError ? new UsageError(message) : new InputError(message);
  }
  try {
    await Deno.stat(input.path);
  } catch {
    throw new InputError(`model ${v.model}: no file at ${input.path}`);
  }
  let available: number;
  try {
    available = (await ImageNetDataset.fromList(calibDir)).ids.length;
  } catch (e) {
    throw new InputError(`calibration folder ${calibDir}: ${(e as Error).message}`);
  }
  const n = Math.min(wanted, available);
  const config = checkConfig(n);
  const spec = {
    paper: "adhoc",
    cell: `adhoc/${input.name}/w${v.w}a${v.a}/${method.id}`,
    suite: "adhoc" as const,
    recipe: { id: `adhoc/${method.id}`, version: 1 },
    method: method.id,
    methodId: method.id,
    model: { name: input.name },
    bits: { w: v.w, a: v.a },
    config,
    seed: v.seed,
    calibration: { n, source: SUITE_DATA.adhoc.calibration },
    budget,
    eval: { data: evalDir, limit: v.limit ?? B.evalLimit },
    adhoc: {
      model: v.model,
      ...(v.size !== undefined ? { size: v.size } : {}),
      calibDir,
      evalDir,
      ...(v["calib-preprocess"] ? { calibPreprocess: v["calib-preprocess"] } : {}),
      methodConfig,
    },
  };
  const out = v.out ?? `out/${input.name}.${method.id}.w${v.w}a${v.a}.qdq.onnx`;
  return { run: { key: runKey(spec), ...spec }, out };
}

/** Runs `deno task quantize` with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v } = parseFlags(SPEC, args);
  const { run, out } = await planQuantize(args);
  const t0 = performance.now();
  const log = (m: string) =>
    console.error(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${m}`);
  log(
    `${run.model.name}, ${run.methodId}, W${run.bits.w}A${run.bits.a}, budget ${run.budget} ` +
      `(${run.config.iters} it/unit, ${run.calibration.n} calibration images), seed ${run.seed}`,
  );
  const checkpoint = runCheckpoint(run, v.checkpoints, v.backend);
  const rec = await executeRun(run, {
    paths: { assetsDir: v.assets },
    backend: v.backend,
    log,
    checkpoint,
    exportTo: out,
  });
  await removeCheckpoint(checkpoint);
  if (v.json) {
    await Deno.writeTextFile(v.json, JSON.stringify(validateRecord(rec)) + "\n");
  }
  const fused = rec.notes.find((n) => n.startsWith("exported QDQ with onnxruntime's fused"));
  console.log(
    `${run.model.name} ${run.methodId} W${run.bits.w}A${run.bits.a}: top-1 ${rec.metrics.top1} ` +
      `(QDQ on onnxruntime ${rec.exported?.top1}; FP32 ${rec.fp32.top1}) on ${rec.metrics.n} ` +
      `images in ${rec.wall_s} s, peak ${rec.peak_mem_mb} MB`,
  );
  if (fused) console.log(`  ${fused.replace(/;.*$/, "")}`);
  console.log(`  QDQ model: ${out}${v.json ? `; record: ${v.json}` : ""}`);
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
