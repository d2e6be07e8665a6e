/**
 * The layer- and block-reconstruction loop shared by every reconstructing method (AdaRound,
 * BRECQ, QDrop, and the hooks PD-Quant and MRECG plug into).
 *
 * For each unit in order:
 * 1. **Cache** the unit's inputs for the whole calibration set twice: from the quantized model
 *    (earlier units quantized and frozen) and from the FP model. Values stream forward: after a
 *    unit, only its escaping outputs are computed (never the whole prefix again), and values no
 *    later node reads are released.
 * 2. **FP targets**: the FP unit's output on its FP inputs, optionally corrected first by a hook
 *    (PD-Quant's distribution correction).
 * 3. **Initialise activation quantizers** of the unit in topological order: the observer (L_p
 *    p = 2.4 search, EMA across batches) sees the unit's values on the first `min(256, N)`
 *    cached quantized inputs, with the upstream quantizers already applied.
 * 4. **Optimise** for `iters` iterations of `batch` random samples: AdaRound `V` (Adam, lr 1e-3)
 *    and the activation steps (Adam, lr 4e-5, cosine to 0) on the reconstruction loss plus
 *    `λ Σ (1 − |2h(V) − 1|^β)` (off during the warm-up, β linear 20 → 2 after it), plus any
 *    extra loss a hook adds. QDrop: each input element is the quantized or the FP input
 *    (`inputMixProb`), and each activation element inside the unit stays float with `dropProb`.
 * 5. **Freeze**: hard rounding (`V ≥ 0`), steps fixed; report the loss before/after.
 *
 * The reconstruction loss is, by default, the official code's `lp_loss`:
 * `(pred − tgt)².sum(1).mean()`: summed over channels, averaged over the batch and spatial
 * positions (`recLoss: "official"`); `"per-sample"` sums over all features and averages over the
 * batch only (METHODS.md's wording; for conv outputs it is H·W times larger, which weakens the
 * rounding regularizer by that factor).
 *
 * Every per-iteration computation is runtime ops inside one `tidy`; the host reads back only
 * the logged loss every `logEvery` iterations.
 *
 * @module
 */
import {
  Adam,
  adaroundRegularizer,
  add,
  backward,
  concat,
  cosineLr,
  div,
  gather,
  keep,
  mul,
  noGrad,
  Random,
  slice,
  square,
  sub,
  sum,
  type Tensor,
  tidy,
  upload,
  where,
} from "../../runtime/mod.ts";
import { execute, neededNodes } from "../../models/execute.ts";
import type { Graph, Node, Unit } from "../../models/graph.ts";
import { bernoulliMask } from "./mask.ts";
import { ActivationObserver } from "./observers.ts";
import { type CheckpointSpec, loadCheckpoint, saveCheckpoint, type Segment } from "./checkpoint.ts";
import type { ActQuantizer, QuantModel } from "./quantized_model.ts";

/** Options of {@linkcode reconstruct}. Defaults are the official ones. */
export interface ReconOptions {
  /** Iterations per unit (20000). 0: initialise and round to nearest only (RTN). */
  iters: number;
  /** Samples per iteration (32). */
  batch: number;
  /** Optimise AdaRound's `V` (true) or keep nearest rounding (false). */
  adaround: boolean;
  /** Train the activation step sizes (LSQ) of the unit's quantizers. */
  lsq: boolean;
  /** Adam lr of `V` (1e-3, PyTorch's default as in the official code). */
  weightLr: number;
  /** Adam lr of the activation steps (4e-5), cosine to 0 over `iters`. */
  actLr: number;
  /** Rounding regularizer weight λ (0.01 ResNet/RegNet, 0.1 MobileNetV2). */
  lambda: number;
  betaStart: number;
  betaEnd: number;
  /** Fraction of iterations without the regularizer, with β fixed at `betaStart` (0.2). */
  warmup: number;
  /** QDrop: probability that an activation element inside the unit stays in float (0.5; 0 = BRECQ). */
  dropProb: number;
  /** QDrop: probability that an input element takes the quantized value, else the FP one (0.5; 1 = BRECQ). */
  inputMixProb: number;
  recLoss: "official" | "per-sample";
  /** Samples the activation observers see (the first min(256, N)). */
  actInitSamples: number;
  /** Observer batch (256: one batch; the EMA applies across batches). */
  actInitBatch: number;
  /** Rows per forward when caching (memory only; no effect on results). */
  chunk: number;
  /** Samples for the before/after loss report. */
  evalSamples: number;
  logEvery: number;
  seed: number;
}

