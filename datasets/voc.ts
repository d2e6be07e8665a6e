/**
 * PASCAL VOC detection: annotations (VOCdevkit XML, the COCO-format JSON of the shared assets),
 * mAP@0.5 with the official devkit's matching rules, and the decoder of the shared
 * MobileNetV2-YOLOv3-Nano detector.
 *
 * **Box convention.** Every box here is VOC's: `[xmin, ymin, xmax, ymax]`, 1-based, inclusive
 * pixel indices; as a continuous region it covers `[xmin − 1, xmax] × [ymin − 1, ymax]` of an
 * image whose pixel `i` (0-based) spans `[i, i + 1]`. Conversions:
 * - COCO `bbox = [x0, y0, w, h]` (0-based, `x0 = xmin − 1`, `w = xmax − xmin + 1`):
 *   `xmin = x0 + 1`, `xmax = x0 + w` (likewise y).
 * - `bbox_xyxy` 0-based inclusive (`gt_subset9.json`): add 1 to every coordinate.
 * - Detector boxes, continuous and normalised to [0, 1] of the (plainly resized) input:
 *   `xmin = u1·W + 1`, `xmax = u2·W`, clamped to `[1, W]` (likewise y).
 *
 * **Difficult boxes.** XML `<difficult>1</difficult>` marks a box difficult. In the COCO JSON a
 * truthy `difficult` or `ignore` field does; when both are absent (as in the shared
 * `pascal_test2007.json`) every box counts, so mAP there runs slightly below the official VOC07
 * protocol.
 *
 * **mAP** follows `VOCevaldet.m` (VOCdevkit): detections of a class sorted by decreasing score
 * (stable for ties); each is matched to the ground-truth box of its image with the largest IoU
 * (inclusive-pixel IoU, `+1` in widths); IoU ≥ 0.5 (`VOCopts.minoverlap`; py-faster-rcnn's
 * `voc_eval.py` uses `>`) gives a true positive if that box is not difficult and not yet matched,
 * a false positive if already matched, and nothing at all if it is difficult; otherwise a false
 * positive. `npos` counts the non-difficult boxes. AP is the VOC2007 11-point interpolation
 * (`t = k/10`, k = 0…10, mean of `max(prec[rec ≥ t])`, 0 when empty) or the VOC2010+ all-point
 * area under the monotone precision envelope. Classes without any non-difficult ground truth
 * have no AP (`undefined`) and are left out of the mean.
 *
 * @module
 */
import { XMLParser } from "fast-xml-parser";

/** The 20 VOC classes in the standard (and detector) order. */
export const VOC_CLASSES = [
  "aeroplane",
  "bicycle",
  "bird",
  "boat",
  "bottle",
  "bus",
  "car",
  "cat",
  "chair",
  "cow",
  "diningtable",
  "dog",
  "horse",
  "motorbike",
  "person",
  "pottedplant",
  "sheep",
  "sofa",
  "train",
  "tvmonitor",
] as const;

/** `[xmin, ymin, xmax, ymax]`, VOC 1-based inclusive pixels. */
export type Box = [number, number, number, number];

/** One ground-truth object. */
export interface GtObject {
  classIndex: number;
  box: Box;
  difficult: boolean;
  truncated: boolean;
}

/** The annotation of one image. `id` is the file stem (`"000342"`). */
export interface VocImage {
  id: string;
  file: string;
  width: number;
  height: number;
  objects: GtObject[];
}

/** A detection in VOC pixel coordinates. */
export interface Detection {
  imageId: string;
  classIndex: number;
  score: number;
  box: Box;
}

