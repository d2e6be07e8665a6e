/**
 * The model registry: one literal object of model names → ONNX source, input size, classes,
 * preprocessing, expected sha256 and notes. Files are never downloaded: the shared development
 * assets are found on disk, the papers' checkpoints are exported to ONNX by the user with the
 * command given in each entry.
 *
 * Resolution order for a model's file: the path given on the command line, then the per-model
 * environment variable (`PTQ_MODEL_<NAME>`, upper-case, non-alphanumerics as `_`), then
 * `$PTQ_MODELS_DIR/<file>`, then `../shared/assets/models/<file>` relative to the repository root.
 *
 * @example
 * ```ts
 * import { loadModel, resolveModel } from "./registry.ts";
 * const { path, entry } = resolveModel("mobilenet_v1_025_128");
 * const graph = loadModel("mobilenet_v1_025_128");
 * ```
 *
 * @module
 */
import type { Graph } from "./graph.ts";
import { loadOnnx, type LoadOptions, sha256Hex } from "./onnx.ts";

/** How images are turned into the model's input tensor. */
export interface Preprocess {
  /** Resize the short side to this size before cropping (or to `size`×`size` with crop 1). */
  resize: number;
  /** Central crop fraction (0.875 = TF / timm DeiT; 1 = plain resize). */
  crop: number;
  interpolation: "bilinear" | "bicubic" | "nearest";
  /** `"tf"`: x / 127.5 − 1; `"unit"`: x / 255; or per-channel mean/std on x / 255. */
  normalize: "tf" | "unit" | { mean: [number, number, number]; std: [number, number, number] };
  layout: "NCHW";
  channels: "RGB";
}

/** One registered model. */
export interface ModelEntry {
  /** File name looked for in the models folders. */
  file: string;
  task: "classification" | "detection";
  /** Input spatial size (square). */
  inputSize: number;
  classes: number;
  preprocess: Preprocess;
  /** Expected sha256 of the ONNX file (absent where it depends on the user's export). */
  sha256?: string;
  /** Where the file comes from: shared development assets, a paper checkpoint, or a proxy. */
  source: "shared-asset" | "paper-checkpoint" | "proxy";
  /** For checkpoints: how to produce the ONNX file (no downloads here). */
  export?: string;
  /** FP32 accuracy as known (paper print or measured), for orientation only. */
  fp32?: { metric: string; value: number; where: string }[];
  notes: string;
}

const IMAGENET: Preprocess["normalize"] = {
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};
const TORCH_EVAL: Preprocess = {
  resize: 256,
  crop: 0.875,
  interpolation: "bilinear",
  normalize: IMAGENET,
  layout: "NCHW",
  channels: "RGB",
};
const TF_EVAL = (size: number): Preprocess => ({
  resize: size,
  crop: 0.875,
  interpolation: "bilinear",
  normalize: "tf",
  layout: "NCHW",
  channels: "RGB",
});

const EXPORT = (ctor: string, file: string, size = 224) =>
  `python -c "import torch; m = ${ctor}; m.eval(); torch.onnx.export(m, torch.randn(1, 3, ${size}, ${size}), '${file}', ` +
  `opset_version=13, input_names=['input'], output_names=['logits'], dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})"`;
const BRECQ = (arch: string, ckpt: string) =>
  `(in a clone of yhhhli/BRECQ v1.0, with ${ckpt} from its release) ` +
  EXPORT(
    `__import__('hubconf').${arch}(pretrained=False); m.load_state_dict(torch.load('${ckpt}', map_location='cpu'))`,
    `${arch}.onnx`,
  );
const MBV2_WIDTH = (w: string, ckpt: string) =>
  `(in a clone of d-li14/mobilenetv2.pytorch, with ${ckpt}) ` +
  EXPORT(
    `__import__('models.imagenet', fromlist=['mobilenetv2']).mobilenetv2(width_mult=${w}); m.load_state_dict(torch.load('${ckpt}', map_location='cpu'))`,
    `mobilenetv2_${w}.onnx`,
  );
const TIMM = (name: string, file: string) =>
  EXPORT(`__import__('timm').create_model('${name}', pretrained=True)`, file) +
  "  # timm loads the checkpoint from its local cache; fetch it once outside ptq-bench";

