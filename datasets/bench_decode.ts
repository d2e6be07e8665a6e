/**
 * Decoding + preprocessing throughput ({@linkcode benchDecode}): every image of a labelled
 * ImageNet folder read, JPEG-decoded and preprocessed into batches as evaluation does, timed end
 * to end (images per second). No model runs.
 *
 * The command is `deno task bench:decode` (`cli/bench_decode.ts`).
 *
 * @module
 */
import { ImageNetDataset } from "./imagenet.ts";
import { plainResizeSpec, type PreprocessSpec, tfSlimSpec, torchvisionSpec } from "./preprocess.ts";

/** The preprocessing choices: TF-slim's 87.5 % crop, torchvision's 256/224, a plain resize. */
export const DECODE_SPECS = ["tf", "torchvision", "plain"] as const;

/** One of {@linkcode DECODE_SPECS}. */
export type DecodeSpec = typeof DECODE_SPECS[number];

/** The 224-px preprocessing of a choice. */
export function decodeSpec(kind: DecodeSpec): PreprocessSpec {
  return kind === "torchvision"
    ? torchvisionSpec()
    : kind === "plain"
    ? plainResizeSpec(224)
    : tfSlimSpec(224);
}

/** What {@linkcode benchDecode} measured. */
export interface DecodeBenchResult {
  images: number;
  seconds: number;
  images_per_s: number;
}

/**
 * Reads, decodes and preprocesses the images of `dir` (a folder with `labels.txt`) in batches of
 * `batchSize` (default 64), the first `limit` only when given, and times it.
 */
export async function benchDecode(
  dir: string,
  opts: { spec?: DecodeSpec; batchSize?: number; limit?: number } = {},
): Promise<DecodeBenchResult> {
  const ds = await ImageNetDataset.fromList(dir);
  const spec = decodeSpec(opts.spec ?? "tf");
  const t0 = performance.now();
  let images = 0;
  for await (const b of ds.batches({ spec, batchSize: opts.batchSize ?? 64, limit: opts.limit })) {
    images += b.labels.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { images, seconds, images_per_s: images / seconds };
}
