/**
 * Does MRECG's top-k capacity-differential choice reproduce the official merge scheme?
 * ({@linkcode schemeCheck}; the command is `deno task scheme-check`, `cli/scheme_check.ts`.)
 *
 * Computes the data-free ModCap of every graph unit of a MobileNetV2 (W4, first/last 8-bit),
 * picks the top-k adjacent pairs, and compares them with the official MobileNetV2 scheme
 * `[1, 2, (3,3), 4, (5,5), 6, (7,7,7), (8,8,8), 9, (10,10), 11]`, read as 18 units = stem + 17
 * inverted residuals (an assumption: the official unit list is not in the official configs).
 * Pairs are compared in inverted-residual indices. Given `groups`, it compares the merges of a
 * data-dependent MRECG run instead (as its log prints them: graph-unit indices from 0, e.g.
 * `1+2+3,10+11`). The overlap is set against chance: the expected overlap of k pairs drawn at
 * random from the candidate pairs, and the hypergeometric probability of at least the observed
 * overlap.
 *
 * @module
 */
import { foldBatchNorm, type Graph, reconstructionUnits } from "../../models/mod.ts";
import { dataFreeCapacity, schemeGroups, topKPairs } from "../../methods/mrecg.ts";
import { SCHEMES } from "./recipes.ts";

/** The official MobileNetV2 merge scheme (`bytedance/MRECG` configs; the recipes' own). */
export const OFFICIAL_MBV2: (number | number[])[] = SCHEMES.mobilenetv2;

/** The official scheme's unit count, read as stem + 17 inverted residuals. */
const OFFICIAL_UNITS = 18;

/** What {@linkcode schemeCheck} found; pairs are inverted-residual indices of their first member. */
export interface SchemeCheck {
  /** Graph units. */
  units: number;
  /** Inverted residuals among them. */
  invertedResiduals: number;
  /** The data-free ModCap of every graph unit. */
  capacities: number[];
  /** The relative differential of each adjacent pair of graph units (null: not a candidate). */
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
  /** Adjacent inverted-residual pairs: the candidates. */
  candidates: number;
  /** The overlap expected when `chosen.length` candidate pairs are drawn at random. */
  expected: number;
  /** The probability of at least `common.length` in common by chance (hypergeometric). */
  pAtLeast: number;
}

/**
 * Parses merged groups as an MRECG run logs them (`1+2+3,10+11`: graph-unit indices from 0,
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
 * merges of `groups` (pairs as {@linkcode parseGroups} gives them), with the official MobileNetV2
 * scheme. `graph` is the unfolded model; BN is folded here.
 */
export function schemeCheck(
  graph: Graph,
  opts: { k?: number; groups?: number[] } = {},
): SchemeCheck {
  const folded = foldBatchNorm(graph).graph;
  const units = reconstructionUnits(folded);
  const ir = units.flatMap((u, i) => (u.kind === "inverted-residual" ? [i] : []));
  const caps = units.map((u, i) =>
    dataFreeCapacity(folded, u, () => (i === 0 || i === units.length - 1 ? 8 : 4))
  );
  // Official pairs in IR indices: official unit j (0-based) is IR j-1.
  const official = schemeGroups(OFFICIAL_MBV2, OFFICIAL_UNITS)
    .flatMap((g) => g.slice(0, -1).map((j) => j - 1));
  const k = opts.k ?? official.length;
  const { diffs, pairs: topK } = topKPairs(units, caps, k);
  // Pairs as graph-unit indices of their first member: the top-k data-free ones, or a run's groups.
  const pairs = opts.groups ?? topK;
  const chosen = pairs.map((p) => ir.indexOf(p)).filter((i) => i >= 0);
  const common = chosen.filter((p) => official.includes(p));
  // Chance: `chosen.length` of the candidate pairs (adjacent inverted residuals) drawn at random.
  const candidates = Math.max(0, ir.length - 1);
  const n = chosen.length, K = official.length;
  let pAtLeast = 0;
  for (let x = common.length; x <= Math.min(n, K); x++) {
    pAtLeast += (binom(K, x) * binom(candidates - K, n - x)) / binom(candidates, n);
  }
  return {
    units: units.length,
    invertedResiduals: ir.length,
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
