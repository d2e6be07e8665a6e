/**
 * `deno task bench:decode`: decoding + preprocessing throughput ({@linkcode benchDecode}): every
 * image of a labelled ImageNet folder read, JPEG-decoded and preprocessed into batches as
 * evaluation does, in images per second. No model runs.
 *
 * @module
 */
import { IMAGENET_SUBSET } from "../models/eval.ts";
import { benchDecode, DECODE_SPECS } from "../datasets/bench_decode.ts";
import { ASSETS_FLAG, assetsRoot } from "./_assets.ts";
import { parseFlags, run, type TaskSpec } from "./_flags.ts";
import { parseInput, requireFolder } from "./_input.ts";

/** The flags of `deno task bench:decode`. */
export const SPEC = {
  name: "bench:decode",
  summary: "JPEG decoding + preprocessing throughput on an ImageNet folder, in images/s " +
    "([docs/benchmarks.md](docs/benchmarks.md))",
  flags: [
    {
      name: "data",
      type: "path",
      placeholder: "DIR",
      help: `an ImageNet folder with labels.txt (default: <assets>/${IMAGENET_SUBSET})`,
    },
    ASSETS_FLAG,
    {
      name: "spec",
      type: "string",
      values: DECODE_SPECS,
      default: "tf",
      help: "the 224-px preprocessing: TF-slim's 87.5 % central crop, torchvision's resize 256 " +
        "+ crop 224, or a plain resize",
    },
    { name: "batch", type: "int", min: 1, default: 64, help: "images per batch" },
    { name: "limit", type: "int", min: 1, help: "the first N images (default: all)" },
  ],
} as const satisfies TaskSpec;

/** Runs the benchmark; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v } = parseFlags(SPEC, args);
  const dir = v.data ?? `${assetsRoot(v.assets)}/${IMAGENET_SUBSET}`;
  await requireFolder(dir, "image folder (--data)");
  const r = await parseInput(
    dir,
    () => benchDecode(dir, { spec: v.spec, batchSize: v.batch, limit: v.limit }),
  );
  console.log(
    `${r.images} images, ${v.spec} spec: ${r.seconds.toFixed(2)} s, ` +
      `${r.images_per_s.toFixed(0)} images/s`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
