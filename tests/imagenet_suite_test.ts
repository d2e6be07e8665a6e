/**
 * The `imagenet` suite end to end on a tiny ImageNet-layout folder made here (3 classes of
 * project-made JPEGs) and a tiny ONNX classifier built here under a registry file name
 * (`resnet18.onnx`: 224×224 input, 1,000 logits), plus the errors for malformed layouts and
 * models. Fewer than 1,000 classes are accepted only with `PTQ_IMAGENET_ALLOW_FEWER_CLASSES=1`
 * (or `allowFewerClasses`), the tests' escape hatch.
 */
import { assert, assertEquals, assertRejects } from "../runtime/assert.ts";
import jpeg from "jpeg-js";
import { Random } from "../runtime/mod.ts";
import onnxProto from "onnx-proto";
import { detectImageNetLayout, openImageNet } from "../datasets/mod.ts";
import { parseRecords } from "../papers/mod.ts";

const WNIDS = ["n01440764", "n01443537", "n01484850"];
const TRAIN_PER_CLASS = 4;
const VAL_PER_CLASS = 2;

/** A small JPEG whose colour depends on its class and index. */
function jpegOf(cls: number, i: number): Uint8Array {
  const w = 40, h = 32;
  const data = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) {
    const x = p % w, y = Math.floor(p / w);
    data[4 * p] = (80 * cls + 3 * x + 10 * i) & 255;
    data[4 * p + 1] = (40 + 5 * y + 30 * cls) & 255;
    data[4 * p + 2] = (200 - 60 * cls + x * y) & 255;
    data[4 * p + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ width: w, height: h, data }, 90).data);
}

type ValLayout = "folders" | "loc-csv" | "val-txt" | "devkit" | "bare";

/** Writes `train/<wnid>/*.JPEG` and `val/` in the given layout under `root`. */
async function makeImageNet(root: string, val: ValLayout, wnids = WNIDS): Promise<void> {
  let k = 0;
  const csv = ["ImageId,PredictionString"], list: string[] = [], devkit: string[] = [];
  for (const [c, w] of wnids.entries()) {
    await Deno.mkdir(`${root}/train/${w}`, { recursive: true });
    for (let i = 0; i < TRAIN_PER_CLASS; i++) {
      await Deno.writeFile(`${root}/train/${w}/${w}_${i}.JPEG`, jpegOf(c, i));
    }
    for (let i = 0; i < VAL_PER_CLASS; i++) {
      const id = `ILSVRC2012_val_${String(++k).padStart(8, "0")}`;
      const dir = val === "folders" ? `${root}/val/${w}` : `${root}/val`;
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeFile(`${dir}/${id}.JPEG`, jpegOf(c, 10 + i));
      csv.push(`${id},${w} 1 2 30 30 ${w} 3 4 20 20`);
      list.push(`${id}.JPEG ${c}`);
      devkit.push(String(c + 1));
    }
  }
  if (val === "loc-csv") await Deno.writeTextFile(`${root}/LOC_val_solution.csv`, csv.join("\n"));
  if (val === "val-txt") await Deno.writeTextFile(`${root}/val/val.txt`, list.join("\n"));
  if (val === "devkit") {
    await Deno.writeTextFile(`${root}/ILSVRC2012_validation_ground_truth.txt`, devkit.join("\n"));
  }
}

// deno-lint-ignore no-explicit-any
const onnx = (onnxProto as any).onnx;

/**
 * A tiny classifier with the registry's resnet18 interface, [N, 3, size, size] → [N, classes]:
 * two strided convolutions with ReLU, global pooling and a linear head whose first 3 classes get
 * a large bias, so that predictions fall among the folder's 3 classes.
 */
