import { assert, assertEquals, assertThrows } from "../runtime/assert.ts";
import {
  type Box,
  decodeYolo,
  type Detection,
  evaluateVoc,
  nms,
  parseCocoVoc,
  parseGtSubset,
  parseVocXml,
  toVocDetections,
  type VocImage,
  vocIou,
  YOLO_NANO_VOC,
} from "./voc.ts";
import { ASSETS_URL, HAVE_ASSETS } from "./testing.ts";

const close = (a: number, b: number, tol = 1e-9) => Math.abs(a - b) <= tol;

Deno.test("mAP matches a hand-computed case under both interpolations", () => {
  // Class 0 ("aeroplane"): GT A and B count, GT D is difficult.
  const A: Box = [1, 1, 10, 10], B: Box = [21, 21, 30, 30], D: Box = [41, 41, 50, 50];
  const gt: VocImage[] = [{
    id: "im",
    file: "im.jpg",
    width: 100,
    height: 100,
    objects: [
      { classIndex: 0, box: A, difficult: false, truncated: false },
      { classIndex: 0, box: B, difficult: false, truncated: false },
      { classIndex: 0, box: D, difficult: true, truncated: false },
      { classIndex: 1, box: A, difficult: false, truncated: false },
    ],
  }];
  const det = (classIndex: number, score: number, box: Box): Detection => ({
    imageId: "im",
    classIndex,
    score,
    box,
  });
  const dets = [
    det(0, 0.9, A), // TP (A)
    det(0, 0.8, [70, 70, 80, 80]), // FP (no overlap)
    det(0, 0.7, [21, 21, 30, 31]), // TP (B, IoU 100/110)
    det(0, 0.6, D), // matches the difficult box: ignored
    det(0, 0.5, [1, 1, 10, 11]), // duplicate of A: FP
    det(2, 0.9, A), // class 2 has no ground truth: no AP
  ];
  // Cumulative (tp, fp): (1,0) (1,1) (2,1) (2,1) (2,2); npos = 2.
  // rec = .5 .5 1 1 1 ; prec = 1 .5 2/3 2/3 .5
  // VOC07: t = 0…0.5 -> max prec 1 (6 points); t = 0.6…1 -> 2/3 (5 points):
  //   (6 + 5·2/3)/11 = 28/33.
  // All-point: envelope 1 on rec (0, .5], 2/3 on (.5, 1]: .5·1 + .5·2/3 = 5/6.
  const r = evaluateVoc(gt, dets);
  assertEquals(r.npos.slice(0, 3), [2, 1, 0]);
  assert(close(r.ap07[0]!, 28 / 33), `ap07 ${r.ap07[0]}`);
  assert(close(r.apAll[0]!, 5 / 6), `apAll ${r.apAll[0]}`);
  // Class 1 has a box and no detection: AP 0, counted; class 2: undefined, left out.
  assertEquals([r.ap07[1], r.apAll[1], r.ap07[2]], [0, 0, undefined]);
  assert(close(r.map07, (28 / 33 + 0) / 2) && close(r.mapAll, (5 / 6 + 0) / 2));
  // IoU exactly 0.5 counts (devkit uses >=): 10×10 box vs 10×20 box sharing half.
  assert(close(vocIou([1, 1, 10, 10], [1, 1, 10, 20]), 0.5));
  const half = evaluateVoc(gt, [det(1, 1, [1, 1, 10, 20])]);
  assertEquals(half.ap07[1], 1);
});

Deno.test("VOC XML parses difficult and truncated flags; malformed fields are named", () => {
  const ok = parseVocXml(
    `<annotation><filename>000001.jpg</filename><size><width>353</width><height>500</height>
     <depth>3</depth></size>
     <object><name>dog</name><truncated>1</truncated><difficult>0</difficult>
       <bndbox><xmin>48</xmin><ymin>240</ymin><xmax>195</xmax><ymax>371</ymax></bndbox></object>
     <object><name>person</name><difficult>1</difficult>
       <bndbox><xmin>8</xmin><ymin>12</ymin><xmax>352</xmax><ymax>498</ymax></bndbox></object>
     </annotation>`,
    "000001.xml",
  );
  assertEquals(ok.id, "000001");
  assertEquals(ok.objects.map((o) => [o.classIndex, o.difficult, o.truncated]), [
    [11, false, true],
    [14, true, false],
  ]);
  assertEquals(ok.objects[0].box, [48, 240, 195, 371]);
  const bad = (obj: string) =>
    `<annotation><size><width>9</width><height>9</height></size><object>${obj}</object></annotation>`;
  assertThrows(
    () =>
      parseVocXml(
        bad(
          "<name>dog</name><bndbox><xmin>a</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>",
        ),
        "x.xml",
      ),
    SyntaxError,
    "x.xml: object[0].bndbox.xmin",
  );
  assertThrows(
    () => parseVocXml(bad("<name>cat</name>"), "y.xml"),
    SyntaxError,
    "y.xml: object[0].bndbox",
  );
  assertThrows(
    () => parseVocXml(bad("<name>unicorn</name>"), "z.xml"),
    SyntaxError,
    "object[0].name",
  );
  assertThrows(
    () => parseVocXml("<annotation><filename>a.jpg</filename></annotation>", "w.xml"),
    SyntaxError,
    "w.xml: annotation.size",
  );
  assertThrows(() => parseVocXml("<annotation><size>", "v.xml"), SyntaxError, "v.xml");
});

