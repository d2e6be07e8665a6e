/**
 * Image preprocessing: a versioned, validated spec (zod) and its implementation, from decoded RGB
 * bytes to a `Float32Array` in CHW order.
 *
 * Geometry (one of):
 * - `resize-center-crop` — torchvision `Resize(resize)` (short side to `resize`, long side
 *   `trunc(resize·long/short)`, no-op when the short side already matches) then
 *   `CenterCrop(crop)` (offsets `round((H − crop)/2)` with Python's round-half-to-even; zero
 *   padding when the image is smaller than the crop, as torchvision pads).
 * - `central-fraction-resize` — TF `tf.image.central_crop(fraction)` (offset
 *   `trunc((H − H·fraction)/2)`, size `H − 2·offset`) then resize to `size × size`.
 * - `resize` — plain resize to `size × size` (aspect ratio not kept).
 *
 * Interpolation:
 * - `bilinear`, `bicubic` — Pillow's `Image.resize(BILINEAR | BICUBIC)` reproduced exactly:
 *   antialiased (filter support scaled by the downscale factor), separable, horizontal pass
 *   first, 22-bit fixed-point coefficients and a uint8 intermediate, as torchvision's PIL path
 *   does. Tested bit-exact against Pillow 12 (`fixtures/pil_resize.json`).
 * - `tf-bilinear` — `tf.compat.v1.image.resize_bilinear(align_corners=False)` (TF1 / TF-slim
 *   evaluation: source = dst·in/out, no antialiasing), computed in float without rounding.
 * - `tf2-bilinear` — `tf.image.resize(method="bilinear", antialias=False)` (half-pixel centres).
 *
 * Normalisation of a pixel value `v` in [0, 255]:
 * - `mean-std` — `(v/255 − mean[c]) / std[c]` (torchvision `ToTensor` + `Normalize`);
 * - `tf` — `v/127.5 − 1` (range [−1, 1], the TF-slim MobileNets);
 * - `unit` — `v/255` (range [0, 1], the YOLO detector).
 *
 * @module
 */
import { z } from "zod";
import type { RgbImage } from "./image.ts";

/** The interpolations a spec may name. */
export const Interpolation = z.enum(["bilinear", "bicubic", "tf-bilinear", "tf2-bilinear"]);
export type Interpolation = z.infer<typeof Interpolation>;

const Size = z.number().int().positive();

/** The geometric part of a spec. */
export const Geometry = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("resize-center-crop"),
    resize: Size,
    crop: Size,
    interpolation: Interpolation.default("bilinear"),
  }),
  z.object({
    kind: z.literal("central-fraction-resize"),
    fraction: z.number().gt(0).lte(1).default(0.875),
    size: Size,
    interpolation: Interpolation.default("tf-bilinear"),
  }),
  z.object({
    kind: z.literal("resize"),
    size: Size,
    interpolation: Interpolation.default("bilinear"),
  }),
]);
export type Geometry = z.infer<typeof Geometry>;

const Triple = z.tuple([z.number(), z.number(), z.number()]);

/** The normalisation part of a spec. */
export const Normalization = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("mean-std"),
    mean: Triple,
    std: Triple.refine((s) => s.every((v) => v > 0), "std must be positive"),
  }),
  z.object({ kind: z.literal("tf") }),
  z.object({ kind: z.literal("unit") }),
]);
export type Normalization = z.infer<typeof Normalization>;

/** A full preprocessing spec: geometry then normalisation. */
export const PreprocessSpec = z.object({ geometry: Geometry, normalize: Normalization });
export type PreprocessSpec = z.infer<typeof PreprocessSpec>;

/** A spec's geometry in words, for logs and records ("central 87.5 % crop, resize to 224 (tf-bilinear)"). */
export function describeGeometry(g: Geometry): string {
  switch (g.kind) {
    case "resize":
      return `plain resize to ${g.size} (${g.interpolation})`;
    case "central-fraction-resize": {
      const percent = +(g.fraction * 100).toFixed(2);
      return `central ${percent} % crop, resize to ${g.size} (${g.interpolation})`;
    }
    case "resize-center-crop":
      return `resize to ${g.resize}, center crop ${g.crop} (${g.interpolation})`;
  }
}

/** ImageNet channel mean and std on [0, 1] (torchvision). */
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/**
 * torchvision ImageNet evaluation: `Resize(resize)`, `CenterCrop(crop)`, ImageNet mean/std. For
 * timm ViT/DeiT evaluation pass `{ interpolation: "bicubic", resize: 248 }` (DeiT) and the
 * model's own mean/std.
 */
