/**
 * Suite data for the runner: the model of a run, its calibration sample and its evaluation
 * images, per suite.
 *
 * - `proxy`: the project's own models (models/proxy/) on Fashion-MNIST; calibration is a seeded
 *   sample of the train split, evaluation the test split (or, with a limit, an evenly strided
 *   subset of it: the test split is ordered by class, so its first rows would be one class).
 * - `imagenet-subset`: the shared MobileNets with the 1,000 calibration images and the 1,300
 *   validation images (`--assets DIR`, `PTQ_ASSETS`, or `../shared/assets`).
 * - `imagenet`: a user's ImageNet (`--imagenet DIR`: `train/<wnid>/*.JPEG`, `val/` in `<wnid>/`
 *   folders or flat with `LOC_val_solution.csv` or a `filename label` `val.txt`; labels are the
 *   sorted wnids, torchvision's `ImageFolder` order) and the paper's checkpoint exported to ONNX
 *   under its registry file name in `--models-dir DIR`. Calibration is a seeded sample of
 *   `train/` through the model's evaluation transform; evaluation streams `val/` (all of it, or
 *   the budget's strided limit) through the same transform, decoded anew on every pass.
 * - `adhoc` (`deno task quantize`): the model (registry name or ONNX file) and the calibration
 *   and evaluation image folders the command line names.
 *
 * @module
 */
import { getBackend, Random, type Tensor, upload, zeros } from "../runtime/mod.ts";
import {
  execute,
  foldBatchNorm,
  type FoldedBatchNorm,
  type Graph,
  type HostBatch,
  loadOnnx,
  type ModelEntry,
  modelEntry,
  MODELS,
  resolveModel,
  resolveModelInput,
  sha256Hex,
} from "../models/mod.ts";
import { PROXY_MODELS } from "../models/proxy/mod.ts";
import {
  type CalibrationSample,
  describeGeometry,
  detectImageNetLayout,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  type FashionMnistSplit,
  gather,
  hashIds,
  ImageNetDataset,
  type ImageNetLayout,
  loadFashionMnist,
  openImageNet,
  sampleCalibration,
} from "../datasets/mod.ts";
import { assetsDir, specForModel } from "../models/eval.ts";
import type { PreprocessSpec } from "../datasets/preprocess.ts";
import type { RunSpec } from "./cells.ts";
import { PAPERS } from "./registry.ts";

export type { HostBatch };

/** Everything a run needs from its suite. */
export interface SuiteInputs {
  model: { name: string; path: string; sha256: string };
  /** The FP graph as loaded. */
  graph: Graph;
  /** The same graph with BatchNorm folded, and the folded BN parameters by layer name. */
  folded: { graph: Graph; bn: Map<string, FoldedBatchNorm> };
  /**
   * A seeded calibration sample and its class labels; with `perClass`, at most that many images
   * of each class (a seeded permutation walked in order), up to `n`.
   */
  calibration(
    n: number,
    seed: number,
    opts?: { perClass?: number },
  ): Promise<{ images: Tensor; labels: Int32Array; sample: CalibrationSample }>;
  /** How calibration images are preprocessed, in words (absent where they are used as stored). */
  calibPreprocess?: string;
  evalBatches(limit?: number, batch?: number): AsyncIterable<HostBatch>;
  evalSource: string;
}

/** Where files come from (machine settings). */
export interface SuitePaths {
  assetsDir?: string;
  modelsDir?: string;
  imagenetDir?: string;
}

/** The shared assets folder: the flag, else `PTQ_ASSETS`, else `../shared/assets`. */
function assetsRoot(p: SuitePaths): string {
  return p.assetsDir ?? assetsDir();
}

/**
 * A seeded sample with at most `perClass` images of each class: the dataset's positions in a
 * seeded permutation, each taken while its class has fewer than `perClass`, until `n` are taken.
 */
export function samplePerClass(
  ids: readonly string[],
  labels: ArrayLike<number>,
  n: number,
  perClass: number,
  seed: number,
): CalibrationSample {
  if (!(Number.isInteger(perClass) && perClass >= 1)) {
    throw new RangeError(`perClass must be a positive integer, got ${perClass}`);
  }
  const count = new Map<number, number>();
  const indices: number[] = [];
  for (const i of new Random(seed).permutation(ids.length)) {
    if (indices.length >= n) break;
    const c = labels[i];
    if ((count.get(c) ?? 0) >= perClass) continue;
    count.set(c, (count.get(c) ?? 0) + 1);
    indices.push(i);
  }
  const picked = indices.map((i) => ids[i]);
  return { seed, n: indices.length, indices, ids: picked, hash: hashIds(picked) };
}

