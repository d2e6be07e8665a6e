/**
 * Evol-Q recipes (version 1): the settings of enyac-group/evol-q @ 9a39a35 (`main.py` argparse
 * defaults, `scripts/run.sh`, `config_fq.py`, `joint_evol_opt.py`), and the FQ-ViT-style base the
 * search starts from (the same pipeline without the search).
 *
 * `iters_per_unit` is the number of passes over the attention blocks (`--num_passes 10`); the
 * smoke budget runs one pass (`smoke_iters`), quick and paper the ten.
 *
 * @module
 */

const RECIPE_VERSION = 1;

const CALIBRATION = {
  n: 1000,
  batch: 100,
  source: "ImageNet train, random_split under the run seed (main.py --calib-size 1000)",
  augment: "none: the model's eval transform (bicubic resize, center crop 0.9 for ViT, 0.875 DeiT)",
};

/** `main.py` / `scripts/run.sh` settings (mode e2e). */
const EVOLQ = {
  per_channel: true,
  symmetric: false,
  weight_observer: "minmax",
  quant_method: "omse",
  ptf: true,
  bias_corr: true,
  pop_size: 15,
  num_samples: 10,
  num_cycles: 3,
  temp: 3.0,
  loss: "contrastive",
};

/** Seeds 0, 1, 2 (the README's "averaged across seeds {0,1,2}"). */
const SEEDS = [0, 1, 2];

const NOTES = [
  "passes, population, tournament, cycles, temperature, loss: main.py argparse defaults and " +
  "joint_evol_opt.py of enyac-group/evol-q @ 9a39a35 (scripts/run.sh, mode e2e)",
  "weights uint{3,4,8} per-channel min/max, activations uint8 OMSE, PTF LayerNorm inputs, bias " +
  "correction: config_fq.py with --ptf --quant-method omse --bias-corr",
  "seeds 0, 1, 2: the README's averaging",
];

function recipe(id: string, cellMethod: string | undefined, search: boolean, notes: string[]) {
  return {
    id: `evolq/${id}`,
    version: RECIPE_VERSION,
    paper: "evolq",
    method: "evolq",
    ...(cellMethod ? { cell_method: cellMethod } : {}),
    archs: ["vit_b"],
    fixed: {
      calibration: CALIBRATION,
      iters_per_unit: 10,
      smoke_iters: 1,
      seeds: SEEDS,
      first_last_8bit: false,
      config: { ...EVOLQ, search },
      scaled_by_budget: [],
    },
    notes: [...NOTES, ...notes],
  };
}

/** Evol-Q and its FQ-ViT-style base. */
export const RECIPES: unknown[] = [
  recipe("evolq@vit_b", undefined, true, [
    "the per-block evaluation (official protocol) runs on the run's evaluation images; both " +
    "protocols are recorded",
  ]),
  recipe("fqvit@vit_b", "fqvit", false, [
    "the FQ-ViT-style base: the same quantizers and initialisation without the search",
  ]),
];
