/**
 * ptq-bench: a reproducible research benchmark harness for post-training quantization.
 *
 * The public API, layer by layer: the tensor runtime, models (ONNX import, graph execution,
 * reconstruction units, registry), datasets, quantization methods, papers (tables, recipes,
 * records, the resumable runner) and reports. The `deno task` commands are thin CLIs over it.
 *
 * @example
 * ```ts
 * import { PAPERS, planPaper } from "./mod.ts";
 * const { runs } = planPaper("pdquant", ["proxy"], "smoke");
 * console.log(Object.keys(PAPERS), runs.length > 0);
 * ```
 *
 * @module
 */
export * as runtime from "./runtime/mod.ts";
export * as models from "./models/mod.ts";
export * as datasets from "./datasets/mod.ts";
export * as methods from "./methods/mod.ts";
export * as reports from "./reports/mod.ts";
export * from "./papers/mod.ts";
