/**
 * The model a command-line tool quantizes or profiles: a registry name or an ONNX file, and the
 * preprocessing its images get (a plain resize to the input size with the model's normalisation;
 * an ONNX file gets TF's `x/127.5 − 1` at 224 unless `size` says otherwise).
 *
 * @module
 */
import { resolveModel } from "../../models/registry.ts";
import { plainResizeSpec, type PreprocessSpec } from "../../datasets/preprocess.ts";

/** Where the model is, the name it is recorded under, and its preprocessing. */
export interface ModelInput {
  path: string;
  name: string;
  spec: PreprocessSpec;
}

/** Resolves `--model NAME|FILE.onnx` (and `--size`) as `quantize` does. */
export function resolveModelInput(model: string, size?: string): ModelInput {
  if (model.endsWith(".onnx")) {
    return {
      path: model,
      name: model.split("/").pop()!.replace(/\.onnx$/, ""),
      spec: plainResizeSpec(Number(size ?? 224), { kind: "tf" }),
    };
  }
  const r = resolveModel(model);
  const n = r.entry.preprocess.normalize;
  return {
    path: r.path,
    name: model,
    spec: plainResizeSpec(
      Number(size ?? r.entry.inputSize),
      n === "tf"
        ? { kind: "tf" }
        : n === "unit"
        ? { kind: "unit" }
        : { kind: "mean-std", mean: n.mean, std: n.std },
    ),
  };
}
