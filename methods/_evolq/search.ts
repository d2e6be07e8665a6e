/**
 * Evol-Q's block-wise evolutionary search over weight scales (internal to `methods/evolq.ts`),
 * after enyac-group/evol-q @ 9a39a35c978f4749ae72ac844e1d9b65527d935c `joint_evol_opt.py`
 * (`JointQuantization.opt`, `evolutionary_algorithm`, `mutate`, `loss`) and `utils.py`
 * (`contrastive_loss`).
 *
 * - {@linkcode infoNce}: the fitness, `CE(q̂·k̂ᵀ / τ, diag) · 2τ` between the L2-normalised
 *   quantized logits `q` and FP logits `k` of one batch (the other images of the batch are the
 *   negatives), averaged over the calibration batches.
 * - {@linkcode attentionBlocks}: per transformer unit, the weight quantizers the code searches
 *   (its `QLinear`s inside the attention module: qkv and proj).
 * - {@linkcode SuffixRunner}: the network's logits from a block on, with the prefix's values
 *   cached once per block (the prefix does not change while a block is searched): exact, since
 *   it runs the same nodes on the same values.
 * - {@linkcode evolveBlock}: population of copies of the current scales, tournament selection
 *   with replacement, child `|parent + U(−d, d)|`, the worst member dropped each cycle.
 *
 * @module
 */
import { keep, noGrad, type Random, type Tensor, tidy, upload } from "../../runtime/mod.ts";
import { rows } from "../_quant/unit_inputs.ts";
import type { Node, Unit } from "../../models/graph.ts";
import type { QuantModel, WeightQuantizer } from "../_quant/quantized_model.ts";

/**
 * infoNCE between quantized logits `q` and FP logits `k` (`[n, c]` row-major), as
 * `contrastive_loss(q, k, T)` computes it: rows L2-normalised (`F.normalize`, eps 1e-12),
 * similarities `q̂ k̂ᵀ / T`, cross-entropy with image i's own FP logits as its positive, times 2T.
 */
export function infoNce(q: Float32Array, k: Float32Array, n: number, c: number, t: number): number {
  const norm = (x: Float32Array) => {
    const out = new Float64Array(x.length);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < c; j++) s += x[i * c + j] ** 2;
      const d = Math.max(Math.sqrt(s), 1e-12);
      for (let j = 0; j < c; j++) out[i * c + j] = x[i * c + j] / d;
    }
    return out;
  };
  const qn = norm(q), kn = norm(k);
  let loss = 0;
  const row = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let m = 0; m < n; m++) {
      let s = 0;
      for (let j = 0; j < c; j++) s += qn[i * c + j] * kn[m * c + j];
      row[m] = s / t;
      if (row[m] > max) max = row[m];
    }
    let z = 0;
    for (let m = 0; m < n; m++) z += Math.exp(row[m] - max);
    loss += max + Math.log(z) - row[i];
  }
  return (loss / n) * 2 * t;
}

/** A searched block: its unit and the weight quantizers whose scales are searched. */
export interface SearchBlock {
  unit: Unit;
  /** Node names of the searched layers (qkv before the softmax, proj after it). */
  layers: string[];
  /** Index of the unit's first node in the graph's node list (where its suffix starts). */
  start: number;
}

/**
 * The attention blocks of a model, first to last: each transformer unit's layers before its
 * (first) Softmax — the qkv projection(s) — and the first layer after its last Softmax — the
 * output projection — i.e. the `QLinear`s of the official `Attention_ViT`; the MLP is not searched.
 */
export function attentionBlocks(nodes: readonly Node[], units: readonly Unit[]): SearchBlock[] {
  const pos = new Map(nodes.map((n, i) => [n.name, i]));
  const out: SearchBlock[] = [];
  for (const u of units) {
    if (u.kind !== "transformer") continue;
    const soft = u.nodes.filter((n) => n.opType === "Softmax").map((n) => pos.get(n.name)!);
    if (!soft.length) continue;
    const first = Math.min(...soft), last = Math.max(...soft);
    const before = u.layers.filter((l) => pos.get(l)! < first);
    const after = u.layers.find((l) => pos.get(l)! > last);
    out.push({
      unit: u,
      layers: after ? [...before, after] : before,
      start: pos.get(u.nodes[0].name)!,
    });
  }
  return out;
}

/** The concatenated per-channel scales of a block's weight quantizers (host copies). */
export function getScales(model: QuantModel, layers: readonly string[]): Float32Array {
  const parts = layers.map((l) => model.weights.get(l)!.qparams.scale);
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
}

/**
 * Sets a block's scales (zero points unchanged, as the official `set_scales` replaces only
 * `quantizer.scale`) and re-freezes each weight by nearest rounding on the new grid.
 */
export function setScales(model: QuantModel, layers: readonly string[], s: Float32Array): void {
  let o = 0;
  for (const l of layers) {
    const q: WeightQuantizer = model.weights.get(l)!;
    const c = q.qparams.scale.length;
    const part = Float32Array.from(s.subarray(o, o + c));
    o += c;
    const shape = [...q.scale.shape];
    const backend = q.scale.backend;
    q.scale.dispose();
    q.scale = keep(upload(part, shape, backend));
    q.qparams = { ...q.qparams, scale: part };
    q.frozen?.dispose();
    q.frozen = null;
    model.freezeWeight(l);
  }
  if (o !== s.length) throw new RangeError(`setScales: ${s.length} scales for ${o} channels`);
}

