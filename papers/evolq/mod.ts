/**
 * Evol-Q (Frumkin, Gope, Marculescu, ICCV 2023, arXiv 2308.10814): reported rows, recipes and
 * claims.
 *
 * The rows are `table.json`. The paper's tables were not reachable and the official README's
 * table is empty: the abstract's gains on fully quantized ViT-B (+10.30 / +0.78 / +0.15 at 3 / 4
 * / 8-bit weights) have an absolute base only at 8 bits (an FQ-ViT re-run, secondary), so the
 * only cells are W8A8 ViT-B: FQ-ViT and Evol-Q (the base plus the printed gain, inferred).
 *
 * @example
 * ```ts
 * import { evolq } from "./mod.ts";
 * console.log(evolq.claims.map((c) => c.id)); // ["evolq/vit_b/w8a8/evolq>fqvit"]
 * ```
 *
 * @module
 */
import table from "./table.json" with { type: "json" };
import { definePaper } from "../paper.ts";
import type { Paper } from "../cells.ts";
import { RECIPES } from "./recipes.ts";

/** The Evol-Q paper module. */
export const evolq: Paper = definePaper(table, {
  recipes: RECIPES,
  claims: [["evolq", "fqvit"]],
  deviations: [
    "Only W8A8 ViT-B has cells: the abstract's W3 (+10.30) and W4 (+0.78) gains, DeiT-B's +0.16 " +
    "and the CNN gains over BRECQ have no absolute numbers to compare with (the paper's tables " +
    "were not read). The Evol-Q cell is inferred (the FQ-ViT re-run plus the printed +0.15), and " +
    "both cells are unverified.",
    "Both selection protocols are recorded: the official one (the best test top-1 over the block " +
    "updates: it selects on the test set) and the test-free one (the final state, the record's " +
    "metrics).",
    "proxy suite: proxy_vit (4 blocks, width 64, Fashion-MNIST) stands in for ViT-B and DeiT-B; " +
    "only the ordering and gap of Evol-Q over its base are compared.",
    "The imagenet suite has no checkpoint entry yet (the ViT-B augreg and DeiT checkpoints would " +
    "need an ONNX export and their preprocessing: bicubic, crop 0.9 / 0.875, mean/std 0.5 for " +
    "ViT).",
  ],
  standIns: {
    proxy: { vit_b: "proxy_vit" },
    "imagenet-subset": {},
  },
}, "papers/evolq/table.json");