/** Evenly strided subset of `[0, n)` of size `limit` (all of it without a limit). */
export function stridedIndices(n: number, limit?: number): number[] {
  if (!limit || limit >= n) return Array.from({ length: n }, (_, i) => i);
  const step = n / limit;
  return Array.from({ length: limit }, (_, i) => Math.floor(i * step));
}

function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

const loaded = new Map<string, { graph: Graph; folded: SuiteInputs["folded"]; sha256: string }>();

/** Loads (once per backend) a model's graph onto the default backend. */
function loadGraph(path: string) {
  const key = `${getBackend().name}:${path}`;
  let g = loaded.get(key);
  if (!g) {
    const bytes = Deno.readFileSync(path);
    const graph = loadOnnx(bytes, { name: path });
    const folded = foldBatchNorm(graph);
    g = { graph, folded, sha256: sha256Hex(bytes) };
    loaded.set(key, g);
  }
  return g;
}

let fmCache: { train: FashionMnistSplit; test: FashionMnistSplit } | null = null;

function fashion(): { train: FashionMnistSplit; test: FashionMnistSplit } {
  if (!fmCache) {
    const { train, test } = loadFashionMnist({ size: 28 });
    fmCache = { train: train!, test: test! };
  }
  return fmCache;
}

async function* hostBatches(
  split: FashionMnistSplit,
  indices: number[],
  batch: number,
): AsyncIterable<HostBatch> {
  for (let s = 0; s < indices.length; s += batch) {
    const b = gather(split, indices.slice(s, s + batch));
    yield { images: b.images, labels: b.labels, shape: [...b.shape] };
  }
}

function proxyInputs(name: string): SuiteInputs {
  const entry = (PROXY_MODELS as Record<string, { file: URL }>)[name];
  if (!entry) throw new RangeError(`Unknown proxy model "${name}"`);
  const path = entry.file.pathname;
  try {
    Deno.statSync(path);
  } catch {
    throw new Error(
      `Proxy model ${name} is missing at ${path}: train it with \`deno task train-proxy --model ${name}\``,
    );
  }
  const g = loadGraph(path);
  return {
    model: { name, path, sha256: g.sha256 },
    graph: g.graph,
    folded: g.folded,
    evalSource:
      `Fashion-MNIST test split (last 1,000 per class), normalised (x/255 − ${FASHION_MNIST_MEAN}) / ${FASHION_MNIST_STD}`,
    calibration(n, seed, opts) {
      const { train } = fashion();
      const ids = Array.from({ length: train.shape[0] }, (_, i) => `train/${i}`);
      const sample = opts?.perClass
        ? samplePerClass(ids, train.labels, n, opts.perClass, seed)
        : sampleCalibration({ ids }, n, seed);
      const b = gather(train, sample.indices);
      return Promise.resolve({ images: upload(b.images, b.shape), labels: b.labels, sample });
    },
    evalBatches(limit, batch = 256) {
      const { test } = fashion();
      return hostBatches(test, stridedIndices(test.shape[0], limit), batch);
    },
  };
}

async function imagenetSubsetInputs(name: string, paths: SuitePaths): Promise<SuiteInputs> {
  const root = assetsRoot(paths).replace(/\/?$/, "/");
  if (!(name in MODELS)) throw new RangeError(`Unknown model "${name}"`);
  const modelsDir = paths.modelsDir;
  const { path, entry } = resolveModel(name, {
    path: modelsDir ? `${modelsDir.replace(/\/$/, "")}/${modelEntry(name).file}` : undefined,
  });
  // The 227-px validation subset is evaluated with a plain resize (the assets' own notes); the
  // 256-px calibration images go through the model's own evaluation preprocessing.
  const valDir = `${root}imagenet/ilsvrc2012_val_subset1300_227px`;
  return await folderInputs({
    name,
    path,
    calDir: `${root}imagenet/calib1000_one_per_class_256px`,
    valDir,
    spec: specForModel(entry, "plain"),
    calSpec: specForModel(entry, "model"),
    evalBatch: 50,
    evalSource: `${valDir} (1,300 ImageNet val images, plain resize)`,
  });
}