function stem(file: string): string {
  const base = file.slice(file.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(0, dot) : base;
}

function classIndexOf(name: unknown, classes: readonly string[], where: string): number {
  const i = typeof name === "string" ? classes.indexOf(name.trim()) : -1;
  if (i < 0) throw new SyntaxError(`${where}: unknown class ${JSON.stringify(name)}`);
  return i;
}

function num(v: unknown, where: string): number {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  if (!Number.isFinite(n)) {
    throw new SyntaxError(`${where}: expected a number, got ${JSON.stringify(v ?? null)}`);
  }
  return n;
}

function flag(v: unknown, where: string): boolean {
  if (v === undefined || v === null || v === "") return false;
  const n = num(v, where);
  if (n !== 0 && n !== 1) throw new SyntaxError(`${where}: expected 0 or 1, got ${n}`);
  return n === 1;
}

function checkBox(box: Box, where: string): Box {
  if (!(box[2] >= box[0] && box[3] >= box[1])) {
    throw new SyntaxError(`${where}: empty box [${box.join(", ")}]`);
  }
  return box;
}

const xml = new XMLParser({
  parseTagValue: false,
  ignoreAttributes: true,
  isArray: (_name: string, jpath: unknown) => jpath === "annotation.object",
});

/**
 * Parses one VOCdevkit annotation XML. `source` (the file path) names errors.
 *
 * @example
 * ```ts
 * import { parseVocXml } from "./voc.ts";
 * const a = parseVocXml(
 *   `<annotation><filename>1.jpg</filename><size><width>10</width><height>8</height></size>
 *    <object><name>dog</name><difficult>1</difficult>
 *    <bndbox><xmin>1</xmin><ymin>2</ymin><xmax>5</xmax><ymax>8</ymax></bndbox></object>
 *    </annotation>`,
 *   "1.xml",
 * );
 * console.log(a.objects[0]); // { classIndex: 11, box: [1, 2, 5, 8], difficult: true, truncated: false }
 * ```
 */
export function parseVocXml(
  text: string,
  source: string,
  classes: readonly string[] = VOC_CLASSES,
): VocImage {
  let doc: any;
  try {
    doc = xml.parse(text, true);
  } catch (e) {
    throw new SyntaxError(`${source}: malformed XML (${(e as Error).message})`, { cause: e });
  }
  const a = doc?.annotation;
  if (typeof a !== "object" || a === null) throw new SyntaxError(`${source}: no <annotation>`);
  const file = typeof a.filename === "string" ? a.filename.trim() : `${stem(source)}.jpg`;
  if (typeof a.size !== "object" || a.size === null) {
    throw new SyntaxError(`${source}: annotation.size: missing`);
  }
  const width = num(a.size.width, `${source}: annotation.size.width`);
  const height = num(a.size.height, `${source}: annotation.size.height`);
  const objects: GtObject[] = (a.object ?? []).map((o: any, k: number) => {
    const at = `${source}: object[${k}]`;
    if (typeof o !== "object" || o === null) throw new SyntaxError(`${at}: not an element`);
    const classIndex = classIndexOf(o.name, classes, `${at}.name`);
    const b = o.bndbox;
    if (typeof b !== "object" || b === null) throw new SyntaxError(`${at}.bndbox: missing`);
    const box = checkBox([
      num(b.xmin, `${at}.bndbox.xmin`),
      num(b.ymin, `${at}.bndbox.ymin`),
      num(b.xmax, `${at}.bndbox.xmax`),
      num(b.ymax, `${at}.bndbox.ymax`),
    ], `${at}.bndbox`);
    return {
      classIndex,
      box,
      difficult: flag(o.difficult, `${at}.difficult`),
      truncated: flag(o.truncated, `${at}.truncated`),
    };
  });
  return { id: stem(file), file, width, height, objects };
}

/**
 * Loads a VOCdevkit year folder (`…/VOCdevkit/VOC2007`): the ids of
 * `ImageSets/Main/<imageSet>.txt`, each `Annotations/<id>.xml`; `file` is the JPEG path.
 */
export async function loadVocDevkit(
  yearDir: string,
  imageSet = "test",
  classes: readonly string[] = VOC_CLASSES,
): Promise<VocImage[]> {
  const listPath = `${yearDir}/ImageSets/Main/${imageSet}.txt`;
  let list: string;
  try {
    list = await Deno.readTextFile(listPath);
  } catch (e) {
    throw new Deno.errors.NotFound(`VOC image set not found: ${listPath}`, { cause: e });
  }
  const ids = list.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  const out: VocImage[] = [];
  for (const id of ids) {
    const path = `${yearDir}/Annotations/${id}.xml`;
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      throw new Deno.errors.NotFound(`VOC annotation not found: ${path}`, { cause: e });
    }
    const img = parseVocXml(text, path, classes);
    out.push({ ...img, id, file: `${yearDir}/JPEGImages/${img.file}` });
  }
  return out;
}

