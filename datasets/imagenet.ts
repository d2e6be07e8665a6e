/**
 * ImageNet (ILSVRC2012) classification data from a folder of JPEGs, in one of two layouts:
 *
 * - **list** — a folder plus a `filename label` list (labels 0–999 in the standard ILSVRC2012
 *   order): the shared subsets' `labels.txt`, or `ILSVRC2012_val_ground_truth_50000.txt` for a
 *   full val folder. The label is the last whitespace-separated token, so file names may contain
 *   spaces and apostrophes; blank lines are skipped.
 * - **class folders** — one subfolder per wnid (`n01440764/…`); the label of a wnid is its line
 *   index in `synset_words.txt` (the sorted wnids), or, without that file, its index among the
 *   sorted subfolder names (right only when all 1,000 classes are present).
 *
 * A user's full ImageNet (`train/<wnid>/*.JPEG` and `val/` in class folders or flat with a
 * ground-truth file) is found by {@linkcode detectImageNetLayout} and opened by
 * {@linkcode openImageNet}, labelled by the sorted train wnids (torchvision's `ImageFolder` order).
 *
 * Missing folders or lists, a listed file that is missing, a malformed line (reported with its
 * line number) and labels outside 0–999 raise errors. Images are decoded with `jpeg-js` and
 * preprocessed by a {@link PreprocessSpec} into NCHW `Float32Array` batches.
 *
 * @module
 */
import { decodeJpeg } from "./image.ts";
import { outputSize, preprocess, type PreprocessSpec } from "./preprocess.ts";

/** One labelled image. `id` is the file's path relative to the dataset root. */
export interface ImageEntry {
  id: string;
  path: string;
  label: number;
}

/** A batch: `images` is `[n, 3, S, S]`, `labels[i]` and `ids[i]` belong to image `i`. */
export interface ImageBatch {
  images: Float32Array;
  labels: Int32Array;
  ids: string[];
  shape: [number, number, number, number];
}

/** Options for iterating batches. */
export interface BatchOptions {
  spec: PreprocessSpec;
  batchSize: number;
  /** At most this many images (the first ones, in dataset order, or of `ids`). */
  limit?: number;
  /** Only these ids, in this order (e.g. a calibration sample). */
  ids?: readonly string[];
}

/** Number of ILSVRC2012 classes. */
export const NUM_CLASSES = 1000;

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function toPath(p: string | URL): string {
  return p instanceof URL ? decodeURIComponent(p.pathname) : p;
}

async function statOrThrow(path: string, what: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`${what} not found: ${path}`, { cause: e });
    }
    throw e;
  }
}

/**
 * Parses a `filename label` list. `source` names the list in errors.
 *
 * @example
 * ```ts
 * import { parseLabelList } from "./imagenet.ts";
 * console.log(parseLabelList("a.JPEG 3\nb c's.JPEG 999\n", "labels.txt"));
 * // [ { file: "a.JPEG", label: 3 }, { file: "b c's.JPEG", label: 999 } ]
 * ```
 */
export function parseLabelList(
  text: string,
  source: string,
  numClasses = NUM_CLASSES,
): { file: string; label: number }[] {
  const out: { file: string; label: number }[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const m = /^(.+?)\s+(\S+)$/.exec(line);
    if (!m) {
      throw new SyntaxError(
        `${source}:${i + 1}: expected "filename label", got ${JSON.stringify(line)}`,
      );
    }
    if (!/^[+-]?\d+$/.test(m[2])) {
      throw new SyntaxError(
        `${source}:${i + 1}: label ${JSON.stringify(m[2])} is not an integer`,
      );
    }
    const label = Number(m[2]);
    if (label < 0 || label >= numClasses) {
      throw new RangeError(
        `${source}:${i + 1}: label ${label} is outside 0–${numClasses - 1}`,
      );
    }
    out.push({ file: m[1], label });
  }
  return out;
}

/** Reads `synset_words.txt` (`wnid description` per line) into the ordered wnid list. */
export async function readSynsets(path: string | URL): Promise<string[]> {
  const p = toPath(path);
  await statOrThrow(p, "Synset list");
  const wnids: string[] = [];
  const lines = (await Deno.readTextFile(p)).split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const m = /^(n\d{8})(\s|$)/.exec(line);
    if (!m) throw new SyntaxError(`${p}:${i + 1}: expected "nXXXXXXXX description"`);
    wnids.push(m[1]);
  }
  return wnids;
}