/** An ad-hoc run's inputs: the model and folders `deno task quantize` names. */
async function adhocInputs(run: RunSpec): Promise<SuiteInputs> {
  const a = run.adhoc;
  if (!a) throw new TypeError(`Run ${run.key} of suite adhoc names no inputs`);
  const input = resolveModelInput(a.model, a.size?.toString(), a.calibPreprocess);
  return await folderInputs({
    name: input.name,
    path: input.path,
    calDir: a.calibDir,
    valDir: a.evalDir,
    spec: input.spec,
    calSpec: input.calibSpec,
    evalBatch: 32,
    evalSource: `${a.evalDir} (${describeGeometry(input.spec.geometry)})`,
  });
}

/** Inputs from a model file and two ImageNet-style image folders. */
async function folderInputs(o: {
  name: string;
  path: string;
  calDir: string;
  valDir: string;
  spec: PreprocessSpec;
  calSpec: PreprocessSpec;
  evalBatch: number;
  evalSource: string;
}): Promise<SuiteInputs> {
  const g = loadGraph(o.path);
  const val = await ImageNetDataset.fromList(o.valDir);
  const cal = await ImageNetDataset.fromList(o.calDir);
  return {
    model: { name: o.name, path: o.path, sha256: g.sha256 },
    graph: g.graph,
    folded: g.folded,
    evalSource: o.evalSource,
    calibPreprocess: describeGeometry(o.calSpec.geometry),
    async calibration(n, seed, opts) {
      const sample = opts?.perClass
        ? samplePerClass(cal.ids, cal.entries.map((e) => e.label), n, opts.perClass, seed)
        : sampleCalibration(cal, n, seed);
      const parts: Float32Array[] = [];
      const labels = new Int32Array(sample.n);
      let shape: number[] = [];
      let k = 0;
      for await (const b of cal.batches({ spec: o.calSpec, batchSize: 64, ids: sample.ids })) {
        parts.push(b.images);
        labels.set(b.labels, k);
        k += b.labels.length;
        shape = [...b.shape];
      }
      const per = shape[1] * shape[2] * shape[3];
      const all = new Float32Array(sample.n * per);
      let off = 0;
      for (const p of parts) (all.set(p, off), (off += p.length));
      return { images: upload(all, [sample.n, shape[1], shape[2], shape[3]]), labels, sample };
    },
    evalBatches: memoBatches(async function* (limit, batch = o.evalBatch) {
      const ids = stridedIndices(val.ids.length, limit).map((i) => val.ids[i]);
      for await (const b of val.batches({ spec: o.spec, batchSize: batch, ids })) {
        yield { images: b.images, labels: b.labels, shape: [...b.shape] };
      }
    }),
  };
}

/** Decoded evaluation images kept in memory per suite inputs (a run evaluates them 3–4 times). */
const MEMO_BYTES = 1024 * 2 ** 20;

/**
 * Evaluation batches decoded once: the first complete pass over a (limit, batch) is kept (while
 * its images stay under {@linkcode MEMO_BYTES}) and replayed by the next passes, instead of
 * decoding every JPEG again for the exported model, the fused model and FP32. Consumers only
 * read the batches.
 */
function memoBatches(
  source: (limit?: number, batch?: number) => AsyncIterable<HostBatch>,
): (limit?: number, batch?: number) => AsyncIterable<HostBatch> {
  const kept = new Map<string, HostBatch[]>();
  return async function* (limit, batch) {
    const key = `${limit}|${batch}`;
    const done = kept.get(key);
    if (done) {
      yield* done;
      return;
    }
    let parts: HostBatch[] | null = [];
    let bytes = 0;
    for await (const b of source(limit, batch)) {
      if (parts) {
        bytes += b.images.byteLength;
        if (bytes > MEMO_BYTES) parts = null;
        else parts.push(b);
      }
      yield b;
    }
    if (parts) kept.set(key, parts);
  };
}

/**
 * The registry model of each paper checkpoint the `imagenet` suite can run (paper metadata's
 * `checkpoints[].id` → `MODELS` name): the file is looked for in `--models-dir` under the
 * registry's file name (e.g. `resnet18.onnx`), else under the checkpoint's own `onnx` name (e.g.
 * `brecq_resnet18.onnx`). Checkpoints without an entry (BRECQ's RegNetX-3.2GF, d-li14's
 * MobileNetV2 1.0) are looked for under their `onnx` name only, with the torchvision evaluation
 * transform (224, crop 0.875, ImageNet mean/std) and 1,000 classes assumed and said so.
 */
