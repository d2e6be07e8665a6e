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
    opts: { list?: string | URL; missing?: "error" | "skip" } = {},
  ): Promise<ImageNetDataset> {
    const root = toPath(dir);
    if (!(await statOrThrow(root, "Image folder")).isDirectory) {
      throw new TypeError(`Image folder is not a directory: ${root}`);
    }
    const listPath = opts.list === undefined ? join(root, "labels.txt") : toPath(opts.list);
    await statOrThrow(listPath, "Label list");
    const rows = parseLabelList(await Deno.readTextFile(listPath), listPath);
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
   * `synsets` (`synset_words.txt`) when given, else from the sorted subfolder names. Files are
   * ordered by wnid, then by name.
   */
  static async fromClassFolders(
    dir: string | URL,
    opts: { synsets?: string | URL } = {},
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
