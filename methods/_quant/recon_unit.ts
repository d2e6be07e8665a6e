/**
 * One unit's reconstruction (steps 2–5 of `recon.ts`): FP targets, activation quantizer
 * initialisation, optimisation of AdaRound `V` and the activation steps, freezing.
 *
 * What stays fixed over a unit's iterations (its quantizers, the optimisers, the QDrop drop mode,
 * the rest of the network, the hooks' unit context) is built once, as a {@linkcode UnitSession};
 * {@linkcode step} is one iteration's loss and backward pass on a batch.
 *
 * @module
 */
import {
  abs,
  Adam,
  adaroundRegularizer,
  add,
  backward,
  cosineLr,
  div,
  gather,
  keep,
  mul,
  noGrad,
  pow,
  type Random,
  square,
  sub,
  sum,
  type Tensor,
  tidy,
  upload,
  where,
} from "../../runtime/mod.ts";
import { execute } from "../../models/execute.ts";
import type { Node } from "../../models/graph.ts";
import { bernoulliMask } from "./mask.ts";
import { ActivationObserver } from "./observers.ts";
import type { ActQuantizer, QuantModel } from "./quantized_model.ts";
import type { ReconHooks, ReconOptions, UnitContext, UnitReport } from "./recon_options.ts";
import { chunked, type RestOfNetwork, rows, type UnitInputs } from "./unit_inputs.ts";

/** β of the rounding regularizer at iteration `it` (LinearTempDecay of the official code). */
export function betaAt(
  it: number,
  o: Pick<ReconOptions, "iters" | "warmup" | "betaStart" | "betaEnd">,
): number {
  const start = o.warmup * o.iters;
  if (it < start) return o.betaStart;
  const rel = (it - start) / Math.max(o.iters - start, 1);
  return o.betaEnd + (o.betaStart - o.betaEnd) * Math.max(0, 1 - rel);
}

/** The reconstruction loss: `|pred − target|^p` (p = 2: the squared error) summed, normalised by `kind`. */
export function reconLoss(
  pred: Tensor,
  target: Tensor,
  kind: ReconOptions["recLoss"],
  p = 2,
): Tensor {
  const d = sub(pred, target);
  const s = sum(p === 2 ? square(d) : pow(abs(d), p));
  const denom = kind === "per-sample" ? pred.shape[0] : pred.size / (pred.shape[1] ?? 1);
  return div(s, denom);
}

