/**
 * `deno task eval --model NAME|FILE.onnx [--data DIR] [--limit N] [--backend cpu|webgpu]
 * [--batch N] [--preprocess model|plain|tf-slim] [--json FILE] [--quiet]`: FP32 evaluation of a
 * model ({@linkcode evaluateModel}): top-1/top-5 for classifiers, VOC mAP@0.5 for the detector.
 * Shows a progress line with images/s on stderr, prints a summary on stdout, and writes the
 * result as JSON (percentages) with `--json`. Exit code 0 on success, 1 on failure (unknown model,
 * missing model file or data: the message says where to put them), 2 on bad arguments.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  type EvalProgress,
  type EvalResult,
  evaluateModel,
  type PreprocessChoice,
} from "./eval.ts";

const USAGE =
  "usage: deno task eval --model NAME|FILE.onnx [--data DIR] [--limit N] [--backend cpu|webgpu] " +
  "[--batch N] [--preprocess model|plain|tf-slim] [--json FILE] [--quiet]";

function positiveInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(Number.isInteger(n) && n > 0)) {
    throw new RangeError(`${flag} must be a positive integer, got "${v}"`);
  }
  return n;
}

/** A one-line progress bar on stderr, redrawn in place on a terminal, every 10 % otherwise. */
export function progressPrinter(label: string): (p: EvalProgress) => void {
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
export function summary(r: EvalResult): string {
  const speed = `${r.n} images, ${r.seconds.toFixed(1)} s, ${r.images_per_s.toFixed(2)} images/s ` +
    `(${r.backend}, batch ${r.batch})`;
  if (r.task === "detection") {
    return `${r.model}: mAP@0.5 VOC07 11-point ${r.map07.toFixed(2)}, all-point ` +
      `${r.map_all.toFixed(2)} (${r.npos} boxes, ${r.detections} detections); ${speed}`;
  }
  return `${r.model}: top-1 ${r.top1.toFixed(2)}, top-5 ${r.top5.toFixed(2)}; ${speed}`;
}

/** Runs the command; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        model: { type: "string" },
        data: { type: "string" },
        limit: { type: "string" },
        backend: { type: "string", default: "cpu" },
        batch: { type: "string" },
        preprocess: { type: "string", default: "model" },
        json: { type: "string" },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.model) {
    console.error(USAGE);
    return 2;
  }
  if (values.backend !== "cpu" && values.backend !== "webgpu") {
    console.error(`Unknown backend "${values.backend}" (cpu or webgpu)\n${USAGE}`);
    return 2;
  }
  if (!["model", "plain", "tf-slim"].includes(values.preprocess!)) {
    console.error(
      `Unknown preprocessing "${values.preprocess}" (model, plain or tf-slim)\n${USAGE}`,
    );
    return 2;
  }
  let limit, batch;
  try {
    limit = positiveInt(values.limit, "--limit");
    batch = positiveInt(values.batch, "--batch");
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  try {
    const r = await evaluateModel({
      model: values.model,
      data: values.data,
      limit,
      batch,
      backend: values.backend,
      preprocess: values.preprocess as PreprocessChoice,
      onProgress: values.quiet ? undefined : progressPrinter(values.model),
    });
    console.log(summary(r));
    if (values.json) {
      const { model, ...rest } = r;
      const record = { model, ...rest, date: new Date().toISOString() };
      await Deno.writeTextFile(values.json, JSON.stringify(record, null, 2) + "\n");
      console.log(`wrote ${values.json}`);
    }
    return 0;
  } catch (e) {
    console.error(`\neval failed: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
