/**
 * Evol-Q — "Jumping through Local Minima: Quantization in the Loss Landscape of Vision
 * Transformers" (Frumkin, Gope, Marculescu, ICCV 2023, arXiv 2308.10814; official code
 * enyac-group/evol-q @ 9a39a35c978f4749ae72ac844e1d9b65527d935c, mode `e2e` of `scripts/run.sh`).
 *
 * 1. **Base (FQ-ViT style, `config_fq.py`)**: per-channel min/max asymmetric weights at the
 *    run's bits (patch embedding and head included, `BIT_TYPE_W`), 8-bit per-tensor activations
 *    at the transformer placement (`methods/_quant/placement.ts`), initialised unit by unit on
 *    calibration data (the L2 histogram search standing in for FQ-ViT's OMSE).
 * 2. **Search (`joint_evol_opt.py`)**: `passes` times, for each attention block from the last to
 *    the first, the concatenated per-channel weight scales of its qkv and proj layers evolve
 *    (population 15, tournament 10 with replacement, 3 cycles, child `|parent + U(−d, d)|`,
 *    d = 1e-3 at 3/4-bit and 1e-4 at 8-bit weights) under the fitness infoNCE (τ = 3) between
 *    the L2-normalised quantized and FP logits of the calibration batches (100 images each);
 *    the block keeps the fittest member. Only the network from the searched block on is run
 *    for a fitness (its prefix values cached once per block): exact, and the saving is recorded.
 * 3. **Selection**: the code evaluates the whole validation set after every block update and
 *    returns its best snapshot (`if i == 0 or top1 > current_top1`, `i` the pass): with
 *    `ctx.evaluate` this run does the same on the run's evaluation images and records it as the
 *    official protocol (selection on the test set); the returned model is the final state (the
 *    test-free protocol, the run's own metrics).
 *
 * Deviations: the `deviations` list of the registry entry below.
 *
 * @module
 */
import { z } from "zod";
import { Random } from "../runtime/mod.ts";
import { commonFields, type Method, parseConfig, type Selection } from "./_quant/config.ts";
import type { EpochAccuracy, MethodContext, MethodResult } from "./_quant/config.ts";
import { runBaseline } from "./_quant/baseline.ts";
import { blockUnits } from "./_quant/units.ts";
import { COMMON_KEYS, describes, ignored, type RecipeKeys, to } from "./_quant/recipe_keys.ts";
import {
  attentionBlocks,
  evolveBlock,
  getScales,
  infoNce,
  setScales,
  splitBatches,
  SuffixRunner,
} from "./_evolq/search.ts";

/** The official number of passes (`--num_passes 10`). */
export const OFFICIAL_PASSES = 10;

const config = z.object({
  ...commonFields,
  wBits: commonFields.wBits,
  aBits: commonFields.aBits.default(8),
  /** FQ-ViT quantizes the patch embedding and the head like every other weight. */
  headStem8bit: z.boolean().default(false),
  /** FQ-ViT's weights: min/max per channel (`OBSERVER_W = 'minmax'`). */
  weightObserver: z.enum(["mse", "minmax"]).default("minmax"),
  /** L2 (OMSE is an L2 clip search); only the activation search uses it with min/max weights. */
  p: z.number().positive().default(2),
  /** Passes over the blocks (`--num_passes`); budgets below `paper` give fewer. */
  passes: z.number().int().positive().default(OFFICIAL_PASSES),
  population: z.number().int().positive().default(15),
  tournament: z.number().int().positive().default(10),
  cycles: z.number().int().positive().default(3),
  /** Perturbation half-width (default: 1e-3 at ≤ 4-bit weights, 1e-4 at 8-bit, `mutate`). */
  delta: z.number().positive().optional(),
  /** infoNCE temperature (`--temp 3.0`). */
  temperature: z.number().positive().default(3),
  /** Fitness: infoNCE (the only loss the released code can run), or MSE of the logits. */
  loss: z.enum(["infonce", "mse"]).default("infonce"),
  /** Calibration images per fitness batch (`--calib-batchsize 100`). */
  calibBatch: z.number().int().positive().default(100),
  /** Run the search; false returns the FQ-ViT-style base alone (the papers' "FQ-ViT" rows). */
  search: z.boolean().default(true),
  /** Evaluate after every block update (the official protocol; needs the run's evaluator). */
  selectOnTest: z.boolean().default(true),
}).strict();

