/**
 * MRECG / ModCap (Ma et al., CVPR 2023, arXiv 2303.11906): Table 1 as long rows, recipes, claims.
 *
 * `table.json` holds every record of the reference transcription: Table 1 of the submission
 * (ResNet-18/50, MobileNetV2 ×1.0/0.75/0.5/0.35; W4A4, W2A4, W3A3, W2A2; every baseline row
 * including the `*` re-runs) and the README's RegNetX-600MF cells of MRECG+QDrop.
 *
 * @example
 * ```ts
 * import { mrecg } from "./mod.ts";
 * console.log(mrecg.rows.length); // 140
 * ```
 *
 * @module
 */
import table from "./table.json" with { type: "json" };
import { definePaper } from "../paper.ts";
import type { Paper } from "../cells.ts";
import { RECIPES } from "./recipes.ts";

/** The MRECG paper module. */
export const mrecg: Paper = definePaper(table, {
  recipes: RECIPES,
  claims: [["mrecg+brecq", "brecq"], ["mrecg+qdrop", "qdrop"]],
  deviations: [
    "ModCap and the top-k selection are not in the official code; ptq-bench uses the code's " +
    "precomputed merge schemes.",
    "The code does not seed its runs; ptq-bench runs seeds 0, 1, 2.",
    "proxy suite: small Fashion-MNIST models stand in for the ImageNet networks (×0.75 uses " +
    "proxy_mbv2, ×0.5 and ×0.35 proxy_mbv2_w05); only method orderings and gaps are compared.",
    "Table 1 is the CVPR-submission version; the camera-ready may differ.",
  ],
  standIns: {
    proxy: {
      resnet18: "proxy_resnet",
      resnet50: "proxy_resnet",
      mobilenetv2: "proxy_mbv2",
      "mobilenetv2_x0.75": "proxy_mbv2",
      "mobilenetv2_x0.5": "proxy_mbv2_w05",
      "mobilenetv2_x0.35": "proxy_mbv2_w05",
    },
    "imagenet-subset": { mobilenetv2: "mobilenet_v2_tf2ptq" },
  },
}, "papers/mrecg/table.json");
