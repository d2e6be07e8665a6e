/**
 * Multipoint quantization (Liu, Ye, Zhou, Liu, AAAI 2021, arXiv 2002.09049): reported rows,
 * recipes and claims.
 *
 * The rows are `table.json`: four ImageNet numbers as a third-party summary gives them (all
 * `verified: false`, their bit-widths inferred); no table of the paper itself was read and no
 * official code exists. The method and its equal-memory baselines (per-layer mixed precision,
 * OCS) are `methods/multipoint.ts`.
 *
 * @example
 * ```ts
 * import { multipoint } from "./mod.ts";
 * console.log(multipoint.cells.find((c) => c.id === "multipoint/mobilenetv2/w4a32/multipoint")?.row.value);
 * // 70.7
 * ```
 *
 * @module
 */
import table from "./table.json" with { type: "json" };
import { definePaper } from "../paper.ts";
import type { Paper } from "../cells.ts";
import { RECIPES } from "./recipes.ts";

/** The multipoint paper module. */
export const multipoint: Paper = definePaper(table, {
  recipes: RECIPES,
  claims: [["mixed-precision", "multipoint"]],
  deviations: [
    "Every reported number is a secondary summary's (unverified), and its bit-width is inferred (W4, float activations): the comparison shows orderings and gaps only.",
    "The paper's claims against RTN and OCS at equal memory have no cells: no RTN or OCS number of the paper was transcribed (a cell needs the paper's value). The methods are registered (`rtn`, `ocs`, `mixed-precision`) and run at the same budget with `deno task quantize`; the only cell claim is the summary's mixed precision ahead of multipoint on ResNet-101 (74.22 vs 72.85, here against the 73.09 row).",
    "Detection is not implemented: the VOC detector (the paper's is unknown; the shared YOLOv3-nano is the intended stand-in), VOC mAP scoring, the Fashion-MNIST detection proxy, and the summary's detection gains (+0.41 mAP at 4-bit, +1.09 at 3-bit weights) are not run.",
    "Not measured yet: the error against the number of points (plot) and the random-allocation ablation as report items; the method takes `allocation: random` for the latter.",
    "proxy suite: small Fashion-MNIST models stand in for ResNet-101 (proxy_resnet) and MobileNetV2 (proxy_mbv2); only orderings and gaps are compared.",
    "imagenet-subset suite: the shared TF MobileNetV2 (mobilenet_v2_tf2ptq) stands in for the paper's MobileNetV2, calibrated on the shared 1,000-image set; the paper's checkpoints are unknown, so the imagenet suite has none to run.",
  ],
  standIns: {
    proxy: { resnet101: "proxy_resnet", mobilenetv2: "proxy_mbv2" },
    "imagenet-subset": { mobilenetv2: "mobilenet_v2_tf2ptq" },
  },
}, "papers/multipoint/table.json");