/** One block update of the search (for the fitness-per-step chart). */
export interface EvolStep {
  pass: number;
  block: string;
  /** Fitness of the starting scales, then of each child. */
  fitness: number[];
  best: number;
  /** Fraction of the graph's nodes a fitness evaluation ran (the suffix from the block on). */
  suffixFraction: number;
}

async function runEvolq(ctx: MethodContext, c: z.output<typeof config>): Promise<MethodResult> {
  const log = ctx.log ?? (() => {});
  const base = await runBaseline(ctx, { ...c, actObserver: c.actObserver }, {
    granularity: "block",
    adaround: false,
    lsq: false,
    dropProb: 0,
    inputMixProb: 1,
    noOptimisation: true,
    noLoss: true,
  });
  const model = base.model;
  const graph = model.graph;
  const blocks = attentionBlocks(graph.nodes, blockUnits(graph));
  if (!blocks.length && c.search) {
    throw new RangeError("evolq: the model has no attention block to search");
  }
  const delta = c.delta ?? (c.wBits <= 4 ? 1e-3 : 1e-4);
  const batches = splitBatches(ctx.calib, c.calibBatch);
  const rng = new Random(c.seed, 23);
  const steps: EvolStep[] = [];
  const perStep: EpochAccuracy[] = [];
  let official: (EpochAccuracy & { rule: string }) | undefined;
  const t0 = performance.now();
  let fitnessMs = 0, fitnessCalls = 0, nodesRun = 0;
  try {
    // FP logits of the calibration batches, once (`model_dequant`).
    model.setQuantState(false, false);
    const fpRunner = new SuffixRunner(model, 0, batches);
    fpRunner.prepare();
    const fp = batches.map((_, i) => fpRunner.logits(i));
    fpRunner.dispose();
    model.setQuantState(true, true);
    const classes = fp[0].length / batches[0].shape[0];
    const score = (q: Float32Array, k: Float32Array, n: number) => {
      if (c.loss === "infonce") return infoNce(q, k, n, classes, c.temperature);
      let s = 0;
      for (let i = 0; i < q.length; i++) s += (q[i] - k[i]) ** 2;
      return s / q.length;
    };
    let step = 0;
    for (let pass = 0; pass < (c.search ? c.passes : 0); pass++) {
      for (const b of [...blocks].reverse()) {
        const runner = new SuffixRunner(model, b.start, batches);
        runner.prepare();
        const fitness = (s: Float32Array) => {
          const t = performance.now();
          setScales(model, b.layers, s);
          let sum = 0;
          batches.forEach((x, i) => (sum += score(runner.logits(i), fp[i], x.shape[0])));
          fitnessMs += performance.now() - t;
          fitnessCalls++;
          nodesRun += runner.suffix.length;
          return sum / batches.length;
        };
        const trace = evolveBlock(getScales(model, b.layers), fitness, {
          population: c.population,
          tournament: c.tournament,
          cycles: c.cycles,
          delta,
        }, rng);
        runner.dispose();
        setScales(model, b.layers, trace.scales);
        steps.push({
          pass,
          block: b.unit.name,
          fitness: trace.fitness,
          best: trace.best,
          suffixFraction: runner.suffix.length / graph.nodes.length,
        });
        log(
          `pass ${pass + 1}/${c.passes} ${b.unit.name}: fitness ${trace.fitness[0].toFixed(5)} → ` +
            `${trace.best.toFixed(5)}`,
        );
        if (c.selectOnTest && ctx.evaluate) {
          const acc = { ...(await ctx.evaluate(model)), epoch: step };
          perStep.push(acc);
          if (pass === 0 || !official || acc.top1 > official.top1) {
            official = { ...acc, rule: OFFICIAL_RULE };
          }
        }
        step++;
      }
    }
  } finally {
    for (const x of batches) x.dispose();
  }
  model.setQuantState(true, true);
  const full = fitnessCalls * graph.nodes.length;
  const searchSeconds = (performance.now() - t0) / 1000;
  log(
    `Evol-Q: ${steps.length} block updates, ${fitnessCalls} fitness evaluations in ` +
      `${(fitnessMs / 1000).toFixed(1)} s; the suffix runs ran ${nodesRun} of ${full} nodes ` +
      `(${(100 * (1 - nodesRun / Math.max(1, full))).toFixed(1)} % saved)`,
  );
  const selection: Selection | undefined = perStep.length
    ? {
      perEpoch: perStep,
      official,
      testFree: {
        epoch: perStep.length - 1,
        rule: "the final state after the last block update (no test-set selection)",
      },
    }
    : undefined;
  return {
    model,
    units: base.units,
    config: {
      ...base.config,
      passes: c.passes,
      population: c.population,
      tournament: c.tournament,
      cycles: c.cycles,
      delta,
      temperature: c.temperature,
      loss: c.loss,
      calibBatch: c.calibBatch,
      searchedBlocks: blocks.map((b) => ({ unit: b.unit.name, layers: b.layers })),
      search: {
        seconds: searchSeconds,
        fitnessEvaluations: fitnessCalls,
        fitnessSeconds: fitnessMs / 1000,
        nodesRun,
        nodesFullNetwork: full,
        steps,
      },
    },
    ...(selection ? { selection } : {}),
  };
}

