/**
 * Multipoint recipes (version 1). No official code exists and the paper's hyper-parameters were
 * not read: every fixed value here is ptq-bench's assumption, named as such in `notes` (the
 * method entries list the design choices as deviations).
 *
 * @module
 */

/** Version 1: the first implementation (session of issue 24). */
const RECIPE_VERSION = 1;

const CALIBRATION = {
  n: 1024,
  batch: 32,
  source:
    "assumed: the paper's calibration set is unknown (a seeded sample of the suite's training images)",
  augment: "none",
};

/** Settings the three equal-memory schemes share. */
const SHARED = {
  memory_overhead: 0.1,
  calib_rows: 2048,
  per_channel: true,
  symmetric: true,
  bn_fold: true,
};

const NOTES = [
  "assumed: the memory budget is 10 % over the cell's bits per weight (memory_overhead 0.1) for every scheme, so that multipoint, mixed precision and OCS run at equal memory; the paper's overhead is unknown",
  "assumed: 1,024 calibration images and seed 1005 (the harness's defaults); the paper's are unknown",
  "iters_per_unit is 1 only because the schema needs a value: none of these methods takes gradient steps",
];

function recipe(method: string, archs: string[], config: object, notes: string[] = []) {
  return {
    id: `multipoint/${method}`,
    version: RECIPE_VERSION,
    paper: "multipoint",
    method,
    archs,
    fixed: {
      calibration: CALIBRATION,
      iters_per_unit: 1,
      seeds: [1005],
      first_last_8bit: true,
      config: { ...SHARED, ...config },
      scaled_by_budget: [],
    },
    notes: [...NOTES, ...notes],
  };
}

/** The paper's method and its mixed-precision baseline (the cells the summary gives). */
export const RECIPES: unknown[] = [
  recipe("multipoint", ["resnet101", "mobilenetv2"], {
    max_points: 4,
    scale_fit: "weight",
    allocation: "output-error",
  }, [
    "assumed: at most 4 points per channel, scales refitted on the weights, extra points by output error",
  ]),
  recipe("mixed-precision", ["resnet101"], {}, [
    "assumed: bits per layer from 3 (wBits − 1) to 8, chosen greedily from the relative output error",
  ]),
];