/** Official defaults (the `paper` budget). */
export const RECON_DEFAULTS: ReconOptions = {
  iters: 20000,
  batch: 32,
  adaround: true,
  lsq: true,
  weightLr: 1e-3,
  actLr: 4e-5,
  lambda: 0.01,
  betaStart: 20,
  betaEnd: 2,
  warmup: 0.2,
  dropProb: 0,
  inputMixProb: 1,
  recLoss: "official",
  actInitSamples: 256,
  actInitBatch: 256,
  chunk: 32,
  evalSamples: 256,
  logEvery: 500,
  seed: 1005,
};

/** What a hook sees of the unit being reconstructed. */
export interface UnitContext {
  unit: Unit;
  index: number;
  model: QuantModel;
  graph: Graph;
  /** Cached inputs `[N, …]` of the unit in the quantized model. */
  quantInputs: Record<string, Tensor>;
  /** Cached FP inputs `[N, …]` (uncorrected). */
  fpInputs: Record<string, Tensor>;
  /** Calibration images `[N, …]`. */
  images: Tensor;
  options: ReconOptions;
}

/** What an extra-loss hook sees at one iteration (all tensors live until the step ends). */
export interface IterationContext extends Omit<UnitContext, "quantInputs" | "fpInputs"> {
  iter: number;
  /** Batch indices into the calibration set (i32 `[B]`). */
  indices: Tensor;
  /** The batch's pure quantized inputs. */
  quantInputs: Record<string, Tensor>;
  /** The batch's FP inputs (corrected, if a correction hook ran). */
  fpInputs: Record<string, Tensor>;
  /** The unit's output on the (mixed) input, with activation drop, as the local loss sees it. */
  output: Tensor;
  /** The FP target of the batch. */
  target: Tensor;
  /** Runs the unit (current soft weights and steps) on given inputs, optionally with drop. */
  runUnit(inputs: Record<string, Tensor>, drop?: boolean): Tensor;
  /**
   * Runs the rest of the network from the unit's output to the graph's first output (later
   * units unquantized; other live values from the quantized stream), with gradients.
   */
  runRest(unitOutput: Tensor): Tensor;
  /** FP logits of the batch's calibration images (computed once for the set, then gathered). */
  fpLogits(): Tensor;
}

/** Hooks that methods add to the loop. */
export interface ReconHooks {
  /** Replaces the FP inputs of a unit (e.g. distribution correction); returns `[N, …]` tensors. */
  correctFpInputs?(ctx: UnitContext): Promise<Record<string, Tensor>> | Record<string, Tensor>;
  /** An extra loss term added to the total at each iteration (return null for none). */
  extraLoss?(ctx: IterationContext): Tensor | null;
}

/** The per-unit report. */
export interface UnitReport {
  name: string;
  kind: Unit["kind"];
  layers: string[];
  acts: string[];
  iters: number;
  /** Reconstruction loss on the first `evalSamples` samples before and after optimisation. */
  lossBefore: number;
  lossAfter: number;
  seconds: number;
}

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

/** The reconstruction loss. */
export function reconLoss(pred: Tensor, target: Tensor, kind: ReconOptions["recLoss"]): Tensor {
  const s = sum(square(sub(pred, target)));
  const denom = kind === "per-sample" ? pred.shape[0] : pred.size / (pred.shape[1] ?? 1);
  return div(s, denom);
}