export function torchvisionSpec(
  opts: {
    crop?: number;
    resize?: number;
    interpolation?: Interpolation;
    mean?: [number, number, number];
    std?: [number, number, number];
  } = {},
): PreprocessSpec {
  return PreprocessSpec.parse({
    geometry: {
      kind: "resize-center-crop",
      resize: opts.resize ?? 256,
      crop: opts.crop ?? 224,
      interpolation: opts.interpolation ?? "bilinear",
    },
    normalize: {
      kind: "mean-std",
      mean: opts.mean ?? IMAGENET_MEAN,
      std: opts.std ?? IMAGENET_STD,
    },
  });
}

/** TF-slim evaluation: central 87.5 % crop, TF1 bilinear resize to `size`, `x/127.5 − 1`. */
export function tfSlimSpec(size: number, fraction = 0.875): PreprocessSpec {
  return PreprocessSpec.parse({
    geometry: { kind: "central-fraction-resize", fraction, size, interpolation: "tf-bilinear" },
    normalize: { kind: "tf" },
  });
}

/** Plain resize to `size × size` (PIL bilinear by default), then the given normalisation. */
export function plainResizeSpec(
  size: number,
  normalize: Normalization = { kind: "tf" },
  interpolation: Interpolation = "bilinear",
): PreprocessSpec {
  return PreprocessSpec.parse({
    geometry: { kind: "resize", size, interpolation },
    normalize,
  });
}

// ---------------------------------------------------------------------------------------------
// Resampling

/** Per-output-pixel taps: `start[i]`, `count[i]`, weights at `weights[i·ksize + j]`. */
interface Taps {
  outSize: number;
  ksize: number;
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array;
}

function bilinearFilter(x: number): number {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

function bicubicFilter(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** Pillow's `precompute_coeffs` (Resample.c) for the region [0, inSize). */
function pilTaps(inSize: number, outSize: number, kind: "bilinear" | "bicubic"): Taps {
  const [filter, baseSupport] = kind === "bilinear" ? [bilinearFilter, 1] : [bicubicFilter, 2];
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = baseSupport * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter((x + xmin - center + 0.5) * ss);
      weights[xx * ksize + x] = w;
      ww += w;
    }
    if (ww !== 0) { for (let x = 0; x < xmax; x++) weights[xx * ksize + x] /= ww; }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { outSize, ksize, start, count, weights };
}

/** TensorFlow's bilinear `compute_interpolation_weights` (legacy or half-pixel scaler). */
function tfTaps(inSize: number, outSize: number, halfPixel: boolean): Taps {
  const scale = inSize / outSize;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize).fill(2);
  const weights = new Float64Array(outSize * 2);
  for (let i = 0; i < outSize; i++) {
    const src = halfPixel ? (i + 0.5) * scale - 0.5 : i * scale;
    const f = Math.floor(src);
    const lower = Math.max(f, 0);
    const upper = Math.min(Math.ceil(src), inSize - 1);
    const lerp = src - f;
    // Express as taps starting at `lower`: upper is lower or lower + 1.
    start[i] = lower;
    if (upper === lower) {
      weights[i * 2] = 1;
      count[i] = 1;
    } else {
      weights[i * 2] = 1 - lerp;
      weights[i * 2 + 1] = lerp;
    }
  }
  return { outSize, ksize: 2, start, count, weights };
}

function taps(inSize: number, outSize: number, interp: Interpolation): Taps {
  switch (interp) {
    case "bilinear":
    case "bicubic":
      return pilTaps(inSize, outSize, interp);
    case "tf-bilinear":
      return tfTaps(inSize, outSize, false);
    case "tf2-bilinear":
      return tfTaps(inSize, outSize, true);
  }
}

const PRECISION_BITS = 32 - 8 - 2;
const FIXED_ONE = 2 ** PRECISION_BITS;

/** Pillow's `normalize_coeffs_8bpc`: round-half-away-from-zero to 22-bit fixed point. */
function fixedPoint(t: Taps): Float64Array {
  const k = new Float64Array(t.weights.length);
  for (let i = 0; i < k.length; i++) {
    const w = t.weights[i];
    k[i] = w < 0 ? Math.trunc(-0.5 + w * FIXED_ONE) : Math.trunc(0.5 + w * FIXED_ONE);
  }
  return k;
}

