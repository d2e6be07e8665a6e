import jpeg from "jpeg-js";
import { Random } from "../runtime/mod.ts";
import { ImageNetDataset } from "../datasets/imagenet.ts";
import { TopKAccumulator } from "../datasets/metrics.ts";
import { HAVE_ASSETS, HAVE_FASHION_MNIST } from "../datasets/testing.ts";
import { plainResizeSpec } from "../datasets/preprocess.ts";
import { EvalDataError, evaluateModel, openImageNet, specForModel } from "./eval.ts";
import { modelEntry, resolveModel } from "./registry.ts";
import { OnnxBuilder } from "./_fixtures.ts";
import { assert, assertEquals } from "../runtime/assert.ts";
import { ortRun } from "./testing.ts";

/** Grey level of each of the 10 "real" classes; other classes (10–999) never win. */
const LEVELS = [0, 30, 70, 100, 150, 165, 205, 240, 255, 121];

/**
 * A nearest-grey-level classifier: GlobalAveragePool → Flatten → Gemm with
 * `logit_j = 3(2 c_j x − c_j²)` (`c_j = LEVELS[j]/255`), a monotone function of `−|x − c_j|`
 * on grey inputs; classes ≥ 10 get −100.
 */
function greyClassifier(size: number): Uint8Array {
  const b = new OnnxBuilder(new Random(0));
  const w = new Float32Array(1000 * 3), bias = new Float32Array(1000).fill(-100);
  LEVELS.forEach((l, j) => {
    const c = l / 255;
    w.fill(2 * c, 3 * j, 3 * j + 3);
    bias[j] = -3 * c * c;
  });
  const p = b.op("GlobalAveragePool", ["input"]);
  const f = b.op("Flatten", [p], { axis: 1 });
  const y =
    b.node("Gemm", [f, b.floats(w, [1000, 3]), b.floats(bias, [1000])], { transB: 1 }, 1)[0];
  b.nodes.push({ opType: "Identity", input: [y], output: ["logits"], attribute: [] });
  return b.build("input", ["batch", 3, size, size], ["logits"]);
}

/** A solid grey 16×16 JPEG (quality 100: decodes to the level within ±1). */
function greyJpeg(level: number): Uint8Array {
  const data = new Uint8Array(16 * 16 * 4).fill(level);
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  return new Uint8Array(jpeg.encode({ width: 16, height: 16, data }, 100).data);
}

/** Classes ranked by distance of their level to `v` (ties never happen: checked). */
function ranking(v: number): number[] {
  const order = LEVELS.map((_l, j) => j).sort((a, b) =>
    Math.abs(LEVELS[a] - v) - Math.abs(LEVELS[b] - v)
  );
  for (let k = 0; k < 6; k++) {
    const d0 = Math.abs(LEVELS[order[k]] - v), d1 = Math.abs(LEVELS[order[k + 1]] - v);
    assert(d1 - d0 >= 4, `fixture: classes ${order[k]} and ${order[k + 1]} too close to ${v}`);
  }
  return order;
}

// (grey level of the image, its label): hits, top-5-only hits, misses, and a class ≥ 10.
const IMAGES: [number, number][] = [
  [0, 0],
  [100, 3],
  [255, 8],
  [150, 5], // 165 is second: top-5 only
  [30, 4], // 4 = 150 is far from 30: rank ≥ 5? computed below
  [205, 7], // 240 second: top-5 only
  [121, 500], // never
];

function expected(limit = IMAGES.length): { top1: number; top5: number } {
  let t1 = 0, t5 = 0;
  for (const [v, y] of IMAGES.slice(0, limit)) {
    const r = ranking(v).indexOf(y);
    if (r === 0) t1++;
    if (r >= 0 && r < 5) t5++;
  }
  return { top1: (100 * t1) / limit, top5: (100 * t5) / limit };
}

async function syntheticImageNet(): Promise<{ dir: string; model: string }> {
  const dir = await Deno.makeTempDir({ prefix: "ptq_eval_" });
  await Deno.mkdir(`${dir}/val`);
  const lines = IMAGES.map(([v, y], i) => {
    Deno.writeFileSync(`${dir}/val/img ${i}'s.JPEG`, greyJpeg(v));
    return `img ${i}'s.JPEG ${y}`;
  });
  await Deno.writeTextFile(`${dir}/val/labels.txt`, lines.join("\n") + "\n");
  const model = `${dir}/grey.onnx`;
  await Deno.writeFile(model, greyClassifier(8));
  return { dir, model };
}

