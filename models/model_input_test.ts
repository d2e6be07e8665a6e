import { assertEquals, assertThrows } from "../runtime/assert.ts";
import { resolveModelInput } from "./model_input.ts";

// Only the registry entry matters here, not the weights: point the model at an empty file so that
// the tests run without the shared assets.
const stub = Deno.makeTempFileSync({ suffix: ".onnx" });
Deno.env.set("PTQ_MODEL_MOBILENET_V2_TF2PTQ", stub);
globalThis.addEventListener("unload", () => Deno.removeSync(stub));

Deno.test("model_input: calibration gets the model's own preprocessing by default, evaluation a plain resize", () => {
  const m = resolveModelInput("mobilenet_v2_tf2ptq");
  assertEquals(m.calib, "model");
  assertEquals(m.spec.geometry.kind, "resize");
  // The suite `imagenet-subset` calibrates through the same function: TF's central 87.5 % crop.
  assertEquals(m.calibSpec.geometry, {
    kind: "central-fraction-resize",
    fraction: 0.875,
    size: 224,
    interpolation: "tf-bilinear",
  });
  const p = resolveModelInput("mobilenet_v2_tf2ptq", undefined, "plain");
  assertEquals([p.calib, p.calibSpec], ["plain", p.spec]);
});

Deno.test("model_input: the model's preprocessing is refused where it cannot apply", () => {
  assertEquals(resolveModelInput("x/m.onnx").calib, "plain");
  assertThrows(
    () => resolveModelInput("x/m.onnx", undefined, "model"),
    RangeError,
    "--calib-preprocess plain",
  );
  assertEquals(resolveModelInput("mobilenet_v2_tf2ptq", "160").calib, "plain");
  assertThrows(
    () => resolveModelInput("mobilenet_v2_tf2ptq", "160", "model"),
    RangeError,
    "--size 160",
  );
});
