/**
 * The layer- and block-reconstruction loop shared by every reconstructing method (AdaRound,
 * BRECQ, QDrop, and the hooks PD-Quant and MRECG plug into).
 *
 * For each unit in order:
 * 1. **Cache** the unit's inputs for the whole calibration set twice: from the quantized model
 *    (earlier units quantized and frozen) and from the FP model. Values stream forward: after a
 *    unit, only its escaping outputs are computed (never the whole prefix again), and values no
 *    later node reads are released (`unit_inputs.ts`).
 * 2. **FP targets**: the FP unit's output on its FP inputs, optionally corrected first by a hook
 *    (PD-Quant's distribution correction).
 * 3. **Initialise activation quantizers** of the unit in topological order: the observer (L_p
 *    p = 2.4 search, EMA across batches) sees the unit's values on the first `min(256, N)`
 *    cached quantized inputs, with the upstream quantizers already applied.
 * 4. **Optimise** for `iters` iterations of `batch` random samples: AdaRound `V` (Adam, lr 1e-3)
 *    and the activation steps (Adam, lr 4e-5, cosine to 0) on the reconstruction loss plus
 *    `λ Σ (1 − |2h(V) − 1|^β)` (off during the warm-up, β linear 20 → 2 after it), plus any
 *    extra loss a hook adds. QDrop: each input element is the quantized or the FP input
 *    (`inputMixProb`), and each activation element inside the unit stays float with `dropProb`
 *    (a mode of the forward pass, not a switch on the model).
 * 5. **Freeze**: hard rounding (`V ≥ 0`), steps fixed; report the loss before/after.
 * 6. **Checkpoint** (when asked): quantizers, generators and reports after the unit.
 *
 * Official BRECQ runs the loop twice (`baseline.ts`): `stage: "weights"` skips step 3 and learns
 * the rounding alone with activations in float; after all its activation quantizers are
 * initialised at once, `stage: "acts"` keeps the frozen weights and learns the steps alone, on the
 * FP inputs (`inputMixProb` 0) with the loss `|ŷ − y|^lossP`. `skipUnits` are left unoptimised.
 *
 * Steps 2–5 are `recon_unit.ts`, which builds a unit's context once and runs each iteration as
 * one small step.
 *
 * The reconstruction loss is, by default, the official code's `lp_loss`:
 * `(pred − tgt)².sum(1).mean()`: summed over channels, averaged over the batch and spatial
 * positions (`recLoss: "official"`); `"per-sample"` sums over all features and averages over the
 * batch only (a secondary summary's wording; for conv outputs it is H·W times larger, which
 * weakens the rounding regularizer by that factor).
 *
 * Every per-iteration computation is runtime ops inside one `tidy`; the host reads back only
 * the logged loss every `logEvery` iterations.
 *
 * @module
 */
import { keep, Random, type Tensor } from "../../runtime/mod.ts";
import type { Unit } from "../../models/graph.ts";
import {
  type CheckpointSpec,
  loadCheckpoint,
  type LoopState,
  saveCheckpoint,
} from "./checkpoint.ts";
import type { QuantModel } from "./quantized_model.ts";
import type { ReconHooks, ReconOptions, UnitContext, UnitReport } from "./recon_options.ts";
import { initActQuantizers, type ReconRandom, reconstructUnit } from "./recon_unit.ts";
import { rows, UnitInputs } from "./unit_inputs.ts";

export {
  type IterationContext,
  RECON_DEFAULTS,
  type ReconHooks,
  type ReconOptions,
  type UnitContext,
  type UnitReport,
} from "./recon_options.ts";
export { betaAt, formatSeconds, initActQuantizers, reconLoss } from "./recon_unit.ts";

/**
 * Reconstructs a quantized model unit by unit on calibration images `[N, …]` (the graph's first
 * input). Quantizers of each unit are enabled as it is reached; at the end every quantizer of
 * every unit is enabled and frozen. Returns the per-unit reports.
 */
/** Every activation quantizer initialised on the FP model's stream (all quantizers off). */
async function initOnFpModel(model: QuantModel, images: Tensor, o: ReconOptions): Promise<void> {
  const nodes = model.graph.nodes;
  const order = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((v) => order.set(v, i)));
  const acts = [...model.acts.values()]
    .filter((q) => order.has(q.site.value))
    .sort((a, b) => order.get(a.site.value)! - order.get(b.site.value)!);
  model.setQuantState(false, false);
  await initActQuantizers(model, nodes, acts, { [model.graph.inputs[0].name]: images }, o, false);
}