function tinyClassifier(size = 224, classes = 1000): Uint8Array {
  const rng = new Random(11);
  const inits: unknown[] = [];
  const floats = (name: string, dims: number[], data: ArrayLike<number>) => {
    inits.push({ name, dataType: 1, dims, floatData: Array.from(data) });
    return name;
  };
  const normal = (name: string, dims: number[], std: number) =>
    floats(name, dims, rng.normalArray(dims.reduce((a, b) => a * b, 1), 0, std));
  const T = onnx.AttributeProto.AttributeType;
  const ints = (name: string, v: number[]) => ({ name, type: T.INTS, ints: v });
  const conv = (x: string, w: string, b: string, y: string, k: number, s: number, p: number) => ({
    opType: "Conv",
    input: [x, w, b],
    output: [y],
    attribute: [ints("kernel_shape", [k, k]), ints("strides", [s, s]), ints("pads", [p, p, p, p])],
  });
  const bias = Array.from({ length: classes }, (_, i) => (i < WNIDS.length ? 8 : 0));
  const nodes = [
    conv(
      "input",
      normal("w1", [4, 3, 4, 4], 0.2),
      floats("b1", [4], [0.1, 0, -0.1, 0.2]),
      "c1",
      4,
      4,
      0,
    ),
    { opType: "Relu", input: ["c1"], output: ["r1"] },
    conv("r1", normal("w2", [8, 4, 3, 3], 0.2), normal("b2", [8], 0.1), "c2", 3, 2, 1),
    { opType: "Relu", input: ["c2"], output: ["r2"] },
    { opType: "GlobalAveragePool", input: ["r2"], output: ["p"] },
    {
      opType: "Flatten",
      input: ["p"],
      output: ["f"],
      attribute: [{ name: "axis", type: T.INT, i: 1 }],
    },
    {
      opType: "Gemm",
      input: ["f", normal("wf", [classes, 8], 0.35), floats("bf", [classes], bias)],
      output: ["logits"],
      attribute: [{ name: "transB", type: T.INT, i: 1 }],
    },
  ];
  const vi = (name: string, dims: (number | string)[]) => ({
    name,
    type: {
      tensorType: {
        elemType: 1,
        shape: {
          dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: "ptq-bench imagenet suite test",
    opsetImport: [{ domain: "", version: 13 }],
    graph: {
      name: "tiny",
      node: nodes,
      initializer: inits,
      input: [vi("input", ["batch", 3, size, size])],
      output: [vi("logits", ["batch", classes])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Runs the reproduce CLI (`--no-report`, the test-only class escape hatch set). */
async function reproduceCli(
  args: string[],
  env: Record<string, string> = { PTQ_IMAGENET_ALLOW_FEWER_CLASSES: "1" },
): Promise<{ code: number; err: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli/reproduce.ts", import.meta.url).pathname, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, err: new TextDecoder().decode(out.stderr) };
}

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ptq_imagenet_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** One cheap cell of PD-Quant on the BRECQ ResNet-18 checkpoint, custom budget. */
const CELL_ARGS = [
  "pdquant",
  "--suite",
  "imagenet",
  "--cells",
  "pdquant/resnet18/w4a4/adaround",
  "--iters",
  "2",
  "--calib-n",
  "8",
  "--seeds",
  "1",
  "--max-runs",
  "1",
  "--jobs",
  "1",
  "--no-report",
];

Deno.test("reproduce --suite imagenet runs a cell end to end on a tiny ImageNet folder", () =>
  inTempDir(async (dir) => {
    await makeImageNet(`${dir}/imagenet`, "loc-csv");
    await Deno.mkdir(`${dir}/models`);
    await Deno.writeFile(`${dir}/models/resnet18.onnx`, tinyClassifier());
    const { code, err } = await reproduceCli([
      ...CELL_ARGS,
      "--imagenet",
      `${dir}/imagenet`,
      "--models-dir",
      `${dir}/models`,
      "--results",
      `${dir}/results`,
      "--checkpoints",
      `${dir}/ck`,
    ]);
    assertEquals(code, 0, err);
    assert(err.includes("val/ flat (6 JPEGs) labelled by"), err);
    const text = await Deno.readTextFile(`${dir}/results/pdquant.jsonl`);
    const [rec] = parseRecords(text, "pdquant.jsonl").records;
    assertEquals(rec.suite, "imagenet");
    assertEquals(rec.model.name, "brecq_resnet18");
    assertEquals((rec.config.recipe as Record<string, unknown>).calib_n, 8);
    // The whole val/ (no limit in a custom budget), the same images everywhere.
    const n = WNIDS.length * VAL_PER_CLASS;
    assertEquals([rec.metrics.n, rec.exported!.n, rec.fp32.n], [n, n, n]);
    // exported = simulated (the run's own check: the Q/DQ graph agrees with the simulation).
    assertEquals(rec.exported!.top1, rec.metrics.top1);
    assertEquals(rec.exported!.top5, rec.metrics.top5);
    assertEquals(rec.fp32.top5, 100, "the biased classes are the folder's 3");
    // Calibration: 8 seeded train/ images, recorded by id.
    assertEquals(rec.calibration.n, 8);
    assertEquals(rec.calibration.ids!.length, 8);
    assert(rec.calibration.ids!.every((id) => /^n\d{8}\/n\d{8}_\d\.JPEG$/.test(String(id))));
    const source = rec.calibration.source ?? "";
    assert(source.includes("the model's evaluation transform"), source);
    assert(source.includes("deviation: the paper's code augments"), source);
    assert(rec.notes[0].includes("LOC_val_solution.csv"), rec.notes[0]);
    // A checkpoint without a registry entry (d-li14's MobileNetV2 1.0): its own onnx name.
    await Deno.writeFile(`${dir}/models/dli14_mobilenetv2_1.0.onnx`, tinyClassifier());
    const cells = CELL_ARGS.indexOf("--cells") + 1;
    const again = await reproduceCli([
      ...CELL_ARGS.map((a, i) => i === cells ? "pdquant/mobilenetv2/w4a4/adaround" : a),
      "--imagenet",
      `${dir}/imagenet`,
      "--models-dir",
      `${dir}/models`,
      "--results",
      `${dir}/results`,
      "--checkpoints",
      `${dir}/ck`,
    ]);
    assertEquals(again.code, 0, again.err);
    const recs = parseRecords(
      await Deno.readTextFile(`${dir}/results/pdquant.jsonl`),
      "pdquant.jsonl",
    ).records;
    assertEquals(recs[1].model.name, "dli14_mobilenetv2_1.0");
    assert(recs[1].notes[0].includes("torchvision eval transform assumed"), recs[1].notes[0]);
  }));

Deno.test("imagenet layouts: class folders, a LOC csv and a val.txt give the same labels", async () => {
  for (const val of ["folders", "loc-csv", "val-txt"] as const) {
    await inTempDir(async (dir) => {
      await makeImageNet(dir, val);
      const layout = await detectImageNetLayout(dir, { allowFewerClasses: true });
      assertEquals(layout.wnids, WNIDS);
      assertEquals(layout.val.kind, val === "folders" ? "class-folders" : "flat");
      const { train, val: v } = await openImageNet(layout);
      assertEquals(train.length, WNIDS.length * TRAIN_PER_CLASS);
      assertEquals(train.entry(`${WNIDS[2]}/${WNIDS[2]}_0.JPEG`).label, 2);
      assertEquals(v.length, WNIDS.length * VAL_PER_CLASS);
      const labels = v.entries.map((e) => e.label).sort();
      assertEquals(labels, [0, 0, 1, 1, 2, 2], val);
      assertEquals(
        v.entry(
          val === "folders"
            ? `${WNIDS[1]}/ILSVRC2012_val_00000003.JPEG`
            : "ILSVRC2012_val_00000003.JPEG",
        ).label,
        1,
      );
    });
  }
});

Deno.test("malformed imagenet layouts are refused with one line naming the culprit", async () => {
  const cases: [string, (d: string) => Promise<void>, string][] = [
    ["no train/", async (d) => {
      await makeImageNet(d, "folders");
      await Deno.remove(`${d}/train`, { recursive: true });
    }, "train/ split not found"],
    ["no val/", async (d) => {
      await makeImageNet(d, "folders");
      await Deno.remove(`${d}/val`, { recursive: true });
    }, "val/ split not found"],
    ["flat val/ without ground truth", (d) => makeImageNet(d, "bare"), "has no ground-truth file"],
    ["the devkit's ground truth", (d) => makeImageNet(d, "devkit"), "meta.mat order"],
    ["a stray val class folder", async (d) => {
      await makeImageNet(d, "folders");
      await Deno.mkdir(`${d}/val/n09999999`);
    }, "n09999999 is not one of train/'s"],
  ];
  for (const [what, make, text] of cases) {
    await inTempDir(async (dir) => {
      await make(dir);
      const e = await assertRejects(() => detectImageNetLayout(dir, { allowFewerClasses: true }));
      const msg = (e as Error).message;
      assert(msg.includes(text), `${what}: ${msg}`);
      assert(!msg.includes("\n"), `${what}: one line: ${msg}`);
    });
  }
  // Fewer than 1,000 classes: refused without the escape hatch.
  await inTempDir(async (dir) => {
    await makeImageNet(dir, "folders");
    const e = await assertRejects(() => detectImageNetLayout(dir, { allowFewerClasses: false }));
    assert((e as Error).message.includes("has 3 class folders, expected 1000"), String(e));
  });
});

Deno.test("reproduce --suite imagenet: bad folders exit 1, a missing or mismatched model fails the run", () =>
  inTempDir(async (dir) => {
    const common = ["--results", `${dir}/results`, "--checkpoints", `${dir}/ck`];
    await makeImageNet(`${dir}/imagenet`, "folders");
    await Deno.mkdir(`${dir}/models`);
    // 3 classes without the escape hatch: exit 1 before anything runs.
    let r = await reproduceCli([
      ...CELL_ARGS,
      "--imagenet",
      `${dir}/imagenet`,
      "--models-dir",
      `${dir}/models`,
      ...common,
    ], {});
    assertEquals(r.code, 1, r.err);
    assert(r.err.includes("has 3 class folders, expected 1000"), r.err);
    assert(!r.err.includes("    at "), r.err);
    // No --models-dir: a usage error.
    r = await reproduceCli([...CELL_ARGS, "--imagenet", `${dir}/imagenet`, ...common]);
    assertEquals(r.code, 2, r.err);
    assert(r.err.includes("--suite imagenet needs --models-dir"), r.err);
    // The model missing from --models-dir, then one with 10 classes: the run fails, named.
    const base = [
      ...CELL_ARGS,
      "--imagenet",
      `${dir}/imagenet`,
      "--models-dir",
      `${dir}/models`,
      ...common,
    ];
    r = await reproduceCli(base);
    assertEquals(r.code, 1, r.err);
    assert(
      r.err.includes(`no ${dir}/models/resnet18.onnx or ${dir}/models/brecq_resnet18.onnx`),
      r.err,
    );
    await Deno.writeFile(`${dir}/models/resnet18.onnx`, tinyClassifier(224, 10));
    r = await reproduceCli(base);
    assertEquals(r.code, 1, r.err);
    assert(r.err.includes("has 10 outputs per image, but its registry entry says 1000"), r.err);
    await Deno.writeFile(`${dir}/models/resnet18.onnx`, tinyClassifier(160));
    r = await reproduceCli(base);
    assertEquals(r.code, 1, r.err);
    assert(r.err.includes("takes input"), r.err);
    assertEquals(
      await Deno.stat(`${dir}/results/pdquant.jsonl`).then((s) => s.size, () => 0),
      0,
      "no record",
    );
  }));