export const CHECKPOINT_MODELS: Readonly<Record<string, keyof typeof MODELS>> = {
  "brecq_v1.0/resnet18": "resnet18",
  "brecq_v1.0/resnet50": "resnet50",
  "brecq_v1.0/mobilenetv2": "mobilenetv2",
  "brecq_v1.0/regnetx_600mf": "regnetx_600mf",
  "brecq_v1.0/mnasnet_x2.0": "mnasnet",
  "dli14/mobilenetv2_0.75": "mobilenetv2_075",
  "dli14/mobilenetv2_0.5": "mobilenetv2_05",
  "dli14/mobilenetv2_0.35": "mobilenetv2_035",
};

/**
 * Refuses a model whose input size or class count differs from its registry entry: the static
 * input shape `[N, 3, S, S]` is compared where it is known, and the class count is the static
 * last output dimension or, where that is symbolic, the one a zero image of the entry's size gives.
 */
export function checkModelAgainstEntry(
  graph: Graph,
  name: string,
  entry: ModelEntry,
  path: string,
): void {
  const input = graph.inputs[0];
  const S = entry.inputSize;
  if (!input) throw new RangeError(`Model ${name} (${path}) has no input`);
  const dims = input.shape;
  const fixed = (d: number | string | undefined) => typeof d === "number" && d > 0;
  if (
    dims.length !== 4 || (fixed(dims[1]) && dims[1] !== 3) ||
    (fixed(dims[2]) && dims[2] !== S) || (fixed(dims[3]) && dims[3] !== S)
  ) {
    throw new RangeError(
      `Model ${name} (${path}) takes input ${JSON.stringify(dims)}, but its registry entry ` +
        `says [N, 3, ${S}, ${S}]`,
    );
  }
  const out = graph.outputs[0]?.shape ?? [];
  let classes = out.length >= 2 && fixed(out[out.length - 1]) ? out[out.length - 1] as number : 0;
  if (!classes) {
    const x = zeros([1, 3, S, S]);
    try {
      const y = execute(graph, { feeds: { [input.name]: x } });
      const first = y[graph.outputs[0].name];
      classes = first.shape[first.shape.length - 1];
      for (const t of Object.values(y)) t.dispose();
    } catch (e) {
      throw new RangeError(
        `Model ${name} (${path}) does not run on a ${S}×${S} input, the size its registry entry ` +
          `gives: ${(e as Error).message.split("\n")[0]}`,
        { cause: e },
      );
    } finally {
      x.dispose();
    }
  }
  if (classes !== entry.classes) {
    throw new RangeError(
      `Model ${name} (${path}) has ${classes} outputs per image, but its registry entry says ` +
        `${entry.classes} classes`,
    );
  }
}

const imagenetDataCache = new Map<
  string,
  Promise<{ layout: ImageNetLayout } & Awaited<ReturnType<typeof openImageNet>>>
>();

/** A user's ImageNet, detected and listed once per folder and process. */
export function imagenetData(dir: string): Promise<
  { layout: ImageNetLayout } & Awaited<ReturnType<typeof openImageNet>>
> {
  let d = imagenetDataCache.get(dir);
  if (!d) {
    d = (async () => {
      const layout = await detectImageNetLayout(dir);
      return { layout, ...(await openImageNet(layout)) };
    })();
    d.catch(() => imagenetDataCache.delete(dir));
    imagenetDataCache.set(dir, d);
  }
  return d;
}

/** The calibration augmentation a run's recipe names ("none" or absent: none). */
function recipeAugment(run: RunSpec): string | undefined {
  const paper = Object.hasOwn(PAPERS, run.paper) ? PAPERS[run.paper] : undefined;
  const a = paper?.recipes.find((r) => r.id === run.recipe.id)?.fixed.calibration.augment;
  return a && !/^none\b/.test(a) ? a : undefined;
}

