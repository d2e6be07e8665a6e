/**
 * PD-Quant (Liu et al., CVPR 2023, arXiv 2212.07048): reported rows, recipes and claims.
 *
 * The rows are `table.json` (each row names its source document and where the number is
 * printed): the 24 PD-Quant cells of the official README (arXiv v1/v2), the two cells the
 * CVPR/v3 abstract revises (alternates), three unverified secondary-source cells (alternates,
 * `verified: false`), and MRECG Table 1's baseline rows for the same models and bit-widths.
 *
 * @example
 * ```ts
 * import { pdquant } from "./mod.ts";
 * console.log(pdquant.cells.find((c) => c.id === "pdquant/resnet18/w2a2/pdquant")?.row.value);
 * // 53.08
 * ```
 *
 * @module
 */
import table from "./table.json" with { type: "json" };
import { definePaper } from "../paper.ts";
import type { Paper } from "../cells.ts";
import { RECIPES } from "./recipes.ts";

/** The PD-Quant paper module. */
export const pdquant: Paper = definePaper(table, {
  recipes: RECIPES,
  claims: [["pdquant", "qdrop"], ["pdquant", "brecq"], ["pdquant", "adaround"], [
    "qdrop",
    "brecq",
  ]],
  deviations: [
    "The comparison uses the README (arXiv v1/v2) values; the CVPR/v3 table is known for two " +
    "cells only (ResNet-18 and RegNetX-600MF at W2A2), shown beside them.",
    "PD-Quant's own baseline rows were not retrieved: the QDrop/BRECQ/AdaRound/other baseline " +
    "cells are MRECG Table 1's numbers for the same models (another MobileNetV2 checkpoint).",
    "Seeds 1006 and 1007 are added to the code's seed 1005 to measure variance.",
    "proxy suite: small Fashion-MNIST models stand in for the ImageNet networks; only method " +
    "orderings and gaps are compared.",
    "imagenet-subset suite: calibration draws from the shared 1,000-image set (one image per " +
    "class, no train augmentation) instead of 1,024 augmented train images; the shared " +
    "MobileNetV2 is a TF checkpoint, not BRECQ's.",
  ],
  standIns: {
    proxy: { resnet18: "proxy_resnet", resnet50: "proxy_resnet", mobilenetv2: "proxy_mbv2" },
    "imagenet-subset": { mobilenetv2: "mobilenet_v2_tf2ptq" },
  },
}, "papers/pdquant/table.json");