/**
 * An ImageNet-style labelled image folder.
 *
 * @example
 * ```ts ignore
 * import { ImageNetDataset } from "./imagenet.ts";
 * import { tfSlimSpec } from "./preprocess.ts";
 * const ds = await ImageNetDataset.fromList("imagenet/ilsvrc2012_val_subset1300_227px");
 * for await (const b of ds.batches({ spec: tfSlimSpec(224), batchSize: 32, limit: 64 })) {
 *   console.log(b.shape, b.labels[0], b.ids[0]);
 * }
 * ```
 */
export class ImageNetDataset {
  readonly root: string;
  readonly entries: readonly ImageEntry[];
  readonly #byId: Map<string, number>;

  constructor(root: string, entries: readonly ImageEntry[]) {
    this.root = root;
    this.entries = entries;
    this.#byId = new Map(entries.map((e, i) => [e.id, i]));
    if (this.#byId.size !== entries.length) {
      throw new SyntaxError(`Dataset ${root} lists the same file more than once`);
    }
  }

  /** The ids (relative paths), in dataset order. */
  get ids(): string[] {
    return this.entries.map((e) => e.id);
  }

  get length(): number {
    return this.entries.length;
  }

  /** The entry of an id. */
  entry(id: string): ImageEntry {
    const i = this.#byId.get(id);
    if (i === undefined) throw new RangeError(`No image with id ${JSON.stringify(id)}`);
    return this.entries[i];
  }

  /**
   * A folder plus a `filename label` list (default `<dir>/labels.txt`). With
   * `missing: "skip"`, listed files absent from the folder are dropped (e.g. the 50k
   * ground truth over a partial val folder); by default they are an error.
   */
  static async fromList(
    dir: string | URL,
    opts: { list?: string | URL; missing?: "error" | "skip"; numClasses?: number } = {},
  ): Promise<ImageNetDataset> {
    const root = toPath(dir);
    if (!(await statOrThrow(root, "Image folder")).isDirectory) {
      throw new TypeError(`Image folder is not a directory: ${root}`);
    }
    const listPath = opts.list === undefined ? join(root, "labels.txt") : toPath(opts.list);
    await statOrThrow(listPath, "Label list");
    const rows = parseLabelList(await Deno.readTextFile(listPath), listPath, opts.numClasses);
    const present = new Set<string>();
    for await (const e of Deno.readDir(root)) if (e.isFile) present.add(e.name);
    const entries: ImageEntry[] = [];
    for (const r of rows) {
      const ok = r.file.includes("/")
        ? await Deno.stat(join(root, r.file)).then(() => true, () => false)
        : present.has(r.file);
      if (!ok) {
        if (opts.missing === "skip") continue;
        throw new Deno.errors.NotFound(
          `${listPath} lists ${r.file}, which is not in ${root}`,
        );
      }
      entries.push({ id: r.file, path: join(root, r.file), label: r.label });
    }
    if (entries.length === 0) throw new RangeError(`No images of ${listPath} found in ${root}`);
    return new ImageNetDataset(root, entries);
  }

