import { MODELS, resolveModel } from "./registry.ts";
import { sha256Hex } from "./onnx.ts";
import { main as checkModel } from "./cli_check_model.ts";
import { main as infer } from "./cli_infer.ts";
import { assert, assertEquals, assertThrows } from "./_testing.ts";
import { resnetBasic } from "./_fixtures.ts";

const SHARED = new URL("../../shared/assets/models/", import.meta.url);
const haveShared = (() => {
  try {
    return Deno.statSync(SHARED).isDirectory;
  } catch {
    return false;
  }
})();

Deno.test("every registered model has a file, an input size, classes and a way to obtain it", () => {
  for (const [name, e] of Object.entries(MODELS)) {
    assert(e.file.endsWith(".onnx"), name);
    assert(e.inputSize > 0 && e.classes > 0, name);
    assert(e.source === "shared-asset" ? !!e.sha256 : "export" in e && !!e.export, name);
  }
});

Deno.test("a missing model says where to put it and how to produce it", () => {
  assertThrows(
    () => resolveModel("resnet18"),
    Error,
    "resnet18.onnx",
    "PTQ_MODELS_DIR",
    "PTQ_MODEL_RESNET18",
    "torch.onnx.export",
  );
  assertThrows(() => resolveModel("no_such_model"), RangeError, "known:");
});

Deno.test({
  name: "shared assets resolve with the registered sha256",
  ignore: !haveShared,
  fn: () => {
    for (const [name, e] of Object.entries(MODELS)) {
      if (e.source !== "shared-asset") continue;
      const { path } = resolveModel(name);
      assertEquals(sha256Hex(Deno.readFileSync(path)), e.sha256, name);
    }
  },
});

Deno.test("check-model passes on a fixture and infer writes raw float32", async () => {
  const dir = Deno.makeTempDirSync();
  const model = `${dir}/m.onnx`;
  Deno.writeFileSync(model, resnetBasic().bytes);
  assertEquals(await checkModel([model, "--shape", "2,3,16,16"]), 0);
  Deno.writeFileSync(
    `${dir}/x.f32`,
    new Uint8Array(new Float32Array(2 * 3 * 16 * 16).fill(0.5).buffer),
  );
  assertEquals(
    await infer([
      "--model",
      model,
      "--input",
      `${dir}/x.f32`,
      "--shape",
      "2,3,16,16",
      "--output",
      `${dir}/y.f32`,
    ]),
    0,
  );
  assertEquals(Deno.statSync(`${dir}/y.f32`).size, 2 * 10 * 4);
  Deno.removeSync(dir, { recursive: true });
});