export async function reconstruct(
  model: QuantModel,
  allImages: Tensor,
  units: Unit[],
  o: ReconOptions,
  hooks: ReconHooks = {},
  log: (msg: string) => void = () => {},
  checkpoint?: CheckpointSpec,
): Promise<UnitReport[]> {
  // Without optimisation (RTN) nothing reads past the images the observers and the loss see:
  // the other unit inputs need not be computed (the same result, in a fraction of the time).
  const used = Math.max(o.actInitSamples, o.evalSamples);
  const idle = o.iters === 0 && !hooks.correctFpInputs && !hooks.extraLoss &&
    allImages.shape[0] > used;
  const images = idle ? keep(rows(allImages, 0, used)) : allImages;
  try {
    return await reconstructOn(model, images, units, o, hooks, log, checkpoint);
  } finally {
    if (images !== allImages) images.dispose();
  }
}

async function reconstructOn(
  model: QuantModel,
  images: Tensor,
  units: Unit[],
  o: ReconOptions,
  hooks: ReconHooks,
  log: (msg: string) => void,
  checkpoint?: CheckpointSpec,
): Promise<UnitReport[]> {
  const rng = new Random(o.seed);
  const random: ReconRandom = { rng, maskRng: rng.fork(7) };
  model.setQuantState(false, false);
  const process = checkpoint?.process ?? { started: new Date().toISOString(), commit: null };
  // Besides the caller's key, a checkpoint must match every option of the loop, the units and
  // the model file (a replaced file starts over).
  const identity = JSON.stringify([
    o,
    units.map((u) => u.name),
    model.graph.source?.sha256 ?? null,
  ]);
  const done = checkpoint ? await resume(checkpoint, model, identity, units, random, log) : null;
  const start = done?.unitsDone ?? 0;
  const reports = [...done?.reports ?? []];
  // QDrop's / MQBench's initialisation: every activation observer at once on the FP model (a
  // resumed run restores the ranges from its checkpoint).
  if (o.actInit === "fp-model" && start === 0) await initOnFpModel(model, images, o);
  const inputs = new UnitInputs(model, images, o.chunk, units.slice(0, start));
  try {
    for (let ui = start; ui < units.length; ui++) {
      const t0 = performance.now();
      const unit = units[ui];
      const ctx: UnitContext = {
        unit,
        index: ui,
        model,
        graph: model.graph,
        ...inputs.enter(unit),
        images,
        options: o,
      };
      const r = await reconstructUnit(ctx, inputs, hooks, random, log);
      inputs.leave(unit);
      reports.push({ ...r, seconds: (performance.now() - t0) / 1000 });
      log(unitLine(ui, units.length, reports.at(-1)!));
      if (checkpoint) {
        await saveCheckpoint(checkpoint, model, identity, {
          unitsDone: ui + 1,
          rng: random.rng.state(),
          maskRng: random.maskRng.state(),
          reports,
          segments: [...done?.segments ?? [], { ...process, from: start, to: ui + 1 }],
        });
      }
    }
  } finally {
    inputs.dispose();
  }
  freezeOutsideUnits(model);
  return reports;
}

/** Weight quantizers in no unit (none with graph-derived units): on, nearest rounding. */
function freezeOutsideUnits(model: QuantModel): void {
  for (const q of model.weights.values()) {
    if (!q.frozen) {
      q.enabled = true;
      model.freezeWeight(q.site.node);
    }
  }
}

/** Restores a matching checkpoint into the model and the generators; null if there is none. */
async function resume(
  checkpoint: CheckpointSpec,
  model: QuantModel,
  identity: string,
  units: Unit[],
  random: ReconRandom,
  log: (msg: string) => void,
): Promise<LoopState | null> {
  const state = await loadCheckpoint(checkpoint, model, identity, log);
  if (!state) return null;
  random.rng.restore(state.rng);
  random.maskRng.restore(state.maskRng);
  log(
    `resumed from a checkpoint in ${checkpoint.dir}: ${state.unitsDone}/${units.length} units done`,
  );
  checkpoint.onResume?.({ unitsDone: state.unitsDone, earlier: state.segments });
  return state;
}

/** The progress line after a unit. */
function unitLine(i: number, n: number, r: UnitReport): string {
  return `unit ${
    i + 1
  }/${n} ${r.name} (${r.kind}, ${r.layers.length} layers, ${r.acts.length} acts): ` +
    (Number.isNaN(r.lossBefore)
      ? "ranges set, no loss computed"
      : `loss ${r.lossBefore.toPrecision(4)} -> ${r.lossAfter.toPrecision(4)}`) +
    ` in ${r.seconds.toFixed(1)} s`;
}