/**
 * Parses VOC annotations in COCO format (`images`, `annotations`, `categories`). Category names
 * must be VOC class names; boxes are converted to the VOC convention (see module doc).
 */
export function parseCocoVoc(
  json: unknown,
  source: string,
  classes: readonly string[] = VOC_CLASSES,
): VocImage[] {
  const d = json as any;
  for (const key of ["images", "annotations", "categories"]) {
    if (!Array.isArray(d?.[key])) throw new SyntaxError(`${source}: "${key}" is not an array`);
  }
  const catToClass = new Map<number, number>();
  d.categories.forEach((c: any, k: number) => {
    catToClass.set(
      num(c?.id, `${source}: categories[${k}].id`),
      classIndexOf(c?.name, classes, `${source}: categories[${k}].name`),
    );
  });
  const byId = new Map<number, VocImage>();
  const out: VocImage[] = d.images.map((im: any, k: number) => {
    const at = `${source}: images[${k}]`;
    if (typeof im?.file_name !== "string") throw new SyntaxError(`${at}.file_name: missing`);
    const img: VocImage = {
      id: stem(im.file_name),
      file: im.file_name,
      width: num(im.width, `${at}.width`),
      height: num(im.height, `${at}.height`),
      objects: [],
    };
    byId.set(num(im.id, `${at}.id`), img);
    return img;
  });
  d.annotations.forEach((a: any, k: number) => {
    const at = `${source}: annotations[${k}]`;
    const img = byId.get(num(a?.image_id, `${at}.image_id`));
    if (!img) throw new SyntaxError(`${at}.image_id: no image ${a.image_id}`);
    const cls = catToClass.get(num(a.category_id, `${at}.category_id`));
    if (cls === undefined) throw new SyntaxError(`${at}.category_id: unknown ${a.category_id}`);
    if (!Array.isArray(a.bbox) || a.bbox.length !== 4) {
      throw new SyntaxError(`${at}.bbox: expected [x0, y0, w, h]`);
    }
    const [x0, y0, w, h] = a.bbox.map((v: unknown, j: number) => num(v, `${at}.bbox[${j}]`));
    img.objects.push({
      classIndex: cls,
      box: checkBox([x0 + 1, y0 + 1, x0 + w, y0 + h], `${at}.bbox`),
      difficult: flag(a.difficult, `${at}.difficult`) || flag(a.ignore, `${at}.ignore`),
      truncated: flag(a.truncated, `${at}.truncated`),
    });
  });
  return out;
}