function clip8(ss: number): number {
  const v = Math.floor(ss / FIXED_ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Pillow-exact 8-bit resample along one axis of an interleaved RGB image. */
function pilPass8(
  src: Uint8Array,
  w: number,
  h: number,
  t: Taps,
  horizontal: boolean,
): Uint8Array {
  const k = fixedPoint(t);
  const outW = horizontal ? t.outSize : w;
  const outH = horizontal ? h : t.outSize;
  const out = new Uint8Array(outW * outH * 3);
  const half = FIXED_ONE / 2;
  const ks = t.ksize;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const o = horizontal ? x : y;
      const s0 = t.start[o];
      const n = t.count[o];
      let r = half, g = half, b = half;
      for (let j = 0; j < n; j++) {
        const kk = k[o * ks + j];
        const p = horizontal ? (y * w + s0 + j) * 3 : ((s0 + j) * w + x) * 3;
        r += src[p] * kk;
        g += src[p + 1] * kk;
        b += src[p + 2] * kk;
      }
      const q = (y * outW + x) * 3;
      out[q] = clip8(r);
      out[q + 1] = clip8(g);
      out[q + 2] = clip8(b);
    }
  }
  return out;
}

/** Float resample along one axis of an interleaved RGB image. */
function floatPass(
  src: ArrayLike<number>,
  w: number,
  h: number,
  t: Taps,
  horizontal: boolean,
): Float32Array {
  const outW = horizontal ? t.outSize : w;
  const outH = horizontal ? h : t.outSize;
  const out = new Float32Array(outW * outH * 3);
  const ks = t.ksize;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const o = horizontal ? x : y;
      const s0 = t.start[o];
      const n = t.count[o];
      let r = 0, g = 0, b = 0;
      for (let j = 0; j < n; j++) {
        const kk = t.weights[o * ks + j];
        const p = horizontal ? (y * w + s0 + j) * 3 : ((s0 + j) * w + x) * 3;
        r += src[p] * kk;
        g += src[p + 1] * kk;
        b += src[p + 2] * kk;
      }
      const q = (y * outW + x) * 3;
      out[q] = r;
      out[q + 1] = g;
      out[q + 2] = b;
    }
  }
  return out;
}

/** An interleaved RGB raster with either byte or float samples in [0, 255]. */
export interface Raster {
  width: number;
  height: number;
  data: Uint8Array | Float32Array;
}

/**
 * Resizes an RGB raster to `outW × outH`. Pillow interpolations on byte input give bytes
 * (Pillow-exact); TF interpolations, or float input, give floats.
 *
 * @example
 * ```ts
 * import { resize } from "./preprocess.ts";
 * const img = { width: 4, height: 4, data: new Uint8Array(48).fill(100) };
 * console.log(resize(img, 2, 2, "bilinear").data); // 12 bytes, all 100
 * ```
 */
export function resize(img: Raster, outW: number, outH: number, interp: Interpolation): Raster {
  if (!(Number.isInteger(outW) && Number.isInteger(outH) && outW > 0 && outH > 0)) {
    throw new RangeError(`Cannot resize to ${outW}×${outH}: sizes must be positive integers`);
  }
  const { width: w, height: h } = img;
  if (w === outW && h === outH) return img;
  const th = taps(w, outW, interp);
  const tv = taps(h, outH, interp);
  const pil8 = img.data instanceof Uint8Array && (interp === "bilinear" || interp === "bicubic");
  let data: Uint8Array | Float32Array = img.data;
  let cw = w;
  if (outW !== w) {
    data = pil8 ? pilPass8(data as Uint8Array, cw, h, th, true) : floatPass(data, cw, h, th, true);
    cw = outW;
  }
  if (outH !== h) {
    data = pil8
      ? pilPass8(data as Uint8Array, cw, h, tv, false)
      : floatPass(data, cw, h, tv, false);
  }
  return { width: outW, height: outH, data };
}

/** Crops `[top, top+ch) × [left, left+cw)`; pixels outside the source are 0. */
export function crop(img: Raster, top: number, left: number, cw: number, ch: number): Raster {
  const out = img.data instanceof Uint8Array
    ? new Uint8Array(cw * ch * 3)
    : new Float32Array(cw * ch * 3);
  for (let y = 0; y < ch; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    for (let x = 0; x < cw; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= img.width) continue;
      const p = (sy * img.width + sx) * 3;
      const q = (y * cw + x) * 3;
      out[q] = img.data[p];
      out[q + 1] = img.data[p + 1];
      out[q + 2] = img.data[p + 2];
    }
  }
  return { width: cw, height: ch, data: out };
}

