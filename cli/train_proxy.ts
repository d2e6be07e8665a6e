/**
 * `deno task train-proxy`: retrains the embedded proxy models on Fashion-MNIST
 * ({@linkcode trainAndExport}) and writes `<out>/<name>.onnx` plus `<name>.json`, the training
 * record (by default over the committed ones in `models/proxy/`).
 *
 * @module
 */
import { loadProxyData, type Recipe, trainAndExport } from "../models/proxy/train.ts";
import { PROXY_NAMES, type ProxyName } from "../models/proxy/architectures.ts";
import { PROXY_DIR } from "../models/registry.ts";
import { parseFlags, run, type TaskSpec, UsageError } from "./_flags.ts";

/** The flags of `deno task train-proxy`. */
export const SPEC = {
  name: "train-proxy",
  summary: "retrain the embedded proxy models (committed under `models/proxy/`)",
  flags: [
    {
      name: "model",
      type: "string",
      default: "all",
      placeholder: "all|NAME[,NAME…]",
      help: `the models to train: all, or a comma-separated list of ${PROXY_NAMES.join(", ")}`,
    },
    { name: "epochs", type: "int", min: 1, help: "epochs (default: the model's recipe)" },
    { name: "seed", type: "int", default: 0, help: "seed of the weights and the shuffling" },
    {
      name: "subset",
      type: "int",
      min: 0,
      help: "train on the first N images of a seeded permutation, 0 for all " +
        "(default: the model's recipe)",
    },
    { name: "batch", type: "int", min: 1, help: "batch size (default: the model's recipe)" },
    { name: "lr", type: "number", help: "peak learning rate (default: the model's recipe)" },
    {
      name: "out",
      type: "path",
      placeholder: "DIR",
      help: "where to write <name>.onnx and <name>.json (default: models/proxy/)",
    },
  ],
  notes: ["The recipes are `RECIPES` in models/proxy/train.ts."],
} as const satisfies TaskSpec;

/** Trains the models; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v } = parseFlags(SPEC, args);
  const names = v.model === "all" ? [...PROXY_NAMES] : v.model.split(",");
  for (const n of names) {
    if (!(PROXY_NAMES as readonly string[]).includes(n)) {
      throw new UsageError(`--model: "${n}" is not one of all, ${PROXY_NAMES.join(", ")}`);
    }
  }
  const recipe: Partial<Recipe> = {};
  if (v.epochs !== undefined) recipe.epochs = v.epochs;
  if (v.subset !== undefined) recipe.subset = v.subset;
  if (v.batch !== undefined) recipe.batch = v.batch;
  if (v.lr !== undefined) recipe.lr = v.lr;
  const outDir = v.out
    ? new URL(v.out.endsWith("/") ? v.out : v.out + "/", `file://${Deno.cwd()}/`)
    : PROXY_DIR;
  const data = loadProxyData();
  const command = ["deno task train-proxy", ...args].join(" ");
  for (const name of names as ProxyName[]) {
    const rec = trainAndExport(name, data, {
      seed: v.seed,
      recipe,
      outDir,
      command,
      log: (l) => console.log(l),
    });
    console.log(
      `${name}: top-1 ${rec.fp32_top1} % (check ${rec.check_top1} %), ` +
        `${JSON.stringify(rec.wall_clock_s)} s, ${(rec.onnx as { bytes: number }).bytes} bytes`,
    );
  }
  await Promise.resolve();
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
