/**
 * FDDA (Zhong et al., ECCV 2022, arXiv 2109.04186): reported rows, recipes and claims.
 *
 * The rows are `table.json`: the 16 accuracies of the authors' released checkpoints (README of
 * zysxmu/FDDA at 3d50d5f; F4L4/F5L5 cells are method `fdda`, F8L8 cells `fdda-f8l8`), the two
 * FDDA and two BRECQ W4A4 cells of the paper's Table 3 and three ablation cells as a secondary
 * summary gives them (`verified: false`).
 *
 * Claims: FDDA > BRECQ at W4A4 on ResNet-18 and MobileNetV1 (the only cells where both are
 * transcribed; the W5A5 baselines were not retrieved), and FDDA above each ablation.
 *
 * @example
 * ```ts
 * import { fdda } from "./mod.ts";
 * console.log(fdda.cells.find((c) => c.id === "fdda/resnet18/w4a4/fdda")?.row.value); // 68.884
 * ```
 *
 * @module
 */
import table from "./table.json" with { type: "json" };
import { definePaper } from "../paper.ts";
import type { Paper } from "../cells.ts";
import { RECIPES } from "./recipes.ts";

/** The FDDA paper module. */
export const fdda: Paper = definePaper(table, {
  recipes: RECIPES,
  claims: [
    ["fdda", "brecq"],
    ["fdda", "fdda-nofdda"],
    ["fdda", "fdda-unreliable"],
    ["fdda", "fdda-70cls"],
  ],
  deviations: [
    "The FDDA cells are the released checkpoints' accuracies (README); only the ResNet-18 and " +
    "MobileNetV1 W4A4 cells are known to match the paper's Table 3 (per a secondary summary).",
    "The BRECQ and ablation cells come from a secondary summary of the paper (unverified).",
    "Both selection protocols are recorded: the official one (the best test top-1 over the " +
    "epochs from warm-up − 1 on: it selects on the test set) and the test-free one (the last " +
    "epoch, the record's metrics).",
    "proxy suite: Fashion-MNIST models with BatchNorm stand in for the ImageNet networks (a " +
    "MobileNetV2 of half width for MobileNetV1); the real calibration set is one image per class " +
    "(10 images), the generator's init size 7 for the 28×28 inputs; only method orderings and " +
    "gaps are compared.",
    "imagenet-subset suite: the shared one-per-class calibration set is the paper's protocol; the " +
    "shared MobileNets are TF checkpoints with BN folded before export, so FDDA recovers its BN " +
    "targets at the convolution outputs from the real images (a deviation of the method).",
  ],
  standIns: {
    proxy: { resnet18: "proxy_resnet", mobilenetv1: "proxy_mbv2_w05", mobilenetv2: "proxy_mbv2" },
    "imagenet-subset": { mobilenetv1: "mobilenet_v1_075_192", mobilenetv2: "mobilenet_v2_tf2ptq" },
  },
}, "papers/fdda/table.json");
