/**
 * Does MRECG's top-k capacity-differential choice reproduce the official merge scheme?
 * `deno run -A papers/mrecg/scheme_check.ts [--model mobilenet_v2_tf2ptq] [--k 7]`
 *
 * Computes the data-free ModCap of every graph unit of a MobileNetV2 (W4, first/last 8-bit),
 * picks the top-k adjacent pairs, and compares them with the official MobileNetV2 scheme
 * `[1, 2, (3,3), 4, (5,5), 6, (7,7,7), (8,8,8), 9, (10,10), 11]`, read as 18 units = stem + 17
 * inverted residuals (an assumption: the official unit list is not in METHODS.md). Pairs are
 * compared in inverted-residual indices.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { foldBatchNorm, loadOnnx, resolveModel } from "../../models/mod.ts";
import { blockUnits } from "../../methods/_quant/units.ts";
import { dataFreeCapacity, schemeGroups, topKPairs } from "../../methods/mrecg.ts";

const OFFICIAL_MBV2 = [1, 2, [3, 3], 4, [5, 5], 6, [7, 7, 7], [8, 8, 8], 9, [10, 10], 11];

const { values } = parseArgs({
  args: Deno.args,
  options: { model: { type: "string", default: "mobilenet_v2_tf2ptq" }, k: { type: "string" } },
});
const { graph } = foldBatchNorm(loadOnnx(resolveModel(values.model!).path));
const units = blockUnits(graph);
const ir = units.flatMap((u, i) => (u.kind === "inverted-residual" ? [i] : []));
const caps = units.map((u, i) =>
  dataFreeCapacity(graph, u, () => (i === 0 || i === units.length - 1 ? 8 : 4))
);
// Official pairs in IR indices: official unit j (0-based) is IR j-1.
const official = schemeGroups(OFFICIAL_MBV2, 18).flatMap((g) => g.slice(0, -1).map((j) => j - 1));
const k = Number(values.k ?? official.length);
const { diffs, pairs } = topKPairs(units, caps, k);
const chosen = pairs.map((p) => ir.indexOf(p)).filter((i) => i >= 0);
const common = chosen.filter((p) => official.includes(p));
console.log(`${values.model}: ${units.length} graph units, ${ir.length} inverted residuals`);
console.log(`data-free ModCap: ${caps.map((c) => Math.round(c)).join(" ")}`);
console.log(
  `relative differentials: ${diffs.map((d) => (d === null ? "-" : d.toFixed(2))).join(" ")}`,
);
const fmt = (ps: number[]) => ps.map((p) => `IR${p}+IR${p + 1}`).join(", ");
console.log(`top-${k} pairs chosen: ${fmt(chosen)}`);
console.log(`official pairs:       ${fmt(official)}`);
console.log(`in common: ${common.length} of ${official.length} (${fmt(common)})`);