Deno.test("evaluateModel gives the exact top-1/top-5 of a known classifier on a synthetic folder", async () => {
  const { dir, model } = await syntheticImageNet();
  try {
    const want = expected();
    // Sanity of the fixture: some top-1 hits, some top-5-only hits and some misses.
    assert(want.top1 > 0 && want.top5 > want.top1 && want.top5 < 100, JSON.stringify(want));
    const seen: number[] = [];
    const r = await evaluateModel({
      model,
      data: `${dir}/val`,
      batch: 3,
      preprocess: plainResizeSpec(8, { kind: "unit" }),
      onProgress: (p) => seen.push(p.done),
    });
    assert(r.task === "classification" && r.dataset === "imagenet");
    assertEquals([r.top1, r.top5, r.n], [want.top1, want.top5, IMAGES.length]);
    assertEquals(seen, [0, 3, 6, 7]);
    assert(r.images_per_s > 0 && r.seconds > 0);

    const lim = await evaluateModel({
      model,
      data: `${dir}/val`,
      limit: 4,
      preprocess: plainResizeSpec(8, { kind: "unit" }),
    });
    assert(lim.task === "classification");
    const w4 = expected(4);
    assertEquals([lim.top1, lim.top5, lim.n], [w4.top1, w4.top5, 4]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a one-channel model is scored on a class-balanced strided Fashion-MNIST subset",
  ignore: !HAVE_FASHION_MNIST,
  fn: async () => {
    // Constant logits 0, 1, …, 9: always predicts 9; top-5 = {5, …, 9}.
    const b = new OnnxBuilder(new Random(0));
    const p = b.op("GlobalAveragePool", ["input"]);
    const f = b.op("Flatten", [p], { axis: 1 });
    const bias = Array.from({ length: 10 }, (_, j) => j);
    const y = b.op("Gemm", [f, b.floats(new Float32Array(10), [10, 1]), b.floats(bias, [10])], {
      transB: 1,
    });
    const dir = await Deno.makeTempDir({ prefix: "ptq_eval_" });
    try {
      await Deno.writeFile(`${dir}/const.onnx`, b.build("input", ["batch", 1, 28, 28], [y]));
      const r = await evaluateModel({ model: `${dir}/const.onnx`, limit: 1000 });
      assert(r.task === "classification" && r.dataset === "fashion-mnist");
      assertEquals([r.n, r.top1, r.top5], [1000, 10, 50]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("missing data and unknown models fail with clear messages", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ptq_eval_" });
  try {
    let err: unknown;
    try {
      await openImageNet(dir);
    } catch (e) {
      err = e;
    }
    assert(err instanceof EvalDataError, String(err));
    assert(/labels\.txt/.test((err as Error).message) && /PTQ_ASSETS/.test((err as Error).message));
    err = undefined;
    try {
      await evaluateModel({ model: "no_such_model" });
    } catch (e) {
      err = e;
    }
    assert(err instanceof RangeError && /Unknown model "no_such_model"/.test(err.message));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the registry's preprocessing maps to the datasets' specs", () => {
  const tf = specForModel(modelEntry("mobilenet_v2_tf1qat"));
  assertEquals(tf.geometry, {
    kind: "central-fraction-resize",
    fraction: 0.875,
    size: 224,
    interpolation: "tf-bilinear",
  });
  assertEquals(specForModel(modelEntry("mobilenet_v2_tf1qat"), "plain").geometry, {
    kind: "resize",
    size: 224,
    interpolation: "bilinear",
  });
  const torch = specForModel(modelEntry("resnet18"));
  assertEquals(torch.geometry, {
    kind: "resize-center-crop",
    resize: 256,
    crop: 224,
    interpolation: "bilinear",
  });
  assertEquals(specForModel(modelEntry("yolov3_nano_voc")).normalize, { kind: "unit" });
});

Deno.test({
  name: "assets: mobilenet_v1_025_128 on 100 val images has onnxruntime's top-1",
  ignore: !HAVE_ASSETS,
  fn: async () => {
    const r = await evaluateModel({
      model: "mobilenet_v1_025_128",
      limit: 100,
      batch: 50,
      preprocess: "plain",
    });
    assert(r.task === "classification");
    const ds = await openImageNet();
    const acc = new TopKAccumulator(1000);
    const bytes = Deno.readFileSync(resolveModel("mobilenet_v1_025_128").path);
    for await (const b of ds.batches({ spec: r.preprocess!, batchSize: 50, limit: 100 })) {
      const out = await ortRun(bytes, { input: { data: b.images, shape: b.shape } });
      acc.add(out.logits.data, b.labels);
    }
    const ref = acc.result();
    assertEquals([r.n, r.top1, r.top5], [100, 100 * ref.accuracy[1], 100 * ref.accuracy[5]]);
  },
});

Deno.test({
  // The published 65.5 was measured with darknet's `detector map`, whose default AP is the
  // all-point (area under the curve) one. With Pillow-identical decoding and resizing the
  // 9-image figures are 66.06 (VOC07 11-point) and 65.64 (all-point).
  name: "assets: the VOC detector scores 65.5 ± 0.5 mAP (all-point) on the 9 shared images",
  ignore: !HAVE_ASSETS,
  fn: async () => {
    const r = await evaluateModel({ model: "yolov3_nano_voc" });
    assert(r.task === "detection");
    assertEquals([r.n, r.npos], [9, 46]);
    assert(Math.abs(r.map_all - 65.5) <= 0.5, `mAP (all-point) ${r.map_all}`);
  },
});

Deno.test({
  name: "assets: the ImageNet loader finds the shared subset",
  ignore: !HAVE_ASSETS,
  fn: async () => {
    const ds: ImageNetDataset = await openImageNet();
    assertEquals(ds.length, 1300);
  },
});
