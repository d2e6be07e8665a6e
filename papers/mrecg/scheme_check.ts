/**
 * Does MRECG's top-k capacity-differential choice reproduce the official merge scheme?
 * `deno run -A papers/mrecg/scheme_check.ts [--model mobilenet_v2_tf2ptq] [--k 7] [--groups 1+2+3,10+11]`
 *
 * Computes the data-free ModCap of every graph unit of a MobileNetV2 (W4, first/last 8-bit),
 * picks the top-k adjacent pairs, and compares them with the official MobileNetV2 scheme
 * `[1, 2, (3,3), 4, (5,5), 6, (7,7,7), (8,8,8), 9, (10,10), 11]`, read as 18 units = stem + 17
 * inverted residuals (an assumption: the official unit list is not in METHODS.md). Pairs are
 * compared in inverted-residual indices. `--groups` compares the merges of a data-dependent MRECG
 * run instead (as its log prints them: graph-unit indices from 0, e.g. `1+2+3,10+11`). The overlap
 * is set against chance: the expected overlap of k pairs drawn at random from the candidate pairs,
 * and the hypergeometric probability of at least the observed overlap.
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
  options: {
    model: { type: "string", default: "mobilenet_v2_tf2ptq" },
    k: { type: "string" },
    groups: { type: "string" },
  },
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
const { diffs, pairs: topK } = topKPairs(units, caps, k);
// Pairs as graph-unit indices of their first member: the top-k data-free ones, or a run's groups.
const pairs = values.groups
  ? values.groups.split(",").flatMap((g) => g.split("+").map(Number).slice(0, -1))
  : topK;
const chosen = pairs.map((p) => ir.indexOf(p)).filter((i) => i >= 0);
const common = chosen.filter((p) => official.includes(p));
console.log(`${values.model}: ${units.length} graph units, ${ir.length} inverted residuals`);
console.log(`data-free ModCap: ${caps.map((c) => Math.round(c)).join(" ")}`);
console.log(
  `relative differentials: ${diffs.map((d) => (d === null ? "-" : d.toFixed(2))).join(" ")}`,
);
const fmt = (ps: number[]) => ps.map((p) => `IR${p}+IR${p + 1}`).join(", ");
console.log(`${values.groups ? "pairs given" : `top-${k} pairs chosen`}: ${fmt(chosen)}`);
console.log(`official pairs:       ${fmt(official)}`);
console.log(`in common: ${common.length} of ${official.length} (${fmt(common)})`);
// Chance: `chosen.length` of the candidate pairs (adjacent inverted residuals) drawn at random.
const candidates = ir.length - 1;
const n = chosen.length, K = official.length;
const expected = (n * K) / candidates;
let pAtLeast = 0;
for (let x = common.length; x <= Math.min(n, K); x++) {
  pAtLeast += (binom(K, x) * binom(candidates - K, n - x)) / binom(candidates, n);
}
console.log(
  `by chance (${n} of ${candidates} candidate pairs at random): ${expected.toFixed(2)} in common ` +
    `expected, P(≥ ${common.length}) = ${pAtLeast.toFixed(2)}`,
);

function binom(a: number, b: number): number {
  if (b < 0 || b > a) return 0;
  let r = 1;
  for (let i = 1; i <= b; i++) r = (r * (a - b + i)) / i;
  return r;
}