/** Every model, by name. Proxy models (trained by the project, stored under models/proxy/) are added here by the lead. */
export const MODELS = {
  // --- shared development assets (../shared/assets/models)
  mobilenet_v2_tf1qat: {
    file: "mobilenet_v2_1.0_224.tf1qat_dequant.fp32.onnx",
    task: "classification",
    inputSize: 224,
    classes: 1000,
    preprocess: TF_EVAL(224),
    sha256: "ad4a03e6dee6f5a7e5ccf730ae2ce1dbfe9d917c1b958d081122691ebc8ddde3",
    source: "shared-asset",
    fp32: [
      {
        metric: "top1",
        value: 78.6,
        where: "1300-image val subset, plain resize (published with the shared assets)",
      },
      { metric: "top1", value: 70.8, where: "published full val, uint8" },
    ],
    notes: "TF-slim MobileNetV2 1.0, weights dequantized from per-tensor uint8 QAT; BN folded; " +
      "TF SAME padding as explicit pads; background logit removed by a final Slice.",
  },
  mobilenet_v2_tf2ptq: {
    file: "mobilenet_v2_1.0_224.tf2ptq_dequant.fp32.onnx",
    task: "classification",
    inputSize: 224,
    classes: 1000,
    preprocess: TF_EVAL(224),
    sha256: "b8363cab1bbce9df67457b7a8123ec6b6accd06bc80569c7cfb31205cc23e246",
    source: "shared-asset",
    fp32: [{
      metric: "top1",
      value: 78.0,
      where: "1300-image val subset, plain resize (published with the shared assets)",
    }],
    notes:
      "TF2 MobileNetV2 1.0, weights dequantized from per-channel symmetric int8 (close to float).",
  },
  mobilenet_v1_075_192: {
    file: "mobilenet_v1_0.75_192.tf1qat_dequant.fp32.onnx",
    task: "classification",
    inputSize: 192,
    classes: 1000,
    preprocess: TF_EVAL(192),
    sha256: "5fd6ccfa9d785f8d7453a8ac8000d5d5343c70e51026d85e49ce563f2df9d2c4",
    source: "shared-asset",
    fp32: [{
      metric: "top1",
      value: 75.3,
      where: "1300-image val subset, plain resize (published with the shared assets)",
    }],
    notes: "TF1 QAT MobileNetV1 0.75, dequantized to FP32.",
  },
  mobilenet_v1_05_160: {
    file: "mobilenet_v1_0.5_160.tf1qat_dequant.fp32.onnx",
    task: "classification",
    inputSize: 160,
    classes: 1000,
    preprocess: TF_EVAL(160),
    sha256: "fc600617e0a04b44278f60aed0de27ca454255a330380f7a508530fb2b3559c7",
    source: "shared-asset",
    fp32: [{
      metric: "top1",
      value: 67.2,
      where: "1300-image val subset, plain resize (published with the shared assets)",
    }],
    notes: "TF1 QAT MobileNetV1 0.5, dequantized to FP32.",
  },
  mobilenet_v1_025_128: {
    file: "mobilenet_v1_0.25_128.tf1qat_dequant.fp32.onnx",
    task: "classification",
    inputSize: 128,
    classes: 1000,
    preprocess: TF_EVAL(128),
    sha256: "fbb63afca962d281e5d65393464d6f4da1c1e29d3e84066df986b30f405494ec",
    source: "shared-asset",
    fp32: [{
      metric: "top1",
      value: 50.1,
      where: "1300-image val subset, plain resize (published with the shared assets)",
    }],
    notes: "TF1 QAT MobileNetV1 0.25, dequantized to FP32.",
  },
  yolov3_nano_voc: {
    file: "mobilenetv2_yolov3_nano_voc.fp32.onnx",
    task: "detection",
    inputSize: 320,
    classes: 20,
    preprocess: {
      resize: 320,
      crop: 1,
      interpolation: "bilinear",
      normalize: "unit",
      layout: "NCHW",
      channels: "RGB",
    },
    sha256: "374e0eb32d28d190d702a10f7db37d6daf4373da4cc86b988a871476875b4cfe",
    source: "shared-asset",
    fp32: [
      { metric: "mAP50", value: 65.27, where: "authors, full VOC2007 test" },
      {
        metric: "mAP50",
        value: 65.5,
        where: "9-image smoke subset (published with the shared assets)",
      },
    ],
    notes: "MobileNetV2-YOLOv3-Nano, VOC 07+12; raw heads head_stride32 [b,75,10,10] and " +
      "head_stride16 [b,75,20,20]; plain resize to 320 (no letterbox); decode per darknet's YOLOv3 layout.",
  },

  // --- the papers' checkpoints (exported to ONNX by the user; nothing is downloaded here)
  resnet18: {
    file: "resnet18.onnx",
    task: "classification",
    inputSize: 224,
    classes: 1000,
    preprocess: TORCH_EVAL,
    source: "paper-checkpoint",
    export: BRECQ("resnet18", "resnet18_imagenet.pth.tar"),
    fp32: [{ metric: "top1", value: 71.01, where: "BRECQ / QDrop / PD-Quant / MRECG tables" }],
    notes:
      "BRECQ v1.0 release checkpoint (used by BRECQ, QDrop, PD-Quant, MRECG). FDDA uses pytorchcv resnet18.",
  },
  resnet50: {
    file: "resnet50.onnx",
    task: "classification",
    inputSize: 224,
    classes: 1000,
    preprocess: TORCH_EVAL,
    source: "paper-checkpoint",
    export: BRECQ("resnet50", "resnet50_imagenet.pth.tar"),
    fp32: [{ metric: "top1", value: 76.63, where: "BRECQ / QDrop tables" }],
    notes: "BRECQ v1.0 release checkpoint.",
  },
  mobilenetv2: {
    file: "mobilenetv2.onnx",
    task: "classification",
    inputSize: 224,
    classes: 1000,
    preprocess: TORCH_EVAL,
    source: "paper-checkpoint",
    export: BRECQ("mobilenetv2", "mobilenetv2.pth.tar"),
    fp32: [
      { metric: "top1", value: 72.49, where: "BRECQ / QDrop tables" },
      { metric: "top1", value: 72.62, where: "PD-Quant table" },
    ],
    notes: "BRECQ v1.0 mobilenetv2.pth.tar (via hubconf.py).",
  },
  mobilenetv2_075: {
    file: "mobilenetv2_0.75.onnx",
    task: "classification",
    inputSize: 224,
    classes: 1000,
    preprocess: TORCH_EVAL,
    source: "paper-checkpoint",
    export: MBV2_WIDTH("0.75", "mobilenetv2_0.75-dace9791.pth"),
    fp32: [{ metric: "top1", value: 69.95, where: "MRECG Table 1" }],
    notes:
      "Width-multiplier checkpoint from d-li14/mobilenetv2.pytorch (inferred from the filename pattern).",
  },
  mobilenetv2_05: {
    file: "mobilenetv2_0.5.onnx",
    task: "classification",
    inputSize: 224,
    classes: 1000,
    preprocess: TORCH_EVAL,
    source: "paper-checkpoint",
    export: MBV2_WIDTH("0.5", "mobilenetv2_0.5-eaa6f9ad.pth"),
    fp32: [{ metric: "top1", value: 64.6, where: "MRECG Table 1" }],
    notes: "Width-multiplier checkpoint from d-li14/mobilenetv2.pytorch.",
  },
  mobilenetv2_035: {
    file: "mobilenetv2_0.35.onnx",
    task: "classification",
    inputSize: 224,
    classes: 1000,
    preprocess: TORCH_EVAL,
    source: "paper-checkpoint",
    export: MBV2_WIDTH("0.35", "mobilenetv2_0.35-b2e15951.pth"),
    fp32: [{ metric: "top1", value: 60.08, where: "MRECG Table 1" }],
    notes:
      "Width-multiplier checkpoint from d-li14/mobilenetv2.pytorch (file hash suffix may differ).",
  },
  regnetx_600mf: {
    file: "regnetx_600mf.onnx",
    task: "classification",
    inputSize: 224,
    classes: 1000,
    preprocess: TORCH_EVAL,
    source: "paper-checkpoint",
    export: BRECQ("regnetx_600m", "regnet_600m.pth.tar"),
    fp32: [{ metric: "top1", value: 73.52, where: "BRECQ / QDrop / MRECG tables" }],
    notes: "BRECQ v1.0 regnet_600m.pth.tar. FDDA uses pytorchcv regnetx_600m instead.",
  },
  mnasnet: {
    file: "mnasnet.onnx",
    task: "classification",
    inputSize: 224,
    classes: 1000,
    preprocess: TORCH_EVAL,
    source: "paper-checkpoint",
    export: BRECQ("mnasnet", "mnasnet.pth.tar"),
    fp32: [{ metric: "top1", value: 76.52, where: "BRECQ / QDrop tables (MnasNet-2.0)" }],
    notes: "BRECQ v1.0 mnasnet.pth.tar (MnasNet ×2.0).",
  },
  deit_s: {
    file: "deit_s.onnx",
    task: "classification",
    inputSize: 224,
    classes: 1000,
    preprocess: { ...TORCH_EVAL, interpolation: "bicubic" },
    source: "paper-checkpoint",
    export: TIMM("deit_small_patch16_224", "deit_s.onnx"),
    notes:
      "fbaipublicfiles DeiT-S checkpoint (Evol-Q); bicubic resize, crop 0.875. Export with opset 17 " +
      "to keep LayerNormalization fused (both forms are supported).",
  },
  deit_b: {
    file: "deit_b.onnx",
    task: "classification",
    inputSize: 224,
    classes: 1000,
    preprocess: { ...TORCH_EVAL, interpolation: "bicubic" },
    source: "paper-checkpoint",
    export: TIMM("deit_base_patch16_224", "deit_b.onnx"),
    notes: "fbaipublicfiles DeiT-B checkpoint (Evol-Q).",
  },
  vit_b: {
    file: "vit_b.onnx",
    task: "classification",
    inputSize: 224,
    classes: 1000,
    preprocess: {
      resize: 248,
      crop: 0.9,
      interpolation: "bicubic",
      normalize: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
      layout: "NCHW",
      channels: "RGB",
    },
    source: "paper-checkpoint",
    export: TIMM("vit_base_patch16_224.augreg_in21k_ft_in1k", "vit_b.onnx"),
    notes: "Google augreg B/16 (i21k, 300 ep, res 224) as in Evol-Q; mean/std 0.5, crop 0.9.",
  },
  // --- proxy models: trained by the project itself, stored under models/proxy/ (added by the lead)
} as const satisfies Record<string, ModelEntry>;