/** `75 s`, `12.5 min`, `2.3 h`: a duration for progress lines. */
export function formatSeconds(s: number): string {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** The generators of a reconstruction: batches, and QDrop's masks. */
export interface ReconRandom {
  rng: Random;
  maskRng: Random;
}

/**
 * Reconstructs one unit on its cached inputs: enables its weight quantizers, initialises its
 * activation quantizers, optimises, and freezes its weights. Returns its report (less the time).
 * BRECQ's stages (`o.stage`): `"weights"` leaves the activation quantizers off and optimises the
 * rounding alone; `"acts"` switches on the (already initialised) activation quantizers, keeps
 * the frozen weights and optimises the steps alone.
 */
export async function reconstructUnit(
  ctx: UnitContext,
  inputs: UnitInputs,
  hooks: ReconHooks,
  random: ReconRandom,
  log: (msg: string) => void,
): Promise<Omit<UnitReport, "seconds">> {
  const { model, unit, options: o } = ctx;
  const fpInputs = hooks.correctFpInputs ? await hooks.correctFpInputs(ctx) : ctx.fpInputs;
  // `evalSamples: 0` without iterations (RTN): no FP targets, no loss (NaN in the report).
  const target = o.evalSamples === 0 && o.iters === 0 ? null : fpTargets(ctx, fpInputs);
  const inUnit = new Set(unit.nodes.map((n) => n.name));
  const layers = unit.layers.filter((l) => model.weights.has(l));
  const acts = [...model.acts.values()].filter((q) => inUnit.has(q.site.node));
  for (const l of layers) model.weights.get(l)!.enabled = true;
  if (o.stage === "acts" || (o.actInit === "fp-model" && o.stage !== "weights")) {
    // Initialised beforehand (BRECQ's activation stage; every observer on the FP model).
    for (const q of acts) q.enabled = q.inited;
  } else if (o.stage !== "weights") {
    await initActQuantizers(model, unit.nodes, acts, ctx.quantInputs, o);
  }
  const lossBefore = target ? await evalLoss(ctx, target, fpInputs) : NaN;
  const optimise = o.iters > 0 && !o.skipUnits?.includes(unit.name) &&
    ((trainsRounding(o) && layers.length > 0) || (trainsSteps(o) && acts.length > 0));
  if (optimise) {
    const session = await openSession(ctx, fpInputs, target!, layers, acts, hooks, random, inputs);
    await optimiseUnit(session, random.rng, log);
    closeSession(session);
  }
  if (o.stage !== "acts") { for (const l of layers) model.freezeWeight(l); }
  // Without iterations nothing changed: freezing keeps the nearest rounding the loss saw.
  const lossAfter = o.iters === 0 ? lossBefore : await evalLoss(ctx, target!, fpInputs);
  if (fpInputs !== ctx.fpInputs) {
    const raw = Object.values(ctx.fpInputs);
    for (const t of Object.values(fpInputs)) if (!raw.includes(t)) t.dispose();
  }
  target?.dispose();
  return {
    name: unit.name,
    kind: unit.kind,
    layers,
    acts: acts.map((q) => q.site.value),
    iters: optimise ? o.iters : 0,
    lossBefore,
    lossAfter,
  };
}

/** Whether the rounding `V` is optimised (not in BRECQ's activation stage). */
const trainsRounding = (o: ReconOptions) => o.adaround && o.stage !== "acts";
/** Whether the activation steps are optimised (not in BRECQ's weight stage: FP activations). */
const trainsSteps = (o: ReconOptions) => o.lsq && o.stage !== "weights";

/** What stays fixed over one unit's iterations. */
interface UnitSession {
  ctx: UnitContext;
  /** FP inputs `[N, …]` (corrected, if a hook did) and the FP unit's output on them. */
  fpInputs: Record<string, Tensor>;
  target: Tensor;
  layers: string[];
  /** The activation steps trained with LSQ. */
  steps: Tensor[];
  optW: Adam;
  optA: Adam;
  hooks: ReconHooks;
  maskRng: Random;
  /** The rest of the network after the unit (only with an extra-loss hook). */
  rest: RestOfNetwork | null;
  /** The streams (the calibration set's FP logits, for the extra-loss hook). */
  inputs: UnitInputs;
  /** Runs the unit with the current soft weights and steps; with QDrop's drop unless `drop` is false. */
  runUnit(feeds: Record<string, Tensor>, drop?: boolean): Tensor;
}

/** Starts AdaRound on the unit's layers and makes its steps trainable; builds the session. */
async function openSession(
  ctx: UnitContext,
  fpInputs: Record<string, Tensor>,
  target: Tensor,
  layers: string[],
  acts: ActQuantizer[],
  hooks: ReconHooks,
  random: ReconRandom,
  inputs: UnitInputs,
): Promise<UnitSession> {
  const { model, unit, options: o } = ctx;
  const vs: Tensor[] = [];
  if (trainsRounding(o)) { for (const l of layers) vs.push(await model.startAdaround(l)); }
  const steps = trainsSteps(o) ? acts.map((q) => q.scale!.variable()) : [];
  const drop = o.dropProb > 0 ? { prob: o.dropProb, rng: random.maskRng } : null;
  const fetch = [unit.output];
  return {
    ctx,
    fpInputs,
    target,
    layers,
    steps,
    optW: new Adam(vs, { lr: o.weightLr }),
    optA: new Adam(steps, { lr: cosineLr(o.actLr, o.iters) }),
    hooks,
    maskRng: random.maskRng,
    rest: hooks.extraLoss ? inputs.restAfter(unit) : null,
    inputs,
    runUnit: (feeds, useDrop = true) =>
      model.run({ feeds, nodes: unit.nodes, fetch }, { drop: useDrop ? drop : null })[unit.output],
  };
}

/** Releases the optimisers and fixes the activation steps. */
function closeSession(s: UnitSession): void {
  s.optW.dispose();
  s.optA.dispose();
  for (const t of s.steps) {
    t.requiresGrad = false;
    t.grad?.dispose();
    t.grad = null;
  }
}

/** `iters` steps on random batches; logs the reconstruction loss every `logEvery`. */
async function optimiseUnit(s: UnitSession, rng: Random, log: (msg: string) => void) {
  const { unit, options: o, images } = s.ctx;
  const n = images.shape[0];
  const t0 = performance.now();
  for (let it = 0; it < o.iters; it++) {
    const idxHost = Int32Array.from(rng.sample(n, Math.min(o.batch, n)));
    const idx = upload(idxHost, [idxHost.length]);
    const logNow = (it + 1) % o.logEvery === 0 || it === o.iters - 1;
    const rec = tidy(() => step(s, it, idx, logNow));
    s.optW.step();
    s.optA.step();
    s.optW.zeroGrad();
    s.optA.zeroGrad();
    idx.dispose();
    if (rec) {
      const perIt = (performance.now() - t0) / 1000 / (it + 1);
      const loss = (await rec.item()).toPrecision(5);
      const beta = trainsRounding(o) ? ` β ${betaAt(it, o).toFixed(2)}` : "";
      const left = formatSeconds(perIt * (o.iters - it - 1));
      log(
        `  ${unit.name} iter ${it + 1}/${o.iters} rec ${loss}${beta} ` +
          `(${perIt.toFixed(3)} s/it, unit done in ${left})`,
      );
      rec.dispose();
    }
  }
}

/**
 * One iteration on the batch `idx`: the reconstruction loss of the unit on the (QDrop-mixed)
 * inputs, the rounding regularizer after the warm-up, and the hook's extra loss, backpropagated.
 * Returns the reconstruction loss when `keepRec`. Call inside `tidy`.
 */
function step(s: UnitSession, it: number, idx: Tensor, keepRec: boolean): Tensor | null {
  const { model, options: o } = s.ctx;
  const qIn = gatherRows(s.ctx.quantInputs, idx);
  const fIn = gatherRows(s.fpInputs, idx);
  const mixed = o.inputMixProb <= 0
    ? fIn
    : o.inputMixProb < 1
    ? mixInputs(qIn, fIn, o.inputMixProb, s.maskRng)
    : qIn;
  const out = s.runUnit(mixed);
  const tgt = gather(s.target, idx, 0);
  const rec = reconLoss(out, tgt, o.recLoss, o.lossP);
  let total = rec;
  if (it >= o.warmup * o.iters && trainsRounding(o)) {
    const beta = betaAt(it, o);
    for (const l of s.layers) {
      total = add(total, mul(adaroundRegularizer(model.weights.get(l)!.v!, beta), o.lambda));
    }
  }
  if (s.hooks.extraLoss) {
    const extra = s.hooks.extraLoss({
      ...s.ctx,
      iter: it,
      indices: idx,
      quantInputs: qIn,
      fpInputs: fIn,
      output: out,
      target: tgt,
      runUnit: s.runUnit,
      runRest: (value) => runRest(s, value, idx),
      fpLogits: () => gather(s.inputs.fpLogits(), idx, 0),
    });
    if (extra) total = add(total, extra);
  }
  backward(total);
  return keepRec ? keep(noGrad(() => add(rec, 0))) : null;
}

/** The rest of the network on the unit's output, other values from the batch's quantized stream. */
function runRest(s: UnitSession, unitOutput: Tensor, idx: Tensor): Tensor {
  const { model, unit, graph } = s.ctx;
  const feeds = gatherRows(s.rest!.feeds, idx);
  feeds[unit.output] = unitOutput;
  const out = graph.outputs[0].name;
  return model.run({ feeds, nodes: s.rest!.nodes, fetch: [out] })[out];
}

const gatherRows = (xs: Record<string, Tensor>, idx: Tensor): Record<string, Tensor> =>
  Object.fromEntries(Object.entries(xs).map(([k, v]) => [k, gather(v, idx, 0)]));

/** QDrop's input mixing: each element is the quantized input with probability `p`, else FP. */
function mixInputs(
  quant: Record<string, Tensor>,
  fp: Record<string, Tensor>,
  p: number,
  rng: Random,
): Record<string, Tensor> {
  return Object.fromEntries(
    Object.entries(quant).map(([k, v]) => [k, where(bernoulliMask(v, p, rng), v, fp[k])]),
  );
}

/** The FP unit's output `[N, …]` on the (corrected) FP inputs. */
function fpTargets(ctx: UnitContext, fpInputs: Record<string, Tensor>): Tensor {
  const { graph, unit, images, options: o } = ctx;
  return chunked(images.shape[0], o.chunk, (s, e) => {
    const feeds = Object.fromEntries(
      Object.entries(fpInputs).map(([k, v]) => [k, rows(v, s, e)]),
    );
    return noGrad(() => execute(graph, { feeds, nodes: unit.nodes, fetch: [unit.output] }));
  })[unit.output];
}

/**
 * The reconstruction loss on the first `evalSamples` cached quantized inputs (the FP inputs where
 * the unit is optimised on them alone, `inputMixProb` 0).
 */
async function evalLoss(
  ctx: UnitContext,
  target: Tensor,
  fpInputs: Record<string, Tensor>,
): Promise<number> {
  const { model, unit, images, options: o } = ctx;
  const source = o.inputMixProb <= 0 ? fpInputs : ctx.quantInputs;
  const n = Math.min(images.shape[0], o.evalSamples);
  let acc = 0;
  for (let s = 0; s < n; s += o.chunk) {
    const e = Math.min(n, s + o.chunk);
    const loss = tidy(() => {
      const feeds = Object.fromEntries(
        Object.entries(source).map(([k, v]) => [k, rows(v, s, e)]),
      );
      const out = noGrad(() =>
        model.run({ feeds, nodes: unit.nodes, fetch: [unit.output] })
      )[unit.output];
      return noGrad(() => reconLoss(out, rows(target, s, e), o.recLoss, o.lossP));
    });
    acc += (await loss.data())[0] * (e - s);
    loss.dispose();
  }
  return acc / n;
}

/** Bytes of one activation's values kept between the two passes of its initialisation. */
const KEEP_INIT_BYTES = 768 * 2 ** 20;

/**
 * Initialises activation quantizers (in the given order) from the unit's cached inputs: each
 * observer sees its value with every upstream quantizer already applied.
 */
export async function initActQuantizers(
  model: QuantModel,
  nodes: Node[],
  acts: ActQuantizer[],
  inputs: Record<string, Tensor>,
  o: Pick<ReconOptions, "actInitSamples" | "actInitBatch" | "chunk">,
  /** Switch each quantizer on once initialised (off: every observer sees the float stream). */
  enable = true,
): Promise<void> {
  const n = Math.min(o.actInitSamples, Object.values(inputs)[0].shape[0]);
  for (const q of acts) {
    q.enabled = false;
    const obs = new ActivationObserver({ bits: q.site.bits, symmetric: q.symmetric }, {
      kind: model.actObserver,
      p: model.p,
    });
    const fetch = [q.site.value];
    const pos = nodes.findIndex((nd) => nd.outputs.includes(q.site.value));
    const sub = nodes.slice(0, pos + 1);
    // The range pass keeps copies of the chunks (up to KEEP_INIT_BYTES a batch) for the
    // histogram pass instead of running the subgraph twice; the values are the same.
    let kept: Float32Array[] | null = null;
    const pass = async (s: number, e: number, f: (d: Float32Array) => void) => {
      for (let c = s; c < e; c += o.chunk) {
        const out = tidy(() => {
          const feeds = Object.fromEntries(
            Object.entries(inputs).map(([k, v]) => [k, rows(v, c, Math.min(e, c + o.chunk))]),
          );
          return noGrad(() => model.run({ feeds, fetch, nodes: sub }))[q.site.value];
        });
        const host = await out.data() as Float32Array;
        if (kept && obs.needsCounts) {
          kept.push(host.slice());
          if (kept.length * host.byteLength > KEEP_INIT_BYTES) kept = null;
        }
        out.dispose();
        f(host);
      }
    };
    for (let b = 0; b < n; b += o.actInitBatch) {
      const e = Math.min(n, b + o.actInitBatch);
      obs.beginBatch();
      kept = [];
      await pass(b, e, (d) => obs.observeRange(d));
      if (obs.needsCounts) {
        obs.beginCounts();
        if (kept) { for (const d of kept) obs.observeCounts(d); }
        else await pass(b, e, (d) => obs.observeCounts(d));
      }
      kept = null;
      obs.endBatch();
    }
    const qp = obs.qparams();
    model.setActParams(q.site.value, qp.scale[0], qp.zeroPoint[0]);
    q.enabled = enable;
  }
}
