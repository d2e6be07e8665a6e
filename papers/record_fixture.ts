/**
 * A synthetic result record with sensible defaults, for tests of every layer that reads records
 * (the store, reports, tables).
 *
 * @module
 */
import { RECORD_SCHEMA_VERSION, type ResultRecord } from "./record.ts";
import { PAPERS } from "./registry.ts";

/** The current version of a registered recipe id (1 for ids no paper has). */
function recipeVersion(id: string): number {
  for (const p of Object.values(PAPERS)) {
    const r = p.recipes.find((r) => r.id === id);
    if (r) return r.version;
  }
  return 1;
}

const SHA = "ab".repeat(32);

/** One synthetic record with sensible defaults. */
export function fakeRecord(p: {
  paper?: string;
  cell: string;
  suite: ResultRecord["suite"];
  recipe: string;
  method: string;
  model: string;
  w: number;
  a: number;
  seed: number;
  top1: number;
  fp32: number;
  budget?: ResultRecord["budget"];
  /** Iterations per unit (default 2000) and calibration images (default 4) of the run. */
  iters?: number;
  calibN?: number;
  /** The recipe version (default: the registered recipe's current one). */
  version?: number;
  units?: number[];
}): ResultRecord {
  return {
    schema: RECORD_SCHEMA_VERSION,
    paper: p.paper ?? "pdquant",
    cell: p.cell,
    suite: p.suite,
    recipe: { id: p.recipe, version: p.version ?? recipeVersion(p.recipe) },
    method: p.method,
    model: { name: p.model, sha256: SHA },
    bits: { w: p.w, a: p.a },
    config: { recipe: { iters: p.iters ?? 2000, w_bits: p.w, a_bits: p.a } },
    seed: p.seed,
    calibration: { n: p.calibN ?? 4, hash: "fixture" },
    budget: p.budget ?? "quick",
    backend: "cpu",
    adapter: "onnxruntime-node 1.30.0",
    versions: { ptq_bench: "0123abc", deno: "2.9.6", onnxruntime: "1.30.0" },
    started: `2024-05-0${1 + (p.seed % 7)}T10:00:00.000Z`,
    wall_s: 12.5,
    peak_mem_mb: 300,
    metrics: {
      top1: p.top1,
      top5: Math.min(100, p.top1 + 10),
      ...(p.units
        ? { unit_losses: p.units.map((loss, i) => ({ unit: `unit${i + 1}`, loss })) }
        : {}),
    },
    fp32: { top1: p.fp32 },
    notes: ["synthetic record (test fixture)"],
  };
}