  /**
   * Class-folder layout: `<dir>/<wnid>/*.JPEG` (any case of `.jpeg`/`.jpg`). Labels come from
   * `synsets` (`synset_words.txt`) or `wnids` (label `i` is `wnids[i]`) when given, else from the
   * sorted subfolder names. Files are ordered by wnid, then by name.
   */
  static async fromClassFolders(
    dir: string | URL,
    opts: { synsets?: string | URL; wnids?: readonly string[] } = {},
  ): Promise<ImageNetDataset> {
    const root = toPath(dir);
    if (!(await statOrThrow(root, "Image folder")).isDirectory) {
      throw new TypeError(`Image folder is not a directory: ${root}`);
    }
    const folders: string[] = [];
    for await (const e of Deno.readDir(root)) if (e.isDirectory) folders.push(e.name);
    folders.sort();
    if (folders.length === 0) throw new RangeError(`No class folders in ${root}`);
    let index: Map<string, number>;
    if (opts.synsets !== undefined) {
      const wnids = await readSynsets(opts.synsets);
      index = new Map(wnids.map((w, i) => [w, i]));
    } else if (opts.wnids !== undefined) {
      index = new Map(opts.wnids.map((w, i) => [w, i]));
    } else {
      index = new Map(folders.map((w, i) => [w, i]));
    }
    const entries: ImageEntry[] = [];
    for (const f of folders) {
      const label = index.get(f);
      if (label === undefined) {
        throw new RangeError(`Class folder ${join(root, f)} is not a wnid of the synset list`);
      }
      if (label >= NUM_CLASSES) {
        throw new RangeError(`Class folder ${f} maps to label ${label}, outside 0–999`);
      }
      const names: string[] = [];
      for await (const e of Deno.readDir(join(root, f))) {
        if (e.isFile && /\.jpe?g$/i.test(e.name)) names.push(e.name);
      }
      names.sort();
      for (const n of names) {
        entries.push({ id: `${f}/${n}`, path: join(root, `${f}/${n}`), label });
      }
    }
    if (entries.length === 0) throw new RangeError(`No JPEG files under ${root}`);
    return new ImageNetDataset(root, entries);
  }

  /** Decodes and preprocesses one image into `out` at `offset` (CHW). */
  async load(id: string, spec: PreprocessSpec, out?: Float32Array, offset = 0) {
    const e = this.entry(id);
    const bytes = await Deno.readFile(e.path);
    return preprocess(decodeJpeg(bytes, e.path), spec, out, offset);
  }

