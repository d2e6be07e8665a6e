import { MODELS, resolveModel } from "./registry.ts";
import { sha256Hex } from "./onnx.ts";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "../runtime/assert.ts";

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
  const e = assertThrows(() => resolveModel("resnet18"), Error);
  for (
    const part of ["resnet18.onnx", "PTQ_MODELS_DIR", "PTQ_MODEL_RESNET18", "torch.onnx.export"]
  ) {
    assertStringIncludes(e.message, part);
  }
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
