/**
 * The proxy models: small networks the project trains itself on Fashion-MNIST, so that
 * `deno task reproduce <paper>` runs on a fresh machine without ImageNet and checks the papers'
 * claims (which method beats which).
 *
 * {@linkcode PROXY_MODELS} is the registry literal (the model registry wires it in); the
 * architectures are in `architectures.ts` and the trainer in `train.ts`
 * (`deno task train-proxy`), which writes `<name>.onnx` and its training record `<name>.json`.
 *
 * This module does not import `datasets/` (models sit above datasets); the normalisation
 * constants are the ones `datasets/fashion_mnist.ts` documents and applies.
 *
 * @example
 * ```ts ignore
 * import { PROXY_MODELS } from "./mod.ts";
 * import { loadOnnx } from "../onnx.ts";
 * const g = loadOnnx(PROXY_MODELS.proxy_resnet.file);
 * ```
 *
 * @module
 */
import type { ProxyName } from "./architectures.ts";

export {
  buildMobileNetV2,
  buildProxy,
  buildResNet,
  buildViT,
  countParams,
  PROXY_CLASSES,
  PROXY_INPUT_SHAPE,
  PROXY_NAMES,
  type ProxyName,
} from "./architectures.ts";

/** How a proxy model's input is made from a Fashion-MNIST record. */
export interface ProxyPreprocessing {
  dataset: "fashion-mnist";
  /** 28 × 28, one grey channel, NCHW, no padding or resizing. */
  size: 28;
  channels: 1;
  layout: "NCHW";
  /** `(v / 255 − mean) / std`, the train split's pixel mean and std. */
  mean: number;
  std: number;
}

/** One registered proxy model. */
export interface ProxyModel {
  /** The ONNX file (inference graph, opset 17, BatchNorm with running statistics). */
  file: URL;
  /** Its training record (recipe, seed, subset, wall-clock, commit, accuracies). */
  record: URL;
  /** Input shape without the batch dimension. */
  inputShape: readonly [1, 28, 28];
  classes: 10;
  preprocessing: ProxyPreprocessing;
  /** FP32 top-1 (%) on the Fashion-MNIST test split (10,000 images), from the record. */
  fp32Top1: number;
  family: "resnet" | "mobilenetv2" | "vit";
  /** Width multiplier. */
  width: number;
}

/** The Fashion-MNIST normalisation of `datasets/fashion_mnist.ts`. */
export const FASHION_MNIST_PREPROCESSING: ProxyPreprocessing = {
  dataset: "fashion-mnist",
  size: 28,
  channels: 1,
  layout: "NCHW",
  mean: 0.286,
  std: 0.3528,
};

const entry = (
  name: ProxyName,
  family: ProxyModel["family"],
  width: number,
  fp32Top1: number,
): ProxyModel => ({
  file: new URL(`./${name}.onnx`, import.meta.url),
  record: new URL(`./${name}.json`, import.meta.url),
  inputShape: [1, 28, 28],
  classes: 10,
  preprocessing: FASHION_MNIST_PREPROCESSING,
  fp32Top1,
  family,
  width,
});

/**
 * The proxy models by name. `fp32Top1` is copied from each `<name>.json` (written by
 * `deno task train-proxy`); `mod_test.ts` checks that the two agree.
 */
export const PROXY_MODELS: Record<ProxyName, ProxyModel> = {
  proxy_resnet: entry("proxy_resnet", "resnet", 1, 86.84),
  proxy_mbv2: entry("proxy_mbv2", "mobilenetv2", 1, 83.51),
  proxy_mbv2_w05: entry("proxy_mbv2_w05", "mobilenetv2", 0.5, 82.73),
  proxy_vit: entry("proxy_vit", "vit", 1, 80.39),
};