  /**
   * Yields preprocessed batches (the last one may be smaller). File reads run one batch ahead of
   * decoding.
   */
  async *batches(opts: BatchOptions): AsyncGenerator<ImageBatch> {
    const { spec, batchSize } = opts;
    if (!(Number.isInteger(batchSize) && batchSize > 0)) {
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    }
    let chosen = opts.ids ? opts.ids.map((id) => this.entry(id)) : [...this.entries];
    if (opts.limit !== undefined) chosen = chosen.slice(0, Math.max(0, opts.limit));
    const s = outputSize(spec);
    const per = 3 * s * s;
    const read = (i: number) =>
      Promise.all(chosen.slice(i, i + batchSize).map((e) => Deno.readFile(e.path)));
    let pending = chosen.length > 0 ? read(0) : null;
    for (let i = 0; i < chosen.length; i += batchSize) {
      const bytes = await pending!;
      pending = i + batchSize < chosen.length ? read(i + batchSize) : null;
      const part = chosen.slice(i, i + batchSize);
      const images = new Float32Array(part.length * per);
      const labels = new Int32Array(part.length);
      for (let j = 0; j < part.length; j++) {
        preprocess(decodeJpeg(bytes[j], part[j].path), spec, images, j * per);
        labels[j] = part[j].label;
      }
      yield { images, labels, ids: part.map((e) => e.id), shape: [part.length, 3, s, s] };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// A user's full ImageNet: train/ and val/ under one folder

/** Ground-truth lists a flat `val/` may come with, looked for in `val/` and then in the root. */
export const VAL_GROUND_TRUTH = [
  "LOC_val_solution.csv",
  "val.txt",
  "ILSVRC2012_val_ground_truth_50000.txt",
  "labels.txt",
] as const;

/**
 * Where a full ImageNet's splits are and how its `val/` is labelled. Class index order is the
 * sorted wnids of `train/` (torchvision's `ImageFolder` order).
 */
export interface ImageNetLayout {
  root: string;
  trainDir: string;
  valDir: string;
  /** The sorted wnids of `train/`'s class folders: label `i` is `wnids[i]`. */
  wnids: string[];
  /** `class-folders`: `val/<wnid>/*.JPEG`; `flat`: `val/*.JPEG` with a ground-truth file. */
  val: { kind: "class-folders" } | {
    kind: "flat";
    groundTruth: string;
    format: "loc-csv" | "list";
  };
  /** The layout in words, e.g. "train/ 1000 class folders; val/ flat with LOC_val_solution.csv". */
  description: string;
}

function isJpeg(name: string): boolean {
  return /\.jpe?g$/i.test(name);
}

async function listDir(dir: string): Promise<{ dirs: string[]; files: string[] }> {
  const dirs: string[] = [], files: string[] = [];
  for await (const e of Deno.readDir(dir)) (e.isDirectory ? dirs : files).push(e.name);
  return { dirs: dirs.sort(), files: files.sort() };
}

async function isDir(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isDirectory, () => false);
}

async function isFileAt(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isFile, () => false);
}

/**
 * Finds a full ImageNet's layout under `dir`: `train/<wnid>/*.JPEG` and `val/` either as
 * `<wnid>/` folders or flat with a ground-truth file (see {@linkcode VAL_GROUND_TRUTH}):
 * `LOC_val_solution.csv` (the Kaggle layout: `ImageId,PredictionString`, the first wnid of the
 * prediction string is the label) or a `filename label` list with labels 0–999 in sorted-wnid
 * order (Caffe's `val.txt`). The devkit's `ILSVRC2012_validation_ground_truth.txt` numbers
 * classes in `meta.mat` order, which is not read: it is refused with a hint.
 *
 * Errors are one line naming the culprit: a missing split (`Deno.errors.NotFound`), a flat
 * `val/` without ground truth, a class-folder count other than 1,000, val class folders that are
 * not train's (`RangeError`). `allowFewerClasses` (tests only; also `PTQ_IMAGENET_ALLOW_FEWER_CLASSES=1`)
 * accepts fewer than 1,000 classes.
 */
export async function detectImageNetLayout(
  dir: string | URL,
  opts: { allowFewerClasses?: boolean } = {},
): Promise<ImageNetLayout> {
  const root = toPath(dir).replace(/\/+$/, "") || "/";
  const allowFewer = opts.allowFewerClasses ?? allowFewerFromEnv();
  if (!(await isDir(root))) throw new Deno.errors.NotFound(`ImageNet folder not found: ${root}`);
  const trainDir = join(root, "train"), valDir = join(root, "val");
  for (const [split, path] of [["train", trainDir], ["val", valDir]]) {
    if (!(await isDir(path))) {
      throw new Deno.errors.NotFound(
        `ImageNet ${split}/ split not found: ${path} (expected ${root}/train/<wnid>/*.JPEG and ` +
          `${root}/val/)`,
      );
    }
  }
  const wnids = (await listDir(trainDir)).dirs;
  checkClassCount(`${trainDir}`, wnids.length, allowFewer);
  const v = await listDir(valDir);
  const valJpegs = v.files.filter(isJpeg).length;
  if (v.dirs.length > 0 && valJpegs === 0) {
    const known = new Set(wnids);
    const stray = v.dirs.find((d) => !known.has(d));
    if (stray !== undefined) {
      throw new RangeError(
        `val/ class folder ${join(valDir, stray)} is not one of train/'s ${wnids.length} wnids`,
      );
    }
    if (v.dirs.length !== wnids.length && !allowFewer) {
      throw new RangeError(
        `${valDir} has ${v.dirs.length} class folders, train/ has ${wnids.length}: expected the ` +
          "same classes",
      );
    }
    return {
      root,
      trainDir,
      valDir,
      wnids,
      val: { kind: "class-folders" },
      description: `train/ ${wnids.length} class folders; val/ in ${v.dirs.length} <wnid>/ ` +
        `class folders; labels = sorted wnids (torchvision ImageFolder order)`,
    };
  }
  if (valJpegs === 0) throw new RangeError(`${valDir} has neither JPEG files nor class folders`);
  for (const name of VAL_GROUND_TRUTH) {
    for (const where of [valDir, root]) {
      const p = join(where, name);
      if (await isFileAt(p)) {
        const format = name.endsWith(".csv") ? "loc-csv" : "list";
        return {
          root,
          trainDir,
          valDir,
          wnids,
          val: { kind: "flat", groundTruth: p, format },
          description: `train/ ${wnids.length} class folders; val/ flat (${valJpegs} JPEGs) ` +
            `labelled by ${p}; labels = sorted wnids (torchvision ImageFolder order)`,
        };
      }
    }
  }
  const devkit = "ILSVRC2012_validation_ground_truth.txt";
  for (const where of [valDir, root]) {
    if (await isFileAt(join(where, devkit))) {
      throw new RangeError(
        `${join(where, devkit)} numbers classes in the devkit's meta.mat order, which ptq-bench ` +
          `does not read: put LOC_val_solution.csv or a "filename label" val.txt (sorted-wnid ` +
          `labels 0–999) in ${valDir}, or sort val/ into <wnid>/ folders`,
      );
    }
  }
  throw new RangeError(
    `${valDir} is flat (${valJpegs} JPEGs, no class folders) but has no ground-truth file: ` +
      `put one of ${VAL_GROUND_TRUTH.join(", ")} in ${valDir} or ${root}, or sort val/ into ` +
      "<wnid>/ folders",
  );
}

function allowFewerFromEnv(): boolean {
  try {
    return Deno.env.get("PTQ_IMAGENET_ALLOW_FEWER_CLASSES") === "1";
  } catch {
    return false; // no --allow-env
  }
}

function checkClassCount(dir: string, n: number, allowFewer: boolean): void {
  if (n === NUM_CLASSES) return;
  if (n === 0) {
    throw new RangeError(`${dir} has no class folders (expected ${NUM_CLASSES} <wnid>/)`);
  }
  if (n < NUM_CLASSES && allowFewer) return;
  throw new RangeError(
    `${dir} has ${n} class folders, expected ${NUM_CLASSES} (ILSVRC2012)` +
      (n < NUM_CLASSES
        ? "; fewer are accepted only in tests (PTQ_IMAGENET_ALLOW_FEWER_CLASSES=1)"
        : ""),
  );
}

/**
 * Parses Kaggle's `LOC_val_solution.csv` (`ImageId,PredictionString`, a header line first): each
 * image's label is the index in `wnids` of the first wnid of its prediction string.
 */
export function parseLocSolution(
  text: string,
  source: string,
  wnids: readonly string[],
): { file: string; label: number }[] {
  const index = new Map(wnids.map((w, i) => [w, i]));
  const out: { file: string; label: number }[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || (i === 0 && /^ImageId\s*,/i.test(line))) continue;
    const m = /^([^,]+),\s*(n\d{8})\b/.exec(line);
    if (!m) {
      throw new SyntaxError(
        `${source}:${i + 1}: expected "ImageId,nXXXXXXXX …", got ${
          JSON.stringify(line.slice(0, 80))
        }`,
      );
    }
    const label = index.get(m[2]);
    if (label === undefined) {
      throw new RangeError(`${source}:${i + 1}: wnid ${m[2]} is not a class folder of train/`);
    }
    out.push({ file: isJpeg(m[1]) ? m[1] : `${m[1]}.JPEG`, label });
  }
  return out;
}