/** A registered model name. */
export type ModelName = keyof typeof MODELS;

/** Where proxy models live inside the repository. */
export const PROXY_DIR: URL = new URL("./proxy/", import.meta.url);
/** The shared development assets' models folder (`../shared/assets/models` from the repo root). */
export const SHARED_MODELS_DIR: URL = new URL("../../shared/assets/models/", import.meta.url);

function envVarFor(name: string): string {
  return `PTQ_MODEL_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

function getEnv(k: string): string | undefined {
  try {
    return Deno.env.get(k) || undefined;
  } catch {
    return undefined; // no --allow-env
  }
}

function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/** The registry entry of a model, or a RangeError listing the known names. */
export function modelEntry(name: string): ModelEntry {
  const e = (MODELS as Record<string, ModelEntry>)[name];
  if (!e) throw new RangeError(`Unknown model "${name}"; known: ${Object.keys(MODELS).join(", ")}`);
  return e;
}

/**
 * Finds a model's ONNX file: `opts.path` (CLI flag), then `PTQ_MODEL_<NAME>`, then
 * `$PTQ_MODELS_DIR/<file>`, then `models/proxy/<file>` for proxies, then the shared assets.
 * A missing file throws an Error that says where to put it and how to produce it.
 */
export function resolveModel(
  name: string,
  opts: { path?: string } = {},
): { path: string; entry: ModelEntry } {
  const entry = modelEntry(name);
  const tried: string[] = [];
  const candidates: string[] = [];
  if (opts.path) candidates.push(opts.path);
  const perModel = getEnv(envVarFor(name));
  if (perModel) candidates.push(perModel);
  const dir = getEnv("PTQ_MODELS_DIR");
  if (dir) candidates.push(`${dir.replace(/\/$/, "")}/${entry.file}`);
  if (entry.source === "proxy") candidates.push(new URL(entry.file, PROXY_DIR).pathname);
  candidates.push(new URL(entry.file, SHARED_MODELS_DIR).pathname);
  for (const c of candidates) {
    if (isFile(c)) return { path: c, entry };
    tried.push(c);
  }
  const how = entry.export
    ? `Produce it with:\n  ${entry.export}`
    : entry.source === "shared-asset"
    ? "It is one of the shared development assets (../shared/assets/models)."
    : "It is a proxy model: train it with the project's proxy trainer.";
  throw new Error(
    `Model "${name}" (${entry.file}) was not found. Looked in:\n  ${tried.join("\n  ")}\n` +
      `Put the file in $PTQ_MODELS_DIR, set ${
        envVarFor(name)
      }=/path/to/${entry.file}, or pass its path. ${how}`,
  );
}

/** Resolves, optionally checks the sha256 (`verify`), and loads a registered model. */
export function loadModel(
  name: string,
  opts: LoadOptions & { path?: string; verify?: boolean } = {},
): Graph {
  const { path, entry } = resolveModel(name, opts);
  const bytes = Deno.readFileSync(path);
  if (opts.verify && entry.sha256) {
    const got = sha256Hex(bytes);
    if (got !== entry.sha256) {
      throw new Error(`Model "${name}" at ${path} has sha256 ${got}, expected ${entry.sha256}`);
    }
  }
  return loadOnnx(bytes, { ...opts, name: path });
}
