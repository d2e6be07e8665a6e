/**
 * MRECG recipes (version 2): the settings of `bytedance/MRECG` (6e48c48, configs/), MQBench Academic
 * backend. BRECQ, QDrop and AdaRound baselines run in the same pipeline without merging.
 *
 * @module
 */

/**
 * Merge schemes from the configs (`reconstruction.scheme`): one entry per reconstruction call
 * (`extract_block` in `MRECG.py`); an integer is one unit, a list of length L merges L consecutive
 * units. The total length is the official code's unit count (`mrecgUnits`): ResNet-18 10,
 * ResNet-50 18, MobileNetV2 18 (stem + first inverted residual as one, 16 inverted residuals,
 * last conv + classifier as one), RegNetX-600MF 18. Every merge spans a stage boundary (the last
 * block or two of a stage with the first of the next; ResNet-50's and RegNetX's triples also take
 * the second), except RegNetX-600MF's (13, 13), its last two blocks.
 */
export const SCHEMES: Readonly<Record<string, (number | number[])[]>> = {
  resnet18: [1, 2, [3, 3], [4, 4], 5, 6, 7, 8],
  resnet50: [1, 2, 3, [4, 4], 5, 6, [7, 7, 7], 8, 9, 10, [11, 11], 12, 13, 14],
  mobilenetv2: [1, 2, [3, 3], 4, [5, 5], 6, [7, 7, 7], [8, 8, 8], 9, [10, 10], 11],
  regnetx_600mf: [1, 2, 3, 4, [5, 5, 5], 6, 7, [8, 8], 9, 10, 11, 12, [13, 13], 14],
};

/**
 * Version 2 (session 12): the methods became the official protocols — BRECQ's two stages,
 * PD-Quant's DC closeness term averaged over batch × H × W, int32 biases as integer kernels use
 * them, MRECG's official units — so version-1 records no longer count (reports list them as of
 * an older version).
 */
const RECIPE_VERSION = 2;

const FAMILIES = {
  resnet18: { archs: ["resnet18"], weight: 0.01, n: 4096, batch: 256 },
  resnet50: { archs: ["resnet50"], weight: 0.01, n: 2048, batch: 128 },
  mobilenetv2: {
    archs: ["mobilenetv2", "mobilenetv2_x0.75", "mobilenetv2_x0.5", "mobilenetv2_x0.35"],
    weight: 0.1,
    n: 4096,
    batch: 256,
  },
  regnetx_600mf: { archs: ["regnetx_600mf"], weight: 0.01, n: 4096, batch: 256 },
} as const;

const SHARED = {
  adaround_lr: 1e-3,
  act_lr: 4e-5,
  act_lr_schedule: "cosine",
  b_start: 20,
  b_end: 2,
  warmup: 0.2,
  weight_observer: "mse",
  act_observer: "ema_mse",
  lp: 2.4,
  per_channel: true,
  symmetric: false,
  bn_fold: false,
};

const NOTES = [
  "iterations, learning rates, rounding weight, calibration (16 cached batches) and merge schemes: " +
  "configs/{brecq,qdrop}/*.yaml of bytedance/MRECG",
  "the code does not seed (seed_all is commented out); ptq-bench runs seeds 0, 1, 2",
];

type Family = keyof typeof FAMILIES;

/**
 * The registry method behind a cell method of the paper, where they differ: MRECG over a base
 * method is the registry's `mrecg` with `base` set; the BRECQ baseline MRECG re-ran is the joint
 * variant its code runs (`configs/brecq/*.yaml`: `prob: 1.0`, rounding and steps learned together
 * in `MRECG.py` `subgraph_reconstruction`), the registry's `brecq-joint`, so that "MRECG+BRECQ vs
 * BRECQ" compares one base with itself.
 */
const OVER: Record<string, { method: string; base?: string }> = {
  "mrecg+brecq": { method: "mrecg", base: "brecq" },
  "mrecg+qdrop": { method: "mrecg", base: "qdrop" },
  brecq: { method: "brecq-joint" },
};

function recipe(method: string, family: Family, config: object, notes: string[] = []) {
  const f = FAMILIES[family];
  const over = Object.hasOwn(OVER, method) ? OVER[method] : undefined;
  return {
    id: `mrecg/${method}@${family}`,
    version: RECIPE_VERSION,
    paper: "mrecg",
    method: over?.method ?? method,
    ...(over ? { cell_method: method } : {}),
    archs: [...f.archs],
    fixed: {
      calibration: {
        n: method === "adaround" ? 1024 : f.n,
        batch: method === "adaround" ? 64 : f.batch,
        source: "ImageNet train, shuffled loader, 16 cached batches",
        augment: "RandomResizedCrop(224) + horizontal flip",
      },
      iters_per_unit: 20000,
      seeds: [0, 1, 2],
      first_last_8bit: true,
      config: {
        ...SHARED,
        weight: f.weight,
        ...(over?.base ? { base: over.base } : {}),
        ...config,
      },
      scaled_by_budget: [],
    },
    notes: [...NOTES, ...notes],
  };
}

const ALL: Family[] = ["resnet18", "resnet50", "mobilenetv2"];

/** MRECG's recipes: MRECG on BRECQ and QDrop, and the re-run baselines. */
export const RECIPES: unknown[] = [
  ...ALL.map((f) => recipe("mrecg+brecq", f, { scheme: SCHEMES[f], prob: 1.0 })),
  ...[...ALL, "regnetx_600mf" as const].map((f) =>
    recipe("mrecg+qdrop", f, { scheme: SCHEMES[f], prob: 0.5 })
  ),
  ...ALL.map((f) => recipe("brecq", f, { prob: 1.0 })),
  ...ALL.map((f) => recipe("qdrop", f, { prob: 0.5 })),
  ...ALL.map((f) =>
    recipe("adaround", f, { granularity: "layer" }, [
      "the anonymous repo's AdaRound configs use batch_size 64 (1,024 images)",
    ])
  ),
];
