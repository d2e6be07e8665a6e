import { Random, upload } from "../runtime/mod.ts";
import { execute } from "./execute.ts";
import { loadOnnx, UnsupportedOpError } from "./onnx.ts";
import { quantizableLayers, reconstructionUnits, runUnits } from "./units.ts";
import { OnnxBuilder, resnetBasic, tinyVit, torchFlatten } from "./_fixtures.ts";
import { assertEquals, assertLess, assertStringIncludes, assertThrows } from "../runtime/assert.ts";
import { compare, ortRun } from "./testing.ts";

const ASSETS = new URL("../../shared/assets/models/", import.meta.url);
const exists = (u: URL) => {
  try {
    return Deno.statSync(u).isFile;
  } catch {
    return false;
  }
};

Deno.test("loadOnnx rejects corrupt and truncated bytes with a SyntaxError naming the file", () => {
  const bytes = resnetBasic().bytes;
  assertThrows(
    () => loadOnnx(bytes.slice(0, bytes.length >> 1), { name: "half.onnx" }),
    SyntaxError,
    "half.onnx",
  );
  const junk = new Random(0).uniformArray(512).map((v) => Math.floor(v * 256));
  assertThrows(
    () => loadOnnx(Uint8Array.from(junk), { name: "junk.onnx" }),
    SyntaxError,
    "junk.onnx",
  );
  const tmp = Deno.makeTempFileSync({ suffix: ".onnx" });
  Deno.writeFileSync(tmp, bytes.slice(0, 100));
  assertThrows(() => loadOnnx(tmp), SyntaxError, tmp);
  Deno.removeSync(tmp);
});

Deno.test("loadOnnx lists every unsupported op with its node name and the file", () => {
  const b = new OnnxBuilder(new Random(0));
  const y = b.node("NonMaxSuppression", ["input"], {}, 1, "nms_here")[0];
  const z = b.node("Einsum", [y], { equation: "ij->ji" }, 1, "my_einsum")[0];
  const e = assertThrows(
    () => loadOnnx(b.build("input", [2, 2], [z]), { name: "bad.onnx" }),
    UnsupportedOpError,
  );
  for (const part of ["NonMaxSuppression", '"nms_here"', "Einsum", '"my_einsum"', "bad.onnx"]) {
    assertStringIncludes(e.message, part);
  }
  assertEquals(e.ops.length, 2);
});

Deno.test("nodes get unique names and decoded attributes; int64 initializers stay on the host", () => {
  const g = loadOnnx(resnetBasic().bytes);
  assertEquals(new Set(g.nodes.map((n) => n.name)).size, g.nodes.length);
  const conv = g.nodes[0];
  assertEquals(conv.name, "Conv_0");
  assertEquals(conv.attrs.kernel_shape, [3, 3]);
  assertEquals(conv.attrs.group, 1);
  assertEquals(g.inputs[0].shape, ["batch", 3, 16, 16]);
  assertEquals(quantizableLayers(g).length, 7);
});

Deno.test("torch-export shape arithmetic is folded except what depends on the batch", async () => {
  const f = tinyVit();
  const g = loadOnnx(f.bytes);
  const raw = loadOnnx(f.bytes, { fold: false });
  // Constants folded; only the batch lookups (Shape → Gather 0 → Unsqueeze → Concat) remain, one
  // chain per torch `reshape(B, …)` / `expand(B, …)` of the fixture (6).
  assertEquals(g.nodes.filter((n) => n.opType === "Constant").length, 0);
  assertEquals(g.nodes.filter((n) => n.opType === "Shape").length, 6);
  assertEquals(
    raw.nodes.length - g.nodes.length,
    raw.nodes.filter((n) => n.opType === "Constant").length,
  );
  // Batch sizes other than the probes still run and match onnxruntime.
  for (const batch of [1, 3]) {
    const shape = [batch, 3, 16, 16];
    const data = new Random(batch).uniformArray(batch * 768, -1, 1);
    const out = execute(g, { feeds: { input: upload(data, shape) } });
    const ref = await ortRun(f.bytes, { input: { data, shape } });
    const o = g.outputs[0].name;
    assertLess(compare(out[o].dataSync(), ref[o].data).rel, 1e-4);
  }
  const t = torchFlatten();
  const gt = loadOnnx(t.bytes, { inputShape: [1, 3, 11, 11] });
  assertEquals(gt.opset, 11);
  assertEquals(gt.nodes.filter((n) => n.opType === "Constant").length, 0);
});

const CLASSIFIERS = [
  "mobilenet_v2_1.0_224.tf1qat_dequant.fp32.onnx",
  "mobilenet_v2_1.0_224.tf2ptq_dequant.fp32.onnx",
  "mobilenet_v1_0.75_192.tf1qat_dequant.fp32.onnx",
  "mobilenet_v1_0.5_160.tf1qat_dequant.fp32.onnx",
  "mobilenet_v1_0.25_128.tf1qat_dequant.fp32.onnx",
  "mobilenetv2_yolov3_nano_voc.fp32.onnx",
];

for (const file of CLASSIFIERS) {
  const url = new URL(file, ASSETS);
  Deno.test({
    name: `shared asset ${file} matches onnxruntime on a random batch`,
    ignore: !exists(url),
    fn: async () => {
      const g = loadOnnx(url);
      const shape = [2, ...g.inputs[0].shape.slice(1)] as number[];
      const data = new Random(7).uniformArray(shape.reduce((p, d) => p * d, 1), -1, 1);
      const out = execute(g, { feeds: { [g.inputs[0].name]: upload(data, shape) } });
      const ref = await ortRun(Deno.readFileSync(url), { [g.inputs[0].name]: { data, shape } });
      for (const o of g.outputs) {
        const c = compare(out[o.name].dataSync(), ref[o.name].data);
        console.log(
          `  ${file} ${o.name}: max abs ${c.maxAbs.toExponential(2)}, rel ${
            c.rel.toExponential(2)
          }`,
        );
        assertLess(c.rel, 1e-4);
      }
      const units = reconstructionUnits(g);
      assertEquals(units.flatMap((u) => u.layers).length, quantizableLayers(g).length);
      if (file.includes("v1_0.25")) {
        const seq = runUnits(g, units, { [g.inputs[0].name]: upload(data, shape) });
        assertLess(compare(seq.logits.dataSync(), out.logits.dataSync()).maxAbs, 1e-6);
      }
    },
  });
}