Deno.test("COCO boxes convert to VOC 1-based inclusive boxes", () => {
  const imgs = parseCocoVoc({
    images: [{ id: 1, file_name: "000001.jpg", width: 353, height: 500 }],
    categories: [{ id: 12, name: "dog" }],
    // VOC xmin 48, ymin 240, xmax 195, ymax 371 -> x0 47, y0 239, w 148, h 132.
    annotations: [{ image_id: 1, category_id: 12, bbox: [47, 239, 148, 132] }],
  }, "a.json");
  assertEquals(imgs[0].objects[0].box, [48, 240, 195, 371]);
  assertEquals(imgs[0].objects[0].difficult, false);
  assertThrows(
    () =>
      parseCocoVoc({
        images: [{ id: 1, file_name: "1.jpg", width: 1, height: 1 }],
        categories: [{ id: 1, name: "dog" }],
        annotations: [{ image_id: 1, category_id: 1, bbox: [0, 0, "x", 1] }],
      }, "b.json"),
    SyntaxError,
    "b.json: annotations[0].bbox[2]",
  );
});

function logit(p: number): number {
  return Math.log(p / (1 - p));
}

Deno.test("YOLO decode places a box by darknet's YOLOv3 formulas and applies per-class NMS", () => {
  const K = 20, C = 3 * (5 + K);
  const h32 = new Float32Array(C * 10 * 10).fill(-20);
  const h16 = new Float32Array(C * 20 * 20).fill(-20);
  // Stride-16 head, anchor 1 (67×84), cell row 5, col 7: centre offset σ(tx) = 0.5.
  const put = (data: Float32Array, H: number, a: number, row: number, col: number, v: number[]) =>
    v.forEach((x, k) => data[(a * (5 + K) + k) * H * H + row * H + col] = x);
  const cls = new Array(K).fill(-20);
  cls[14] = logit(0.5);
  put(h16, 20, 1, 5, 7, [0, 0, Math.log(2), 0, logit(0.8), ...cls]);
  // A weaker overlapping duplicate in the neighbouring cell (same class) is suppressed.
  put(h16, 20, 1, 5, 8, [-3, 0, Math.log(2), 0, logit(0.6), ...cls]);
  const [dets] = decodeYolo(
    [
      { data: h32, shape: [1, C, 10, 10] },
      { data: h16, shape: [1, C, 20, 20] },
    ],
    YOLO_NANO_VOC,
    { scoreThreshold: 0.1 },
  );
  assertEquals(dets.length, 1);
  const d = dets[0];
  assertEquals(d.classIndex, 14);
  assert(close(d.score, 0.4, 1e-6));
  const bx = (0.5 * 1.05 - 0.025 + 7) / 20, by = (0.5 * 1.05 - 0.025 + 5) / 20;
  const bw = (2 * 67) / 320, bh = 84 / 320;
  const want = [bx - bw / 2, by - bh / 2, bx + bw / 2, by + bh / 2];
  d.box.forEach((v, i) => assert(close(v, want[i], 1e-6), `box[${i}] ${v} vs ${want[i]}`));
  const [vd] = toVocDetections([d], "im", 500, 375);
  assert(close(vd.box[0], want[0] * 500 + 1, 1e-4) && close(vd.box[3], want[3] * 375, 1e-4));
  assertEquals(
    nms([{ score: 1, box: [0, 0, 1, 1] }, { score: 2, box: [0, 0, 1, 1.1] }], 0.45).length,
    1,
  );
});

const VOC = new URL("voc/VOC2007_test/", ASSETS_URL);

Deno.test({
  name: "the shared COCO JSON and the 9-image ground truth agree after conversion",
  ignore: !HAVE_ASSETS,
  fn: async () => {
    const all = parseCocoVoc(
      JSON.parse(await Deno.readTextFile(new URL("pascal_test2007.json", VOC))),
      "pascal_test2007.json",
    );
    assertEquals(all.length, 4952);
    const sub = parseGtSubset(
      JSON.parse(await Deno.readTextFile(new URL("gt_subset9.json", VOC))),
      "gt_subset9.json",
    );
    assertEquals(sub.reduce((a, g) => a + g.objects.length, 0), 46);
    const byId = new Map(all.map((g) => [g.id, g]));
    for (const g of sub) {
      const c = byId.get(g.id)!;
      assertEquals([c.width, c.height], [g.width, g.height]);
      const key = (o: { classIndex: number; box: Box }) => `${o.classIndex}:${o.box.join(",")}`;
      assertEquals(c.objects.map(key).sort(), g.objects.map(key).sort());
    }
    // Perfect detections give mAP 1 on the subset.
    const dets = sub.flatMap((g) =>
      g.objects.map((o) => ({ imageId: g.id, classIndex: o.classIndex, score: 1, box: o.box }))
    );
    const r = evaluateVoc(sub, dets);
    assertEquals([r.map07, r.mapAll], [1, 1]);
  },
});
