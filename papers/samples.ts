/**
 * Image samples beside the records: a method's generated images (FDDA's synthetic calibration
 * images) as small PNG data URLs, one JSON line per run in a sidecar of the paper's main results
 * file (`fdda.jsonl` → `fdda.samples.jsonl`; shard processes append there too, so merging shard
 * files never has to move them), keyed by the record's run key. The record itself stays small;
 * reports read the sidecars and draw the images per class.
 *
 * Each image is stretched to its own min–max range for display (the values are in the model's
 * normalised input space) and box-averaged down to at most {@linkcode SAMPLE_MAX_SIZE} pixels a
 * side; images with other than 1 or 3 channels show their first channel.
 *
 * @example
 * ```ts
 * import { samplesPath } from "./samples.ts";
 * console.log(samplesPath("out/results/fdda.jsonl")); // out/results/fdda.samples.jsonl
 * ```
 *
 * @module
 */
import { z } from "zod";
import { FASHION_MNIST_CLASSES } from "../datasets/fashion_mnist.ts";
import type { ImageSamples } from "../methods/mod.ts";
import type { Suite } from "./schema.ts";

/** Largest side of a stored sample image, in pixels. */
export const SAMPLE_MAX_SIZE = 64;

const PNG_URL = /^data:image\/png;base64,[A-Za-z0-9+/]+={0,2}$/;

/** One run's samples as the sidecar keeps them. */
export const SampleSetSchema = z.strictObject({
  /** The record's run key (`runKey`). */
  run: z.string().min(1),
  note: z.string(),
  images: z.strictObject({
    label: z.int().min(0),
    /** The class name (the dataset's, or "class k"). */
    name: z.string(),
    png: z.string().regex(PNG_URL, "a base64 PNG data URL"),
  }).array(),
});
export type SampleSet = z.infer<typeof SampleSetSchema>;

/** The sidecar of a results file. */
export function samplesPath(resultsFile: string): string {
  return resultsFile.replace(/\.jsonl$/, "") + ".samples.jsonl";
}

/** Class names of a suite's labels (Fashion-MNIST's for the proxies, else "class k"). */
export function classNameOf(suite: Suite | string, label: number): string {
  return suite === "proxy" ? FASHION_MNIST_CLASSES[label] ?? `class ${label}` : `class ${label}`;
}

// ---------------------------------------------------------------------------------------------
// PNG

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (PNG's, ISO 3309). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function zlib(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(
    new CompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  const td = new Uint8Array(4 + data.length);
  for (let i = 0; i < 4; i++) td[i] = type.charCodeAt(i);
  td.set(data, 4);
  out.set(td, 4);
  view.setUint32(8 + data.length, crc32(td));
  return out;
}

/** An 8-bit grey (1 channel) or RGB (3 channels, interleaved) PNG, no filtering. */
export async function encodePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
): Promise<Uint8Array> {
  if (pixels.length !== width * height * channels) {
    throw new RangeError(`${pixels.length} bytes for a ${width}×${height}×${channels} image`);
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = channels === 1 ? 0 : 2;
  const row = width * channels;
  const raw = new Uint8Array(height * (row + 1));
  for (let y = 0; y < height; y++) {
    raw.set(pixels.subarray(y * row, (y + 1) * row), y * (row + 1) + 1);
  }
  const parts = [
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    chunk("IDAT", await zlib(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), o += p.length);
  return out;
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * Image `i` of `[N, C, H, W]` values as display bytes: box-averaged down to at most `maxSize` a
 * side, stretched to its own min–max, interleaved (1 or 3 channels).
 */
export function displayBytes(
  s: Pick<ImageSamples, "pixels" | "shape">,
  i: number,
  maxSize = SAMPLE_MAX_SIZE,
): { bytes: Uint8Array; width: number; height: number; channels: 1 | 3 } {
  const [, c, h, w] = s.shape;
  const channels: 1 | 3 = c === 3 ? 3 : 1;
  const f = Math.max(1, Math.ceil(Math.max(h, w) / maxSize));
  const oh = Math.floor(h / f), ow = Math.floor(w / f);
  const vals = new Float32Array(oh * ow * channels);
  for (let ch = 0; ch < channels; ch++) {
    const base = (i * c + ch) * h * w;
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        let sum = 0;
        for (let dy = 0; dy < f; dy++) {
          for (let dx = 0; dx < f; dx++) sum += s.pixels[base + (y * f + dy) * w + x * f + dx];
        }
        vals[(y * ow + x) * channels + ch] = sum / (f * f);
      }
    }
  }
  let lo = Infinity, hi = -Infinity;
  for (const v of vals) (lo = Math.min(lo, v), hi = Math.max(hi, v));
  const span = hi > lo ? hi - lo : 1;
  const bytes = new Uint8Array(vals.length);
  for (let k = 0; k < vals.length; k++) {
    bytes[k] = Number.isFinite(vals[k]) ? Math.round(255 * (vals[k] - lo) / span) : 0;
  }
  return { bytes, width: ow, height: oh, channels };
}

/** A run's samples as a sidecar line. */
export async function sampleSet(
  run: string,
  suite: Suite | string,
  s: ImageSamples,
): Promise<SampleSet> {
  const images: SampleSet["images"] = [];
  for (let i = 0; i < s.labels.length; i++) {
    const d = displayBytes(s, i);
    const png = await encodePng(d.bytes, d.width, d.height, d.channels);
    images.push({
      label: s.labels[i],
      name: classNameOf(suite, s.labels[i]),
      png: `data:image/png;base64,${base64(png)}`,
    });
  }
  const [, , h, w] = s.shape;
  const shown = images.length ? ` (stored at ≤ ${SAMPLE_MAX_SIZE} px of ${h}×${w})` : "";
  return {
    run,
    note: `${s.note}; each image stretched to its own min–max for display${shown}`,
    images,
  };
}

/** Appends one run's samples to a sidecar. */
export async function appendSamples(file: string, set: SampleSet): Promise<void> {
  SampleSetSchema.parse(set);
  await Deno.writeTextFile(file, JSON.stringify(set) + "\n", { append: true });
}

/**
 * The sample sets of results files (each file's sidecar; a missing sidecar is none, an unreadable
 * line is skipped). A run key met twice keeps its last line.
 */
export async function readSamples(files: readonly string[]): Promise<SampleSet[]> {
  const byRun = new Map<string, SampleSet>();
  for (const file of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(samplesPath(file));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const set = SampleSetSchema.parse(JSON.parse(line));
        byRun.set(set.run, set);
      } catch {
        // A torn or foreign line: the report shows what it can.
      }
    }
  }
  return [...byRun.values()];
}