const rows = (x: Tensor, s: number, e: number) => slice(x, [s], [e], [0]);

/** Runs `fn` over row chunks of `[0, n)` and concatenates each fetched value along axis 0. */
function chunked(
  n: number,
  chunk: number,
  fn: (s: number, e: number) => Record<string, Tensor>,
): Record<string, Tensor> {
  const parts: Record<string, Tensor[]> = {};
  for (let s = 0; s < n; s += chunk) {
    const out = tidy(() => fn(s, Math.min(n, s + chunk)));
    for (const [k, v] of Object.entries(out)) (parts[k] ??= []).push(keep(v));
  }
  const res: Record<string, Tensor> = {};
  for (const [k, ps] of Object.entries(parts)) {
    res[k] = keep(ps.length === 1 ? ps[0] : noGrad(() => concat(ps, 0)));
    if (ps.length > 1) { for (const p of ps) p.dispose(); }
  }
  return res;
}

/** A set of cached `[N, …]` values (one per value name) flowing through the network. */
class Stream {
  readonly values = new Map<string, Tensor>();
  constructor(readonly external: Set<Tensor>) {}
  set(name: string, t: Tensor) {
    const old = this.values.get(name);
    if (old && old !== t && !this.external.has(old)) old.dispose();
    this.values.set(name, t);
  }
  evict(live: (name: string) => boolean) {
    for (const [k, t] of [...this.values]) {
      if (!live(k)) {
        if (!this.external.has(t)) t.dispose();
        this.values.delete(k);
      }
    }
  }
  dispose() {
    this.evict(() => false);
  }
}

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
    const pass = async (s: number, e: number, f: (d: Float32Array) => void) => {
      for (let c = s; c < e; c += o.chunk) {
        const out = tidy(() => {
          const feeds = Object.fromEntries(
            Object.entries(inputs).map(([k, v]) => [k, rows(v, c, Math.min(e, c + o.chunk))]),
          );
          return noGrad(() => model.run({ feeds, fetch, nodes: sub }))[q.site.value];
        });
        const host = await out.data() as Float32Array;
        out.dispose();
        f(host);
      }
    };
    for (let b = 0; b < n; b += o.actInitBatch) {
      const e = Math.min(n, b + o.actInitBatch);
      obs.beginBatch();
      await pass(b, e, (d) => obs.observeRange(d));
      if (obs.needsCounts) {
        obs.beginCounts();
        await pass(b, e, (d) => obs.observeCounts(d));
      }
      obs.endBatch();
    }
    const qp = obs.qparams();
    model.setActParams(q.site.value, qp.scale[0], qp.zeroPoint[0]);
    q.enabled = true;
  }
}

/**
 * Reconstructs a quantized model unit by unit on calibration images `[N, …]` (the graph's first
 * input). Quantizers of each unit are enabled as it is reached; at the end every quantizer of
 * every unit is enabled and frozen. Returns the per-unit reports.
 */
