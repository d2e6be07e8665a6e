/**
 * The stream of unit inputs of a reconstruction: the calibration set's values `[N, …]` flowing
 * through the quantized model (earlier units quantized and frozen) and through the FP model, side
 * by side. Before a unit, only its missing inputs are computed; after it, only its escaping
 * outputs (never the whole prefix again), and values no later node reads are released. Every
 * forward runs in row chunks (`chunk`, memory only).
 *
 * @module
 */
import { concat, keep, noGrad, slice, type Tensor, tidy } from "../../runtime/mod.ts";
import { execute, neededNodes } from "../../models/execute.ts";
import type { Graph, Node, Unit } from "../../models/graph.ts";
import type { QuantModel } from "./quantized_model.ts";

/** Rows `[s, e)` of `x` along axis 0. */
export const rows = (x: Tensor, s: number, e: number): Tensor => slice(x, [s], [e], [0]);

/** Runs `fn` over row chunks of `[0, n)` and concatenates each fetched value along axis 0. */
export function chunked(
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
  pick(names: string[]): Record<string, Tensor> {
    return Object.fromEntries(names.map((v) => [v, this.values.get(v)!]));
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

/** The rest of the network after a unit, for output-level losses. */
export interface RestOfNetwork {
  /** The nodes from the unit's output to the graph's first output, in graph order. */
  nodes: Node[];
  /** The other values they read, `[N, …]` from the quantized stream. */
  feeds: Record<string, Tensor>;
}

/** The quantized and FP streams of one reconstruction, unit by unit. */
export class UnitInputs {
  readonly #model: QuantModel;
  readonly #graph: Graph;
  readonly #images: Tensor;
  readonly #chunk: number;
  readonly #quant: Stream;
  readonly #fp: Stream;
  /** Nodes whose outputs are (or were) computed in the streams. */
  readonly #executed = new Set<Node>();
  #fpLogits: Tensor | null = null;

  /** Streams from the calibration images; the nodes of `done` units count as computed. */
  constructor(model: QuantModel, images: Tensor, chunk: number, done: Unit[]) {
    this.#model = model;
    this.#graph = model.graph;
    this.#images = images;
    this.#chunk = chunk;
    const external = new Set([images]);
    this.#quant = new Stream(external);
    this.#fp = new Stream(external);
    const input = this.#graph.inputs[0].name;
    this.#quant.set(input, images);
    this.#fp.set(input, images);
    for (const u of done) for (const n of u.nodes) this.#executed.add(n);
  }

  /** The unit's cached inputs `[N, …]` in both streams, computing those not cached yet. */
  enter(unit: Unit): { quantInputs: Record<string, Tensor>; fpInputs: Record<string, Tensor> } {
    this.#advance(this.#quant, unit.inputs, true);
    this.#advance(this.#fp, unit.inputs, false);
    return { quantInputs: this.#quant.pick(unit.inputs), fpInputs: this.#fp.pick(unit.inputs) };
  }

  /**
   * The rest of the network after `unit` (between {@linkcode enter} and {@linkcode leave}):
   * nodes not computed yet, outside the unit, fed from the quantized stream.
   */
  restAfter(unit: Unit): RestOfNetwork {
    const g = this.#graph;
    const inUnit = new Set(unit.nodes.map((n) => n.name));
    const later = g.nodes.filter((n) => !this.#executed.has(n) && !inUnit.has(n.name));
    const nodes = neededNodes(g, [g.outputs[0].name], [unit.output, ...this.#quant.values.keys()])
      .filter((n) => later.includes(n));
    const feeds = [...new Set(nodes.flatMap((n) => n.inputs))]
      .filter((v) => v !== unit.output && this.#quant.values.has(v));
    return { nodes, feeds: this.#quant.pick(feeds) };
  }

  /** FP logits `[N, …]` of the calibration images (the graph's first output), computed once. */
  fpLogits(): Tensor {
    if (!this.#fpLogits) {
      const g = this.#graph, input = g.inputs[0].name, out = g.outputs[0].name;
      this.#fpLogits = keep(
        chunked(
          this.#images.shape[0],
          this.#chunk,
          (s, e) =>
            noGrad(() =>
              execute(g, { feeds: { [input]: rows(this.#images, s, e) }, fetch: [out] })
            ),
        )[out],
      );
    }
    return this.#fpLogits;
  }

  /**
   * After the unit is frozen: computes its escaping outputs in both streams (quantized, then
   * FP) and releases the values no later node reads.
   */
  leave(unit: Unit): void {
    const g = this.#graph;
    for (const n of unit.nodes) this.#executed.add(n);
    const live = new Set(g.nodes.filter((n) => !this.#executed.has(n)).flatMap((n) => n.inputs));
    for (const o of g.outputs) live.add(o.name);
    const escaping = [...new Set(unit.nodes.flatMap((n) => n.outputs))].filter((v) => live.has(v));
    if (escaping.length) {
      const quantIn = this.#quant.pick(unit.inputs), fpIn = this.#fp.pick(unit.inputs);
      this.#forward(this.#quant, quantIn, unit.nodes, escaping, true);
      this.#forward(this.#fp, fpIn, unit.nodes, escaping, false);
    }
    this.#quant.evict((v) => live.has(v));
    this.#fp.evict((v) => live.has(v));
  }

  /** Releases every cached value (not the images). */
  dispose(): void {
    this.#quant.dispose();
    this.#fp.dispose();
    this.#fpLogits?.dispose();
    this.#fpLogits = null;
  }

  /** Computes the `names` a stream lacks from the values it has. */
  #advance(stream: Stream, names: string[], quant: boolean): void {
    const missing = names.filter((v) => !stream.values.has(v));
    if (!missing.length) return;
    const nodes = neededNodes(this.#graph, missing, [...stream.values.keys()]);
    const feedNames = [...new Set(nodes.flatMap((n) => n.inputs))].filter((v) =>
      stream.values.has(v)
    );
    this.#forward(stream, stream.pick(feedNames), nodes, missing, quant);
    for (const n of nodes) this.#executed.add(n);
  }

  /** Runs `nodes` on `src` in row chunks and stores the `fetch`ed values in `stream`. */
  #forward(
    stream: Stream,
    src: Record<string, Tensor>,
    nodes: Node[],
    fetch: string[],
    quant: boolean,
  ): void {
    const out = chunked(this.#images.shape[0], this.#chunk, (s, e) => {
      const feeds = Object.fromEntries(Object.entries(src).map(([k, v]) => [k, rows(v, s, e)]));
      return noGrad(() =>
        quant
          ? this.#model.run({ feeds, fetch, nodes })
          : execute(this.#graph, { feeds, fetch, nodes })
      );
    });
    for (const [k, v] of Object.entries(out)) stream.set(k, v);
  }
}