/** Parses the shared `gt_subset9.json` (`bbox_xyxy` 0-based inclusive; no difficult flag). */
export function parseGtSubset(
  json: unknown,
  source: string,
  classes: readonly string[] = VOC_CLASSES,
): VocImage[] {
  if (!Array.isArray(json)) throw new SyntaxError(`${source}: expected an array of images`);
  return json.map((im: any, k: number) => {
    const at = `${source}: [${k}]`;
    if (typeof im?.file_name !== "string") throw new SyntaxError(`${at}.file_name: missing`);
    if (!Array.isArray(im.objects)) throw new SyntaxError(`${at}.objects: not an array`);
    return {
      id: stem(im.file_name),
      file: im.file_name,
      width: num(im.width, `${at}.width`),
      height: num(im.height, `${at}.height`),
      objects: im.objects.map((o: any, j: number) => {
        const ot = `${at}.objects[${j}]`;
        if (!Array.isArray(o?.bbox_xyxy) || o.bbox_xyxy.length !== 4) {
          throw new SyntaxError(`${ot}.bbox_xyxy: expected 4 numbers`);
        }
        const b = o.bbox_xyxy.map((v: unknown, i: number) => num(v, `${ot}.bbox_xyxy[${i}]`) + 1);
        return {
          classIndex: classIndexOf(o.name, classes, `${ot}.name`),
          box: checkBox(b as Box, `${ot}.bbox_xyxy`),
          difficult: flag(o.difficult, `${ot}.difficult`),
          truncated: flag(o.truncated, `${ot}.truncated`),
        };
      }),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// mAP

/** Inclusive-pixel IoU of two VOC boxes (as `VOCevaldet.m`); 0 when they do not overlap. */
export function vocIou(a: Box, b: Box): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + 1;
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + 1;
  if (!(iw > 0 && ih > 0)) return 0;
  const ua = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) -
    iw * ih;
  return (iw * ih) / ua;
}

/** VOC2007 11-point interpolated AP. */
export function ap11(rec: readonly number[], prec: readonly number[]): number {
  let ap = 0;
  for (let k = 0; k <= 10; k++) {
    const t = k / 10;
    let p = 0;
    for (let i = 0; i < rec.length; i++) if (rec[i] >= t && prec[i] > p) p = prec[i];
    ap += p;
  }
  return ap / 11;
}

/** VOC2010+ all-point AP: area under the monotone precision envelope. */
export function apAllPoint(rec: readonly number[], prec: readonly number[]): number {
  const mrec = [0, ...rec, 1];
  const mpre = [0, ...prec, 0];
  for (let i = mpre.length - 2; i >= 0; i--) mpre[i] = Math.max(mpre[i], mpre[i + 1]);
  let ap = 0;
  for (let i = 0; i < mrec.length - 1; i++) {
    if (mrec[i + 1] !== mrec[i]) ap += (mrec[i + 1] - mrec[i]) * mpre[i + 1];
  }
  return ap;
}

/** Per-class and mean AP under both interpolations. */
export interface VocEval {
  /** Per class; `undefined` where the class has no non-difficult ground truth. */
  ap07: (number | undefined)[];
  apAll: (number | undefined)[];
  npos: number[];
  /** Mean over classes with an AP. */
  map07: number;
  mapAll: number;
}

/**
 * Evaluates detections against ground truth (see the module doc for the exact protocol).
 * Detections for images absent from `gt` are an error.
 */
export function evaluateVoc(
  gt: readonly VocImage[],
  dets: readonly Detection[],
  opts: { iouThreshold?: number; numClasses?: number } = {},
): VocEval {
  const thr = opts.iouThreshold ?? 0.5;
  const nc = opts.numClasses ?? VOC_CLASSES.length;
  const images = new Map(gt.map((g) => [g.id, g]));
  for (const d of dets) {
    if (!images.has(d.imageId)) {
      throw new RangeError(`Detection for image ${d.imageId}, which has no annotation`);
    }
    if (!(Number.isInteger(d.classIndex) && d.classIndex >= 0 && d.classIndex < nc)) {
      throw new RangeError(`Detection class ${d.classIndex} outside 0–${nc - 1}`);
    }
  }
  const ap07: (number | undefined)[] = [], apAll: (number | undefined)[] = [];
  const npos: number[] = [];
  for (let c = 0; c < nc; c++) {
    const gtOf = new Map<string, { boxes: GtObject[]; used: boolean[] }>();
    let n = 0;
    for (const g of gt) {
      const boxes = g.objects.filter((o) => o.classIndex === c);
      n += boxes.filter((o) => !o.difficult).length;
      gtOf.set(g.id, { boxes, used: boxes.map(() => false) });
    }
    npos.push(n);
    const cd = dets.filter((d) => d.classIndex === c);
    // Stable sort by decreasing score (Array.prototype.sort is stable).
    const order = cd.map((_, i) => i).sort((a, b) => cd[b].score - cd[a].score);
    const tp: number[] = [], fp: number[] = [];
    for (const i of order) {
      const d = cd[i];
      const g = gtOf.get(d.imageId)!;
      let ovmax = -Infinity, jmax = -1;
      g.boxes.forEach((o, j) => {
        const ov = vocIou(d.box, o.box);
        if (ov > 0 && ov > ovmax) {
          ovmax = ov;
          jmax = j;
        }
      });
      let t = 0, f = 0;
      if (ovmax >= thr) {
        if (!g.boxes[jmax].difficult) {
          if (!g.used[jmax]) {
            t = 1;
            g.used[jmax] = true;
          } else f = 1;
        }
      } else f = 1;
      tp.push(t);
      fp.push(f);
    }
    if (n === 0) {
      ap07.push(undefined);
      apAll.push(undefined);
      continue;
    }
    const rec: number[] = [], prec: number[] = [];
    let ctp = 0, cfp = 0;
    for (let k = 0; k < tp.length; k++) {
      ctp += tp[k];
      cfp += fp[k];
      rec.push(ctp / n);
      prec.push(ctp + cfp > 0 ? ctp / (ctp + cfp) : 0);
    }
    ap07.push(ap11(rec, prec));
    apAll.push(apAllPoint(rec, prec));
  }
  const mean = (xs: (number | undefined)[]) => {
    const v = xs.filter((x): x is number => x !== undefined);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
  };
  return { ap07, apAll, npos, map07: mean(ap07), mapAll: mean(apAll) };
}

// ---------------------------------------------------------------------------------------------
// YOLO decoding

/** One YOLO output head: raw `[b, A·(5+K), H, W]` values. */
export interface YoloHead {
  data: Float32Array;
  shape: [number, number, number, number];
}

/** Anchors (network pixels) and `scale_x_y` of one head, in the order heads are passed. */
export interface YoloHeadConfig {
  anchors: [number, number][];
  scaleXY: number;
}

/** Detector geometry. */
export interface YoloConfig {
  inputSize: number;
  numClasses: number;
  heads: YoloHeadConfig[];
}

/**
 * The shared `mobilenetv2_yolov3_nano_voc` detector: heads in the order
 * `head_stride32` `[b,75,10,10]`, `head_stride16` `[b,75,20,20]`.
 */
export const YOLO_NANO_VOC: YoloConfig = {
  inputSize: 320,
  numClasses: 20,
  heads: [
    { anchors: [[189, 126], [137, 236], [265, 259]], scaleXY: 1.1 },
    { anchors: [[26, 48], [67, 84], [72, 175]], scaleXY: 1.05 },
  ],
};

/** A decoded box, continuous, normalised to [0, 1] of the network input. */
export interface NormalizedDetection {
  classIndex: number;
  score: number;
  /** `[x1, y1, x2, y2]` in [0, 1] (not clipped). */
  box: [number, number, number, number];
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Continuous IoU of two `[x1, y1, x2, y2]` boxes. */
export function iou(a: readonly number[], b: readonly number[]): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (!(iw > 0 && ih > 0)) return 0;
  const ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih;
  return ua > 0 ? (iw * ih) / ua : 0;
}

/**
 * Greedy NMS of one class's boxes: by decreasing score (stable), a box is dropped when its IoU
 * with a kept box exceeds `iouThreshold`.
 */
export function nms<T extends { score: number; box: readonly number[] }>(
  boxes: readonly T[],
  iouThreshold: number,
): T[] {
  const sorted = boxes.map((b, i) => [b, i] as const).sort((a, b) => b[0].score - a[0].score);
  const keep: T[] = [];
  for (const [b] of sorted) {
    if (keep.every((k) => iou(k.box, b.box) <= iouThreshold)) keep.push(b);
  }
  return keep;
}

/**
 * Decodes raw YOLOv3 heads (darknet's YOLOv3 layout): channel `a·(5+K) + k`, k = tx, ty, tw, th, objectness,
 * K class logits; `bx = (σ(tx)·s − (s−1)/2 + col)/W`, `by` likewise with the row and H,
 * `bw = exp(tw)·anchor_w/inputSize`, `bh = exp(th)·anchor_h/inputSize`; for every class,
 * `score = σ(obj)·σ(cls)`; boxes with `score > scoreThreshold` (default 0.005, for mAP) go
 * through per-class NMS at IoU 0.45. Returns one list per batch item, by class then score.
 */
export function decodeYolo(
  heads: readonly YoloHead[],
  config: YoloConfig = YOLO_NANO_VOC,
  opts: { scoreThreshold?: number; iouThreshold?: number } = {},
): NormalizedDetection[][] {
  const thr = opts.scoreThreshold ?? 0.005;
  const iouThr = opts.iouThreshold ?? 0.45;
  const K = config.numClasses;
  if (heads.length !== config.heads.length) {
    throw new RangeError(`Expected ${config.heads.length} YOLO heads, got ${heads.length}`);
  }
  const batch = heads[0].shape[0];
  const perImage: NormalizedDetection[][] = Array.from({ length: batch }, () => []);
  heads.forEach((head, hi) => {
    const [b, C, H, W] = head.shape;
    const { anchors, scaleXY: s } = config.heads[hi];
    if (b !== batch) throw new RangeError(`YOLO head ${hi} has batch ${b}, head 0 has ${batch}`);
    if (C !== anchors.length * (5 + K)) {
      throw new RangeError(
        `YOLO head ${hi} has ${C} channels, expected ${anchors.length}·(5+${K})`,
      );
    }
    if (head.data.length !== b * C * H * W) {
      throw new RangeError(`YOLO head ${hi}: ${head.data.length} values for [${head.shape}]`);
    }
    const plane = H * W;
    for (let n = 0; n < b; n++) {
      for (let a = 0; a < anchors.length; a++) {
        const ch0 = (n * C + a * (5 + K)) * plane;
        for (let row = 0; row < H; row++) {
          for (let col = 0; col < W; col++) {
            const at = (k: number) => head.data[ch0 + k * plane + row * W + col];
            const obj = sigmoid(at(4));
            if (!(obj > thr)) continue; // score ≤ obj, so nothing here can pass
            const bx = (sigmoid(at(0)) * s - (s - 1) / 2 + col) / W;
            const by = (sigmoid(at(1)) * s - (s - 1) / 2 + row) / H;
            const bw = (Math.exp(at(2)) * anchors[a][0]) / config.inputSize;
            const bh = (Math.exp(at(3)) * anchors[a][1]) / config.inputSize;
            const box: [number, number, number, number] = [
              bx - bw / 2,
              by - bh / 2,
              bx + bw / 2,
              by + bh / 2,
            ];
            for (let c = 0; c < K; c++) {
              const score = obj * sigmoid(at(5 + c));
              if (score > thr) perImage[n].push({ classIndex: c, score, box });
            }
          }
        }
      }
    }
  });
  return perImage.map((dets) => {
    const out: NormalizedDetection[] = [];
    for (let c = 0; c < K; c++) {
      out.push(...nms(dets.filter((d) => d.classIndex === c), iouThr));
    }
    return out;
  });
}

/** Converts normalised detections of one image to VOC pixel boxes (see module doc). */
export function toVocDetections(
  dets: readonly NormalizedDetection[],
  imageId: string,
  width: number,
  height: number,
): Detection[] {
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 1), hi);
  return dets.map((d) => ({
    imageId,
    classIndex: d.classIndex,
    score: d.score,
    box: [
      clamp(d.box[0] * width + 1, width),
      clamp(d.box[1] * height + 1, height),
      clamp(d.box[2] * width, width),
      clamp(d.box[3] * height, height),
    ],
  }));
}