/** Python 3 `round()`: half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision `Resize(size)` output size for an int `size` (short side), as `[w, h]`. */
export function torchvisionResizeSize(w: number, h: number, size: number): [number, number] {
  const short = Math.min(w, h), long = Math.max(w, h);
  if (short === size) return [w, h];
  const newLong = Math.trunc((size * long) / short);
  return w <= h ? [size, newLong] : [newLong, size];
}

/** torchvision `CenterCrop(size)` (with its zero padding when the image is smaller). */
export function centerCrop(img: Raster, cw: number, ch: number): Raster {
  const padL = cw > img.width ? Math.floor((cw - img.width) / 2) : 0;
  const padT = ch > img.height ? Math.floor((ch - img.height) / 2) : 0;
  const padR = cw > img.width ? Math.floor((cw - img.width + 1) / 2) : 0;
  const padB = ch > img.height ? Math.floor((ch - img.height + 1) / 2) : 0;
  const pw = img.width + padL + padR, ph = img.height + padT + padB;
  const top = roundHalfEven((ph - ch) / 2) - padT;
  const left = roundHalfEven((pw - cw) / 2) - padL;
  if (top === 0 && left === 0 && cw === img.width && ch === img.height) return img;
  return crop(img, top, left, cw, ch);
}

/** `tf.image.central_crop(img, fraction)`. */
export function centralFractionCrop(img: Raster, fraction: number): Raster {
  if (fraction === 1) return img;
  const top = Math.trunc((img.height - img.height * fraction) / 2);
  const left = Math.trunc((img.width - img.width * fraction) / 2);
  return crop(img, top, left, img.width - 2 * left, img.height - 2 * top);
}

/** Applies the geometric part of a spec; the result is `outSize × outSize`. */
export function applyGeometry(img: Raster, g: Geometry): Raster {
  switch (g.kind) {
    case "resize-center-crop": {
      const [rw, rh] = torchvisionResizeSize(img.width, img.height, g.resize);
      return centerCrop(resize(img, rw, rh, g.interpolation), g.crop, g.crop);
    }
    case "central-fraction-resize":
      return resize(centralFractionCrop(img, g.fraction), g.size, g.size, g.interpolation);
    case "resize":
      return resize(img, g.size, g.size, g.interpolation);
  }
}

/** The side of the square a spec produces. */
export function outputSize(spec: PreprocessSpec): number {
  return spec.geometry.kind === "resize-center-crop" ? spec.geometry.crop : spec.geometry.size;
}

/**
 * Preprocesses one decoded image into `out` (CHW, `3·S·S` floats) at `offset`, allocating `out`
 * when absent.
 *
 * @example
 * ```ts
 * import { plainResizeSpec, preprocess } from "./preprocess.ts";
 * const img = { width: 8, height: 6, data: new Uint8Array(8 * 6 * 3).fill(255) };
 * const x = preprocess(img, plainResizeSpec(4, { kind: "tf" }));
 * console.log(x.length, x[0]); // 48 1
 * ```
 */
export function preprocess(
  img: RgbImage | Raster,
  spec: PreprocessSpec,
  out?: Float32Array,
  offset = 0,
): Float32Array {
  const r = applyGeometry(img, spec.geometry);
  const s = outputSize(spec);
  const plane = s * s;
  const dst = out ?? new Float32Array(3 * plane);
  if (offset + 3 * plane > dst.length) {
    throw new RangeError(
      `Cannot write a 3×${s}×${s} image at offset ${offset} into ${dst.length} floats`,
    );
  }
  let scale: [number, number, number], shift: [number, number, number];
  const n = spec.normalize;
  if (n.kind === "mean-std") {
    scale = [0, 1, 2].map((c) => 1 / (255 * n.std[c])) as [number, number, number];
    shift = [0, 1, 2].map((c) => -n.mean[c] / n.std[c]) as [number, number, number];
  } else if (n.kind === "tf") {
    scale = [1 / 127.5, 1 / 127.5, 1 / 127.5];
    shift = [-1, -1, -1];
  } else {
    scale = [1 / 255, 1 / 255, 1 / 255];
    shift = [0, 0, 0];
  }
  const d = r.data;
  for (let c = 0; c < 3; c++) {
    const base = offset + c * plane, sc = scale[c], sh = shift[c];
    for (let i = 0; i < plane; i++) dst[base + i] = d[i * 3 + c] * sc + sh;
  }
  return dst;
}