/** Inputs of the `imagenet` suite: a paper checkpoint from --models-dir, a user's ImageNet. */
async function imagenetInputs(run: RunSpec, paths: SuitePaths): Promise<SuiteInputs> {
  const ck = run.model.checkpoint;
  if (!paths.imagenetDir) {
    throw new Error(
      "Suite imagenet needs a user's ImageNet: pass --imagenet DIR (train/<wnid>/*.JPEG and val/)",
    );
  }
  if (!paths.modelsDir) {
    throw new Error(
      `Suite imagenet needs --models-dir DIR with the paper's checkpoint ${ck ?? run.model.name} ` +
        "exported to ONNX under its registry file name",
    );
  }
  const registered = ck ? CHECKPOINT_MODELS[ck] : undefined;
  if (!registered && !run.model.onnx) {
    throw new RangeError(`Checkpoint ${ck ?? run.model.name} names no ONNX file to look for`);
  }
  // A checkpoint without a registry entry is looked for under its own onnx name, with the
  // torchvision evaluation transform at 224 and 1,000 classes (as every such checkpoint is).
  const name = registered ?? run.model.name;
  const entry: ModelEntry = registered ? modelEntry(registered) : {
    ...modelEntry("resnet18"),
    file: run.model.onnx!,
    sha256: undefined,
    export: undefined,
    fp32: undefined,
    notes: "no registry entry: the torchvision evaluation transform is assumed",
  };
  const assumed = registered ? "" : "; no registry entry: torchvision eval transform assumed";
  const dir = paths.modelsDir.replace(/\/+$/, "");
  const candidates = [`${dir}/${entry.file}`];
  if (run.model.onnx && run.model.onnx !== entry.file) candidates.push(`${dir}/${run.model.onnx}`);
  const path = candidates.find(isFile);
  if (!path) {
    throw new Deno.errors.NotFound(
      `Model ${name} for checkpoint ${ck} is missing from --models-dir: no ${
        candidates.join(" or ")
      }; ${
        entry.export
          ? `export it with: ${entry.export}`
          : "export it to ONNX (opset 13, input [N, 3, 224, 224], 1000 logits)"
      }`,
    );
  }
  const g = loadGraph(path);
  checkModelAgainstEntry(g.graph, name, entry, path);
  const { layout, train, val } = await imagenetData(paths.imagenetDir);
  const spec = specForModel(entry, "model");
  const geometry = describeGeometry(spec.geometry);
  const augment = recipeAugment(run);
  const trainLabels = train.entries.map((e) => e.label);
  // Decoded images are kept for a strided subset that fits (smoke's 500); the whole val/ is
  // streamed, decoded anew on every pass.
  const stream = async function* (limit?: number, batch = 50): AsyncIterable<HostBatch> {
    const ids = stridedIndices(val.ids.length, limit).map((i) => val.ids[i]);
    for await (const b of val.batches({ spec, batchSize: batch, ids })) {
      yield { images: b.images, labels: b.labels, shape: [...b.shape] };
    }
  };
  const memo = memoBatches(stream);
  const per = 3 * entry.inputSize * entry.inputSize * 4;
  return {
    model: { name, path, sha256: g.sha256 },
    graph: g.graph,
    folded: g.folded,
    evalSource: `${layout.valDir} (ILSVRC2012 val, ${val.length} images; ${layout.description}; ` +
      `${geometry}${assumed})`,
    calibPreprocess: `${geometry} (the model's evaluation transform)` +
      (augment ? `; deviation: the paper's code augments calibration images (${augment})` : ""),
    async calibration(n, seed, opts) {
      const sample = opts?.perClass
        ? samplePerClass(train.ids, trainLabels, n, opts.perClass, seed)
        : sampleCalibration(train, n, seed);
      const S = entry.inputSize;
      const all = new Float32Array(sample.n * 3 * S * S);
      const labels = new Int32Array(sample.n);
      let k = 0;
      for await (const b of train.batches({ spec, batchSize: 32, ids: sample.ids })) {
        all.set(b.images, k * 3 * S * S);
        labels.set(b.labels, k);
        k += b.labels.length;
      }
      return { images: upload(all, [sample.n, 3, S, S]), labels, sample };
    },
    evalBatches(limit, batch) {
      return limit !== undefined && limit * per <= MEMO_BYTES
        ? memo(limit, batch)
        : stream(limit, batch);
    },
  };
}

/** Loads a run's suite inputs. */
export async function suiteInputs(run: RunSpec, paths: SuitePaths): Promise<SuiteInputs> {
  const suite = run.suite;
  if (suite === "proxy") return proxyInputs(run.model.name);
  if (suite === "imagenet-subset") return await imagenetSubsetInputs(run.model.name, paths);
  if (suite === "adhoc") return await adhocInputs(run);
  if (suite === "imagenet") return await imagenetInputs(run, paths);
  throw new Error(`Suite ${suite} needs a user's VOCdevkit (--voc DIR): not wired in this version`);
}
