/**
 * The model a command-line tool quantizes or profiles: a registry name or an ONNX file, and the
 * preprocessing its images get. Evaluation images (the 227-px validation subset) get a plain
 * resize to the input size with the model's normalisation; an ONNX file gets TF's `x/127.5 − 1`
 * at 224 unless `size` says otherwise. Calibration images (256 px, uncropped) get, by default for
 * a registered model at its own size, the model's own evaluation preprocessing (`calib: "model"`,
 * the function the `imagenet-subset` suite uses, so `quantize` and `reproduce` calibrate on the
 * same tensors); otherwise, or with `calib: "plain"`, the plain resize (what `quantize` did for
 * every model before its records carried `calibration.preprocess`).
 *
 * @module
 */
import { resolveModel } from "./registry.ts";
import { specForModel } from "./eval.ts";
import { plainResizeSpec, type PreprocessSpec } from "../datasets/preprocess.ts";

/** How calibration images are preprocessed. */
export type CalibPreprocess = "model" | "plain";

/** Where the model is, the name it is recorded under, and its preprocessing. */
export interface ModelInput {
  path: string;
  name: string;
  /** Evaluation images. */
  spec: PreprocessSpec;
  /** Calibration images. */
  calibSpec: PreprocessSpec;
  /** Which of the two `calibSpec` is. */
  calib: CalibPreprocess;
}

/** Resolves `--model NAME|FILE.onnx` (and `--size`, `--calib-preprocess`) as `quantize` does. */
export function resolveModelInput(
  model: string,
  size?: string,
  calib?: CalibPreprocess,
): ModelInput {
  if (model.endsWith(".onnx")) {
    if (calib === "model") {
      throw new RangeError(
        `${model}: an ONNX file has no registered preprocessing; pass --calib-preprocess plain`,
      );
    }
    const spec = plainResizeSpec(Number(size ?? 224), { kind: "tf" });
    return {
      path: model,
      name: model.split("/").pop()!.replace(/\.onnx$/, ""),
      spec,
      calibSpec: spec,
      calib: "plain",
    };
  }
  const r = resolveModel(model);
  const n = r.entry.preprocess.normalize;
  const otherSize = size !== undefined && Number(size) !== r.entry.inputSize;
  if (calib === "model" && otherSize) {
    throw new RangeError(
      `--size ${size} differs from ${model}'s input size ${r.entry.inputSize}: its own ` +
        "preprocessing does not apply; pass --calib-preprocess plain",
    );
  }
  const spec = plainResizeSpec(
    Number(size ?? r.entry.inputSize),
    n === "tf"
      ? { kind: "tf" }
      : n === "unit"
      ? { kind: "unit" }
      : { kind: "mean-std", mean: n.mean, std: n.std },
  );
  const choice = calib ?? (otherSize ? "plain" : "model");
  return {
    path: r.path,
    name: model,
    spec,
    calibSpec: choice === "model" ? specForModel(r.entry, "model") : spec,
    calib: choice,
  };
}
