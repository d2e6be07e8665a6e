/**
 * `deno task scheme-check`: does MRECG's top-k capacity-differential choice reproduce the official
 * MobileNetV2 merge scheme ({@linkcode schemeCheck})? Prints the data-free ModCap of every unit
 * (the official code's 18), the relative differentials of adjacent units, the top-k pairs (or the pairs of `--groups`,
 * the merges a data-dependent MRECG run logged), the official scheme's pairs, the overlap, and the
 * overlap expected by chance.
 *
 * @module
 */
import { parseGroups, schemeCheck } from "../papers/mrecg/scheme_check.ts";
import { parseFlags, run, type TaskSpec, UsageError } from "./_flags.ts";
import { loadModelArg } from "./_input.ts";

/** The flags of `deno task scheme-check`. */
export const SPEC = {
  name: "scheme-check",
  summary: "MRECG's top-k data-free merges (or a run's merges) against the official " +
    "MobileNetV2 merge scheme, and the overlap by chance ([docs/reproduce.md](docs/reproduce.md))",
  flags: [
    {
      name: "model",
      type: "string",
      default: "mobilenet_v2_tf2ptq",
      placeholder: "NAME|FILE.onnx",
      help: "a MobileNetV2: a registry name (models/registry.ts) or an ONNX file",
    },
    {
      name: "k",
      type: "int",
      min: 1,
      help: "how many top pairs to choose (default: the official scheme's 7 merged pairs)",
    },
    {
      name: "groups",
      type: "string",
      placeholder: "I+J[+…],…",
      help: "compare these merged groups instead (unit indices from 0, as an MRECG run " +
        "logs them, e.g. 1+2+3,10+11)",
    },
  ],
  notes: [
    "The official scheme [1, 2, (3,3), 4, (5,5), 6, (7,7,7), (8,8,8), 9, (10,10), 11] counts the " +
    "official code's 18 units: the stem with IR0, IR1 … IR16, the last conv with the " +
    "classifier; pairs are named by inverted-residual indices (IR0 is the first inverted " +
    "residual).",
  ],
} as const satisfies TaskSpec;

/** Prints the comparison; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v } = parseFlags(SPEC, args);
  let groups: number[] | undefined;
  if (v.groups !== undefined) {
    try {
      groups = parseGroups(v.groups);
    } catch (e) {
      throw new UsageError(`--groups: ${(e as Error).message}`, { cause: e });
    }
  }
  const graph = await loadModelArg(v.model);
  const r = schemeCheck(graph, { k: v.k, groups });
  const fmt = (ps: number[]) => ps.map((p) => `IR${p}+IR${p + 1}`).join(", ");
  console.log(
    `${v.model}: ${r.units} units (official partition; ${r.graphUnits} graph blocks), ` +
      `${r.invertedResiduals} inverted residuals`,
  );
  console.log(`data-free ModCap: ${r.capacities.map((c) => Math.round(c)).join(" ")}`);
  console.log(
    `relative differentials: ${
      r.differentials.map((d) => (d === null ? "-" : d.toFixed(2))).join(" ")
    }`,
  );
  console.log(`${r.given ? "pairs given" : `top-${r.k} pairs chosen`}: ${fmt(r.chosen)}`);
  console.log(`official pairs:       ${fmt(r.official)}`);
  console.log(`in common: ${r.common.length} of ${r.official.length} (${fmt(r.common)})`);
  console.log(
    `by chance (${r.chosen.length} of ${r.candidates} candidate pairs at random): ` +
      `${r.expected.toFixed(2)} in common expected, P(≥ ${r.common.length}) = ` +
      r.pAtLeast.toFixed(2),
  );
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
