/**
 * The model layer: ONNX import → {@linkcode Graph}, execution through one op table, BN folding,
 * reconstruction units, ONNX export and the model registry.
 *
 * @example
 * ```ts
 * import { execute, loadModel, reconstructionUnits } from "./mod.ts";
 * import { Random } from "../runtime/mod.ts";
 * const g = loadModel("mobilenet_v1_025_128");
 * const logits = execute(g, { feeds: { input: new Random(0).randn([1, 3, 128, 128]) } }).logits;
 * console.log(logits.shape, reconstructionUnits(g).length); // [1, 1000] 15
 * ```
 *
 * @module
 */
export type {
  AttrValue,
  ExecuteOptions,
  Graph,
  HostConstant,
  Node,
  Unit,
  ValueInfo,
} from "./graph.ts";
export {
  execute,
  executeValues,
  type HostValue,
  Inputs,
  isHost,
  neededNodes,
  ONNX_OPS,
  type OpContext,
  type OpFn,
  SUPPORTED_OPS,
  type Value,
} from "./execute.ts";
export {
  decodeModel,
  foldConstants,
  loadOnnx,
  type LoadOptions,
  pruneDead,
  sha256Hex,
  topoSort,
  UnsupportedOpError,
} from "./onnx.ts";
export { foldBatchNorm, type FoldedBatchNorm, type FoldResult } from "./fold_bn.ts";
export {
  isDepthwise,
  quantizableLayers,
  reconstructionUnits,
  runUnit,
  runUnits,
  unitInputs,
  unitToOutputs,
} from "./units.ts";
export { type ExportOptions, type ExportTensor, type OnnxDType, toOnnx } from "./export.ts";
export {
  loadModel,
  type ModelEntry,
  modelEntry,
  type ModelName,
  MODELS,
  type Preprocess,
  PROXY_DIR,
  resolveModel,
  SHARED_MODELS_DIR,
} from "./registry.ts";
export {
  type ClassificationResult,
  type DetectionResult,
  EvalDataError,
  type EvalProgress,
  type EvalResult,
  evaluateModel,
  type EvaluateOptions,
  type PreprocessChoice,
  specForModel,
} from "./eval.ts";
export { type CalibPreprocess, type ModelInput, resolveModelInput } from "./model_input.ts";
export { type HostBatch, ortAccuracy, ortVersion } from "./ort_accuracy.ts";