const OFFICIAL_RULE = "the best test top-1 over the block updates, as joint_evol_opt.py keeps " +
  "it (`if i == 0 or top1 > current_top1`, i the pass: every update of the first pass replaces " +
  "the snapshot, later ones only when better)";

/** Recipe keys: the official argparse names (`main.py`) beside the common ones. */
const EVOLQ_KEYS: RecipeKeys = {
  ...COMMON_KEYS,
  lp: describes(2),
  iters: to("passes"),
  search: to("search"),
  num_passes: to("passes"),
  batch: to("calibBatch"),
  pop_size: to("population"),
  num_samples: to("tournament"),
  num_cycles: to("cycles"),
  temp: to("temperature"),
  loss: to("loss", (v) => (v === "contrastive" ? "infonce" : v)),
  ptf: ignored("LayerNorm inputs (the residual stream) are not quantized here (a deviation)"),
  bias_corr: ignored("bias correction is not applied (a deviation)"),
  quant_method: to("actObserver", (v) => (v === "omse" ? "mse" : v)),
};

/** Evol-Q. */
export const evolq: Method<typeof config> = {
  id: "evolq",
  paper: {
    title:
      "Jumping through Local Minima: Quantization in the Loss Landscape of Vision Transformers",
    authors: "Natalia Frumkin, Dibakar Gope, Diana Marculescu",
    venue: "ICCV 2023",
    url: "https://arxiv.org/abs/2308.10814",
    code: "https://github.com/enyac-group/evol-q",
  },
  config,
  deviations: [
    "The FQ-ViT base is partial: activations are 8-bit per-tensor at the inputs of the linear layers and the attention matmuls (LayerNorm outputs, q, kᵀ, softmax, v, the merged heads, the GELU output, the head's input); the residual stream and LayerNorm inputs (FQ-ViT's power-of-two-factor observer), the pre-softmax scores and the linear layers' outputs stay in float; the softmax output is 8-bit uniform (as with log-int-softmax off).",
    "Activation ranges come from the harness's L2 histogram search (p = 2) rather than FQ-ViT's OMSE (90 shrink factors of min/max); the weights' bias correction (`--bias-corr`) is not applied.",
    "Budgets below `paper` run fewer passes (the run's `iters` is the number of passes: 10 at the paper budget, 1 at smoke) on fewer calibration images (smoke: 64, one batch); population, tournament and cycles stay the official 15 / 10 / 3.",
    "The official per-block evaluation uses the run's evaluation images and limit (the test split, or its strided subset at smoke), recorded as the official protocol (selection on the test set); the returned model and the run's metrics are the final state (test-free).",
    "Random draws come from the harness's seeded PCG stream, not numpy / Python `random`: a seed gives the same search here, not the official code's.",
    "Only the network from the searched block on runs for each fitness (the prefix's values are cached once per block): the same logits as the full network, fewer operations.",
    "The MSE/KL/cosine fitnesses the code names are undefined there (`self.mse` etc. never set); MSE of the logits is offered as an option, infoNCE is the default.",
  ],
  recipeKeys: EVOLQ_KEYS,
  run(ctx, raw) {
    return runEvolq(ctx, parseConfig(config, raw, "evolq"));
  },
};
