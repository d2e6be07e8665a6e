/**
 * Does MRECG's top-k capacity-differential choice reproduce the official merge scheme?
 * ({@linkcode schemeCheck}; the command is `deno task scheme-check`, `cli/scheme_check.ts`.)
 *
 * Builds the units of the official code on a MobileNetV2 (`mrecgUnits`: 18 units, the stem with
 * the first inverted residual, IR1 … IR16, the last conv with the classifier; unit i is IR i for
 * 1 ≤ i ≤ 16), computes the data-free ModCap of every unit (W4, first and last layer 8-bit),
 * picks the top-k adjacent pairs, and compares them with the official MobileNetV2 scheme
 * `[1, 2, (3,3), 4, (5,5), 6, (7,7,7), (8,8,8), 9, (10,10), 11]`, whose total length is those 18
 * units: it merges IR2+IR3, IR5+IR6, IR8+IR9+IR10, IR11+IR12+IR13 and IR15+IR16, the last block
 * of a stage with the first of the next. Pairs are named by inverted-residual indices (IR0 is the
 * first inverted residual). Given `groups`, it compares the merges of a data-dependent MRECG run
 * instead (as its log prints them: unit indices from 0, e.g. `1+2+3,10+11`). The overlap is set
 * against chance: the expected overlap of k pairs drawn at random from the candidate pairs, and
 * the hypergeometric probability of at least the observed overlap.
 *
 * @module
 */
import { foldBatchNorm, type Graph, reconstructionUnits } from "../../models/mod.ts";
import { dataFreeCapacity, mrecgUnits, schemeGroups, topKPairs } from "../../methods/mrecg.ts";
import { SCHEMES } from "./recipes.ts";

/** The official MobileNetV2 merge scheme (`bytedance/MRECG` configs; the recipes' own). */
export const OFFICIAL_MBV2: (number | number[])[] = SCHEMES.mobilenetv2;

/** What {@linkcode schemeCheck} found; pairs are inverted-residual indices of their first member. */
export interface SchemeCheck {
  /** The official code's units (MRECG's default partition). */
  units: number;
  /** The harness's graph-derived blocks (`reconstructionUnits`). */
  graphUnits: number;
  /** Inverted residuals among the graph-derived blocks. */
  invertedResiduals: number;
  /** The data-free ModCap of every unit. */
  capacities: number[];
  /** The relative differential of each adjacent pair of units (null: not a candidate). */
  differentials: (number | null)[];
  /** The k of the top-k choice. */
  k: number;
  /** Whether `chosen` are the given groups' pairs (else the top-k data-free pairs). */
  given: boolean;
  /** The chosen pairs (top-k, or the given groups'). */
  chosen: number[];
  /** The official scheme's pairs. */
  official: number[];
  /** The pairs in both. */
  common: number[];
  /** Adjacent pairs of homogeneous units (two inverted residuals): the candidates. */
  candidates: number;
  /** The overlap expected when `chosen.length` candidate pairs are drawn at random. */
  expected: number;
  /** The probability of at least `common.length` in common by chance (hypergeometric). */
  pAtLeast: number;
}

/**
 * Parses merged groups as an MRECG run logs them (`1+2+3,10+11`: unit indices from 0,
 * each group consecutive) into the pairs they merge (the first index of each adjacent pair); a
 * RangeError names a malformed group.
 */
export function parseGroups(text: string): number[] {
  return text.split(",").flatMap((g) => {
    const ids = g.split("+").map((x) => x.trim());
    if (ids.length < 2 || ids.some((x) => !/^\d+$/.test(x))) {
      throw new RangeError(`"${g}" is not a merged group like 1+2+3`);
    }
    const n = ids.map(Number);
    if (n.some((x, i) => i > 0 && x !== n[i - 1] + 1)) {
      throw new RangeError(`"${g}" is not a run of consecutive units`);
    }
    return n.slice(0, -1);
  });
}

/** The binomial coefficient `a choose b` (0 outside 0 ≤ b ≤ a). */
function binom(a: number, b: number): number {
  if (b < 0 || b > a) return 0;
  let r = 1;
  for (let i = 1; i <= b; i++) r = (r * (a - b + i)) / i;
  return r;
}

/**
 * Compares the top-`k` data-free merges of `graph` (default k: the official scheme's 7), or the
 * merges of `groups` (pairs of unit indices as {@linkcode parseGroups} gives them), with the
 * official MobileNetV2 scheme. `graph` is the unfolded model; BN is folded here. A RangeError
 * names both counts when the model does not have the scheme's 18 units.
 */
export function schemeCheck(
  graph: Graph,
  opts: { k?: number; groups?: number[] } = {},
): SchemeCheck {
  const folded = foldBatchNorm(graph).graph;
  const blocks = reconstructionUnits(folded);
  const units = mrecgUnits(folded);
  const groups = schemeGroups(OFFICIAL_MBV2, units.length);
  // Inverted-residual index of each unit that is one inverted residual (else -1).
  const irs = blocks.filter((u) => u.kind === "inverted-residual");
  const ir = units.map((u) => irs.findIndex((b) => b.name === u.name));
  const first = units[0].layers[0], last = units.at(-1)!.layers.at(-1);
  const caps = units.map((u) =>
    dataFreeCapacity(folded, u, (l) => (l === first || l === last ? 8 : 4))
  );
  const toIr = (pairs: number[]) =>
    pairs.filter((p) => ir[p] >= 0 && ir[p + 1] === ir[p] + 1).map((p) => ir[p]);
  const official = toIr(groups.flatMap((g) => g.slice(0, -1)));
  const k = opts.k ?? official.length;
  const { diffs, pairs: topK } = topKPairs(units, caps, k);
  // Pairs as unit indices of their first member: the top-k data-free ones, or a run's groups.
  const chosen = toIr(opts.groups ?? topK);
  const common = chosen.filter((p) => official.includes(p));
  // Chance: `chosen.length` of the candidate pairs drawn at random.
  const candidates = diffs.filter((d) => d !== null).length;
  const n = chosen.length, K = official.length;
  let pAtLeast = 0;
  for (let x = common.length; x <= Math.min(n, K); x++) {
    pAtLeast += (binom(K, x) * binom(candidates - K, n - x)) / binom(candidates, n);
  }
  return {
    units: units.length,
    graphUnits: blocks.length,
    invertedResiduals: irs.length,
    capacities: caps,
    differentials: diffs,
    k,
    given: opts.groups !== undefined,
    chosen,
    official,
    common,
    candidates,
    expected: candidates > 0 ? (n * K) / candidates : NaN,
    pAtLeast,
  };
}
