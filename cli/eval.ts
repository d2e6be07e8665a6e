/**
 * `deno task eval`: FP32 evaluation of one model ({@linkcode evaluateModel}): top-1/top-5 for
 * classifiers, VOC mAP@0.5 for the detector. A progress line with images/s goes to stderr, the
 * summary to stdout, and `--json FILE` writes the result (percentages).
 *
 * @module
 */
import { BACKEND_FLAG } from "./_shared_flags.ts";
import {
  EvalDataError,
  type EvalProgress,
  type EvalResult,
  evaluateModel,
} from "../models/eval.ts";
import { ASSETS_FLAG } from "./_assets.ts";
import { InputError, parseFlags, run, type TaskSpec } from "./_flags.ts";

/** The flags of `deno task eval`. */
export const SPEC = {
  name: "eval",
  summary: "FP32 top-1/top-5 (or VOC mAP) of one model ([docs/models.md](docs/models.md))",
  flags: [
    {
      name: "model",
      type: "string",
      required: true,
      placeholder: "NAME|FILE.onnx",
      help: "a registry name (models/registry.ts), a proxy model, or an ONNX file",
    },
    {
      name: "data",
      type: "path",
      placeholder: "DIR",
      help: "the evaluation data: an assets root, an ImageNet folder (labels.txt, class folders " +
        "or ILSVRC2012 val), a VOC folder, or a folder of Fashion-MNIST's 0.json…9.json " +
        "(default: the model's data in the shared assets)",
    },
    ASSETS_FLAG,
    {
      name: "limit",
      type: "int",
      min: 1,
      help: "the first N images (Fashion-MNIST: every ⌊10000/N⌋-th) (default: all)",
    },
    BACKEND_FLAG,
    {
      name: "batch",
      type: "int",
      min: 1,
      help: "images per forward pass (default: 32; 16 for the detector, 256 for proxies)",
    },
    {
      name: "preprocess",
      type: "string",
      values: ["model", "plain", "tf-slim"],
      default: "model",
      help: "the registry's preprocessing, a plain resize to the input size, or TF-slim's " +
        "central 87.5 % crop",
    },
    { name: "json", type: "path", placeholder: "FILE", help: "also write the result as JSON" },
    { name: "quiet", type: "boolean", help: "no progress line" },
  ],
  notes: [
    "Exit code 0 on success, 1 when the model or the data cannot be found or read (the message " +
    "says where to put them), 2 on bad arguments.",
  ],
} as const satisfies TaskSpec;

/** A one-line progress bar on stderr, redrawn in place on a terminal, every 10 % otherwise. */
function progressPrinter(label: string): (p: EvalProgress) => void {
  const tty = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  let lastDecile = -1;
  return (p) => {
    const frac = p.total > 0 ? p.done / p.total : 1;
    const width = 30;
    const filled = Math.round(frac * width);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    const eta = p.images_per_s > 0 ? (p.total - p.done) / p.images_per_s : NaN;
    const line = `${label} ${bar} ${p.done}/${p.total} ${p.images_per_s.toFixed(1)} img/s ` +
      `${p.seconds.toFixed(0)}s${
        Number.isFinite(eta) && p.done < p.total ? ` eta ${eta.toFixed(0)}s` : ""
      }`;
    if (tty) {
      Deno.stderr.writeSync(enc.encode(`\r\x1b[K${line}${p.done >= p.total ? "\n" : ""}`));
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== lastDecile && (p.done > 0 || p.total === 0)) {
        lastDecile = decile;
        Deno.stderr.writeSync(enc.encode(line + "\n"));
      }
    }
  };
}

/** A human summary of a result. */
function summary(r: EvalResult): string {
  const speed = `${r.n} images, ${r.seconds.toFixed(1)} s, ${r.images_per_s.toFixed(2)} images/s ` +
    `(${r.backend}, batch ${r.batch})`;
  if (r.task === "detection") {
    return `${r.model}: mAP@0.5 VOC07 11-point ${r.map07.toFixed(2)}, all-point ` +
      `${r.map_all.toFixed(2)} (${r.npos} boxes, ${r.detections} detections); ${speed}`;
  }
  return `${r.model}: top-1 ${r.top1.toFixed(2)}, top-5 ${r.top5.toFixed(2)}; ${speed}`;
}

/** Evaluates the model; returns the exit code (throws a `UsageError` on bad arguments). */
export async function main(args: string[]): Promise<number> {
  const { values: v } = parseFlags(SPEC, args);
  let r: EvalResult;
  try {
    r = await evaluateModel({
      model: v.model,
      data: v.data ?? v.assets,
      limit: v.limit,
      batch: v.batch,
      backend: v.backend,
      preprocess: v.preprocess,
      onProgress: v.quiet ? undefined : progressPrinter(v.model),
    });
  } catch (e) {
    if (e instanceof EvalDataError) throw new InputError(e.message, { cause: e });
    throw e;
  }
  console.log(summary(r));
  if (v.json) {
    const { model, ...rest } = r;
    const record = { model, ...rest, date: new Date().toISOString() };
    await Deno.writeTextFile(v.json, JSON.stringify(record, null, 2) + "\n");
    console.log(`wrote ${v.json}`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