export async function reconstruct(
  model: QuantModel,
  images: Tensor,
  units: Unit[],
  o: ReconOptions,
  hooks: ReconHooks = {},
  log: (msg: string) => void = () => {},
  checkpoint?: CheckpointSpec,
): Promise<UnitReport[]> {
  const g = model.graph;
  const N = images.shape[0];
  const inputName = g.inputs[0].name;
  const outName = g.outputs[0].name;
  const external = new Set([images]);
  const qs = new Stream(external), fs = new Stream(external);
  qs.set(inputName, images);
  fs.set(inputName, images);
  const rng = new Random(o.seed);
  const maskRng = rng.fork(7);
  model.setQuantState(false, false);
  const executed = new Set<Node>();
  const reports: UnitReport[] = [];
  let fpLogitsAll: Tensor | null = null;
  let start = 0;
  let earlier: Segment[] = [];
  const process = checkpoint?.process ?? { started: new Date().toISOString(), commit: null };
  const unitNames = units.map((u) => u.name);
  const ckpt = checkpoint;
  // Besides the caller's key, a checkpoint must match every option of the loop, the units and
  // the model file (a replaced file starts over).
  const identity = JSON.stringify([o, unitNames, g.source?.sha256 ?? null]);
  if (ckpt) {
    const resumed = await loadCheckpoint(ckpt, model, identity, log);
    if (resumed) {
      start = resumed.unitsDone;
      rng.restore(resumed.rng);
      maskRng.restore(resumed.maskRng);
      reports.push(...resumed.reports);
      earlier = resumed.segments;
      for (const u of units.slice(0, start)) for (const n of u.nodes) executed.add(n);
      log(`resumed from a checkpoint in ${ckpt.dir}: ${start}/${units.length} units done`);
      ckpt.onResume?.({ unitsDone: start, earlier });
    }
  }

  const advance = (stream: Stream, names: string[], quant: boolean) => {
    const missing = names.filter((v) => !stream.values.has(v));
    if (!missing.length) return;
    const known = [...stream.values.keys()];
    const nodes = neededNodes(g, missing, known);
    const feedNames = [...new Set(nodes.flatMap((n) => n.inputs))].filter((v) =>
      stream.values.has(v)
    );
    const out = chunked(N, o.chunk, (s, e) => {
      const feeds = Object.fromEntries(
        feedNames.map((v) => [v, rows(stream.values.get(v)!, s, e)]),
      );
      return noGrad(() =>
        quant
          ? model.run({ feeds, fetch: missing, nodes })
          : execute(g, { feeds, fetch: missing, nodes })
      );
    });
    for (const [k, v] of Object.entries(out)) stream.set(k, v);
    for (const n of nodes) executed.add(n);
  };

  for (let ui = start; ui < units.length; ui++) {
    const unit = units[ui];
    const t0 = performance.now();
    advance(qs, unit.inputs, true);
    advance(fs, unit.inputs, false);
    const quantInputs = Object.fromEntries(unit.inputs.map((v) => [v, qs.values.get(v)!]));
    const fpRaw = Object.fromEntries(unit.inputs.map((v) => [v, fs.values.get(v)!]));
    const uctx: UnitContext = {
      unit,
      index: ui,
      model,
      graph: g,
      quantInputs,
      fpInputs: fpRaw,
      images,
      options: o,
    };
    const corrected = hooks.correctFpInputs ? await hooks.correctFpInputs(uctx) : fpRaw;
    const target = chunked(N, o.chunk, (s, e) => {
      const feeds = Object.fromEntries(
        Object.entries(corrected).map(([k, v]) => [k, rows(v, s, e)]),
      );
      return noGrad(() => execute(g, { feeds, nodes: unit.nodes, fetch: [unit.output] }));
    })[unit.output];

    // Quantizers of this unit.
    const inUnit = new Set(unit.nodes.map((n) => n.name));
    const layers = unit.layers.filter((l) => model.weights.has(l));
    const acts = [...model.acts.values()].filter((q) => inUnit.has(q.site.node));
    for (const l of layers) model.weights.get(l)!.enabled = true;
    await initActQuantizers(model, unit.nodes, acts, quantInputs, o);

    const nEval = Math.min(N, o.evalSamples);
    const evalLoss = async () => {
      let acc = 0;
      for (let s = 0; s < nEval; s += o.chunk) {
        const e = Math.min(nEval, s + o.chunk);
        const loss = tidy(() => {
          const feeds = Object.fromEntries(
            Object.entries(quantInputs).map(([k, v]) => [k, rows(v, s, e)]),
          );
          const out = noGrad(() =>
            model.run({ feeds, nodes: unit.nodes, fetch: [unit.output] })
          )[unit.output];
          return noGrad(() =>
            reconLoss(out, rows(target, s, e), o.recLoss)
          );
        });
        acc += (await loss.data())[0] * (e - s);
        loss.dispose();
      }
      return acc / nEval;
    };
    const lossBefore = await evalLoss();

    const optimise = o.iters > 0 &&
      ((o.adaround && layers.length > 0) || (o.lsq && acts.length > 0));
    if (optimise) {
      const vs: Tensor[] = [];
      if (o.adaround) { for (const l of layers) vs.push(await model.startAdaround(l)); }
      const steps = o.lsq ? acts.map((q) => q.scale!.variable()) : [];
      const optW = new Adam(vs, { lr: o.weightLr });
      const optA = new Adam(steps, { lr: cosineLr(o.actLr, o.iters) });
      const graphOut = g.outputs[0].name;
      // The rest of the network, for output-level losses.
      const later = g.nodes.filter((n) => !executed.has(n) && !inUnit.has(n.name));
      const restNodes = neededNodes(g, [graphOut], [unit.output, ...qs.values.keys()])
        .filter((n) => later.includes(n));
      const restFeeds = [...new Set(restNodes.flatMap((n) => n.inputs))]
        .filter((v) => v !== unit.output && qs.values.has(v));

      const tLoop = performance.now();
      for (let it = 0; it < o.iters; it++) {
        const idxHost = Int32Array.from(rng.sample(N, Math.min(o.batch, N)));
        const idx = upload(idxHost, [idxHost.length]);
        const beta = betaAt(it, o);
        const useReg = it >= o.warmup * o.iters;
        const logNow = (it + 1) % o.logEvery === 0 || it === o.iters - 1;
        const recVal = tidy(() => {
          const qIn = Object.fromEntries(
            Object.entries(quantInputs).map(([k, v]) => [k, gather(v, idx, 0)]),
          );
          const fIn = Object.fromEntries(
            Object.entries(corrected).map(([k, v]) => [k, gather(v, idx, 0)]),
          );
          const mixed = o.inputMixProb < 1
            ? Object.fromEntries(
              Object.entries(qIn).map(([k, v]) => [
                k,
                where(bernoulliMask(v, o.inputMixProb, maskRng), v, fIn[k]),
              ]),
            )
            : qIn;
          const runUnit = (inputs: Record<string, Tensor>, drop = true) => {
            model.drop = drop && o.dropProb > 0 ? { prob: o.dropProb, rng: maskRng } : null;
            try {
              return model.run({
                feeds: inputs,
                nodes: unit.nodes,
                fetch: [unit.output],
              })[unit.output];
            } finally {
              model.drop = null;
            }
          };
          const out = runUnit(mixed);
          const tgt = gather(target, idx, 0);
          const rec = reconLoss(out, tgt, o.recLoss);
          let total = rec;
          if (useReg && o.adaround) {
            for (const l of layers) {
              total = add(
                total,
                mul(adaroundRegularizer(model.weights.get(l)!.v!, beta), o.lambda),
              );
            }
          }
          if (hooks.extraLoss) {
            const extra = hooks.extraLoss({
              ...uctx,
              iter: it,
              indices: idx,
              quantInputs: qIn,
              fpInputs: fIn,
              output: out,
              target: tgt,
              runUnit,
              runRest: (value) => {
                const feeds = Object.fromEntries(
                  restFeeds.map((v) => [v, gather(qs.values.get(v)!, idx, 0)]),
                );
                feeds[unit.output] = value;
                return model.run({ feeds, nodes: restNodes, fetch: [graphOut] })[graphOut];
              },
              fpLogits: () => {
                if (!fpLogitsAll) {
                  fpLogitsAll = keep(
                    chunked(
                      N,
                      o.chunk,
                      (s, e) =>
                        noGrad(() =>
                          execute(g, {
                            feeds: { [inputName]: rows(images, s, e) },
                            fetch: [outName],
                          })
                        ),
                    )[outName],
                  );
                }
                return gather(fpLogitsAll, idx, 0);
              },
            });
            if (extra) total = add(total, extra);
          }
          backward(total);
          return logNow ? keep(noGrad(() => add(rec, 0))) : null;
        });
        optW.step();
        optA.step();
        optW.zeroGrad();
        optA.zeroGrad();
        idx.dispose();
        if (recVal) {
          const perIt = (performance.now() - tLoop) / 1000 / (it + 1);
          log(
            `  ${unit.name} iter ${it + 1}/${o.iters} rec ${
              (await recVal.item()).toPrecision(5)
            } β ${beta.toFixed(2)} (${perIt.toFixed(3)} s/it, unit done in ${
              formatSeconds(perIt * (o.iters - it - 1))
            })`,
          );
          recVal.dispose();
        }
      }
      optW.dispose();
      optA.dispose();
      for (const s of steps) {
        s.requiresGrad = false;
        s.grad?.dispose();
        s.grad = null;
      }
    }
    for (const l of layers) model.freezeWeight(l);
    const lossAfter = await evalLoss();

    // Stream forward: the unit's escaping values, quantized (frozen) and FP.
    for (const n of unit.nodes) executed.add(n);
    const remaining = g.nodes.filter((n) => !executed.has(n));
    const liveNames = new Set(remaining.flatMap((n) => n.inputs));
    for (const o2 of g.outputs) liveNames.add(o2.name);
    const escaping = [...new Set(unit.nodes.flatMap((n) => n.outputs))].filter((v) =>
      liveNames.has(v)
    );
    if (escaping.length) {
      const run = (stream: Stream, src: Record<string, Tensor>, quant: boolean) => {
        const out = chunked(N, o.chunk, (s, e) => {
          const feeds = Object.fromEntries(Object.entries(src).map(([k, v]) => [k, rows(v, s, e)]));
          return noGrad(() =>
            quant
              ? model.run({ feeds, nodes: unit.nodes, fetch: escaping })
              : execute(g, { feeds, nodes: unit.nodes, fetch: escaping })
          );
        });
        for (const [k, v] of Object.entries(out)) stream.set(k, v);
      };
      run(qs, quantInputs, true);
      run(fs, fpRaw, false);
    }
    if (corrected !== fpRaw) {
      for (const t of Object.values(corrected)) {
        if (!Object.values(fpRaw).includes(t)) t.dispose();
      }
    }
    target.dispose();
    qs.evict((v) => liveNames.has(v));
    fs.evict((v) => liveNames.has(v));

    const rep: UnitReport = {
      name: unit.name,
      kind: unit.kind,
      layers,
      acts: acts.map((q) => q.site.value),
      iters: optimise ? o.iters : 0,
      lossBefore,
      lossAfter,
      seconds: (performance.now() - t0) / 1000,
    };
    reports.push(rep);
    log(
      `unit ${
        ui + 1
      }/${units.length} ${unit.name} (${unit.kind}, ${layers.length} layers, ${acts.length} acts): ` +
        `loss ${lossBefore.toPrecision(4)} -> ${lossAfter.toPrecision(4)} in ${
          rep.seconds.toFixed(1)
        } s`,
    );
    if (ckpt) {
      await saveCheckpoint(ckpt, model, identity, ui + 1, rng.state(), maskRng.state(), reports, [
        ...earlier,
        { ...process, from: start, to: ui + 1 },
      ]);
    }
  }
  qs.dispose();
  fs.dispose();
  (fpLogitsAll as Tensor | null)?.dispose();
  // Quantizers outside every unit (none with graph-derived units) stay as they are.
  for (const q of model.weights.values()) {
    if (!q.frozen) {
      q.enabled = true;
      model.freezeWeight(q.site.node);
    }
  }
  return reports;
}

/** `75 s`, `12.5 min`, `2.3 h`: a duration for progress lines. */
export function formatSeconds(s: number): string {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