/** The network's logits from node `start` on, over fixed calibration batches. */
export class SuffixRunner {
  /** Per batch, the values the suffix reads from the prefix (kept tensors). */
  #cache: Record<string, Tensor>[] = [];
  readonly suffix: Node[];
  readonly boundary: string[];

  constructor(
    readonly model: QuantModel,
    readonly start: number,
    readonly batches: readonly Tensor[],
  ) {
    const nodes = model.graph.nodes;
    this.suffix = nodes.slice(start);
    const produced = new Map<string, number>();
    nodes.forEach((n, i) => n.outputs.forEach((v) => produced.set(v, i)));
    const inputs = new Set(model.graph.inputs.map((i) => i.name));
    const b = new Set<string>();
    for (const n of this.suffix) {
      for (const v of n.inputs) {
        if (!v) continue;
        const p = produced.get(v);
        if ((p !== undefined && p < start) || (p === undefined && inputs.has(v))) b.add(v);
      }
    }
    this.boundary = [...b];
  }

  /** Runs the prefix once per batch with the quantizers as they are now, keeping its values. */
  prepare(): void {
    this.dispose();
    const input = this.model.graph.inputs[0].name;
    const prefix = this.model.graph.nodes.slice(0, this.start);
    for (const x of this.batches) {
      const vals = noGrad(() =>
        tidy(() => {
          const fed = this.boundary.filter((v) => v !== input);
          const r = fed.length
            ? this.model.run({ feeds: { [input]: x }, fetch: fed, nodes: prefix })
            : {};
          return Object.fromEntries(this.boundary.map((v) => [v, v === input ? x : r[v]]));
        })
      );
      this.#cache.push(
        Object.fromEntries(
          Object.entries(vals).map(([k, v]) => [k, v === x ? v : keep(v)]),
        ),
      );
    }
  }

  /** The logits of batch `i` from the cached prefix values (host copy). */
  logits(i: number): Float32Array {
    const out = this.model.graph.outputs[0].name;
    return noGrad(() =>
      tidy(() => {
        const y = this.model.run({ feeds: this.#cache[i], fetch: [out], nodes: this.suffix })[out];
        return Float32Array.from(y.dataSync() as Float32Array);
      })
    );
  }

  /** Releases the cached prefix values (not the batches). */
  dispose(): void {
    const own = new Set(this.batches);
    for (const c of this.#cache) for (const t of Object.values(c)) if (!own.has(t)) t.dispose();
    this.#cache = [];
  }
}

/** Splits `[N, …]` into kept batches of at most `size` rows. */
export function splitBatches(x: Tensor, size: number): Tensor[] {
  const out: Tensor[] = [];
  for (let s = 0; s < x.shape[0]; s += size) {
    out.push(keep(rows(x, s, Math.min(x.shape[0], s + size))));
  }
  return out;
}

/** The search's settings for one block. */
export interface EvolveOptions {
  population: number;
  tournament: number;
  cycles: number;
  /** Half-width of the uniform perturbation. */
  delta: number;
}

/** One block's search: the fitness of every evaluated member, in order, and the winner. */
export interface EvolveTrace {
  /** Fitness of the initial scales, then of each child. */
  fitness: number[];
  best: number;
  scales: Float32Array;
}

/**
 * The official `evolutionary_algorithm`: a population of `population` copies of (fitness(s), s);
 * `cycles` times, draw `tournament` members with replacement, take the fittest as the parent,
 * evaluate the child `|parent + U(−δ, δ)|` (in float32, as the scales are stored), add it and
 * drop the worst (a stable sort: among equal losses the newest goes); return the fittest.
 */
export function evolveBlock(
  init: Float32Array,
  fitness: (s: Float32Array) => number,
  o: EvolveOptions,
  rng: Random,
): EvolveTrace {
  const f0 = fitness(init);
  let pop: { f: number; s: Float32Array }[] = Array.from(
    { length: o.population },
    () => ({ f: f0, s: init }),
  );
  const trace = [f0];
  for (let k = 0; k < o.cycles; k++) {
    let parent = pop[rng.int(pop.length)];
    for (let i = 1; i < o.tournament; i++) {
      const m = pop[rng.int(pop.length)];
      if (m.f < parent.f) parent = m;
    }
    const child = new Float32Array(parent.s.length);
    for (let i = 0; i < child.length; i++) {
      child[i] = Math.abs(parent.s[i] + (rng.uniform() * 2 - 1) * o.delta);
    }
    const f = fitness(child);
    trace.push(f);
    pop.push({ f, s: child });
    pop = pop.map((m, i) => ({ m, i })).sort((a, b) => a.m.f - b.m.f || a.i - b.i).map((x) => x.m);
    pop.pop();
  }
  return { fitness: trace, best: pop[0].f, scales: pop[0].s };
}