/** The datasets of a detected layout: `train/` and `val/`, labelled by the sorted train wnids. */
export async function openImageNet(
  layout: ImageNetLayout,
): Promise<{ train: ImageNetDataset; val: ImageNetDataset }> {
  const train = await ImageNetDataset.fromClassFolders(layout.trainDir, { wnids: layout.wnids });
  let val: ImageNetDataset;
  if (layout.val.kind === "class-folders") {
    val = await ImageNetDataset.fromClassFolders(layout.valDir, { wnids: layout.wnids });
  } else if (layout.val.format === "list") {
    val = await ImageNetDataset.fromList(layout.valDir, {
      list: layout.val.groundTruth,
      numClasses: layout.wnids.length,
    });
  } else {
    const gt = layout.val.groundTruth;
    const rows = parseLocSolution(await Deno.readTextFile(gt), gt, layout.wnids);
    const present = new Set((await listDir(layout.valDir)).files);
    const missing = rows.find((r) => !present.has(r.file));
    if (missing) {
      throw new Deno.errors.NotFound(
        `${gt} lists ${missing.file}, which is not in ${layout.valDir}`,
      );
    }
    rows.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    if (rows.length === 0) throw new RangeError(`${gt} lists no images`);
    val = new ImageNetDataset(
      layout.valDir,
      rows.map((r) => ({ id: r.file, path: join(layout.valDir, r.file), label: r.label })),
    );
  }
  return { train, val };
}
