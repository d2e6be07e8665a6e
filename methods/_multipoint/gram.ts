/**
 * The layer-output error measure: for each quantizable layer, the Gram matrix `H = XᵀX` of its
 * input rows on calibration images (per group of a grouped convolution), so that the output error
 * of a weight change `d` of one output channel is `‖Xd‖² = dᵀHd`. The rows are the layer's FP
 * inputs (the FP model's values), unfolded as the layer reads them (im2col for a 2-D Conv, the
 * feature vector for Gemm / MatMul); at most `maxRows` of them, drawn at random (seeded) across
 * the calibration set.
 *
 * A weight vector here is channel-first: output channel `c`'s `K` weights in the order of its
 * input rows (Conv `[O, I/g, kh, kw]`: `(i, dy, dx)`; Gemm / MatMul: the input feature).
 *
 * @module
 */
import { noGrad, Random, slice, type Tensor, tidy } from "../../runtime/mod.ts";
import type { Graph, Node } from "../../models/graph.ts";
import { execute, spatialPads } from "../../models/execute.ts";
import { weightAxis } from "../_quant/placement.ts";

/** How a layer reads its input. */
export interface LayerGeometry {
  node: Node;
  /** Output channels. */
  channels: number;
  /** Weights per output channel (the length of an input row). */
  K: number;
  groups: number;
  /** The weight tensor's shape and its output-channel axis. */
  shape: number[];
  axis: number;
}

/** The geometry of a Conv (2-D), Gemm or MatMul layer; a RangeError for other layers. */
export function layerGeometry(graph: Graph, node: Node): LayerGeometry {
  const w = graph.initializers.get(node.inputs[1]);
  if (!w) throw new RangeError(`multipoint: layer "${node.name}" has no weight initializer`);
  const shape = [...w.shape];
  if (node.opType === "Conv") {
    if (shape.length !== 4) {
      throw new RangeError(`multipoint: only 2-D Conv is supported ("${node.name}")`);
    }
    const groups = (node.attrs.group as number | undefined) ?? 1;
    return { node, channels: shape[0], K: shape[1] * shape[2] * shape[3], groups, shape, axis: 0 };
  }
  if (node.opType === "Gemm" || node.opType === "MatMul") {
    if (shape.length !== 2) {
      throw new RangeError(`multipoint: ${node.opType} "${node.name}" needs a 2-D weight`);
    }
    if (node.opType === "Gemm" && (node.attrs.transA as number | undefined)) {
      throw new RangeError(`multipoint: Gemm "${node.name}" with transA is not supported`);
    }
    const axis = weightAxis(node, 2);
    return { node, channels: shape[axis], K: shape[1 - axis], groups: 1, shape, axis };
  }
  throw new RangeError(`multipoint: ${node.opType} layers ("${node.name}") are not supported`);
}

/** Channel-first rows `[C, K]` of a weight in its own layout (`axis`). */
export function toRows(data: ArrayLike<number>, g: LayerGeometry): Float32Array {
  const out = new Float32Array(data.length);
  const inner = g.shape.slice(g.axis + 1).reduce((a, b) => a * b, 1);
  const C = g.channels;
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / inner) % C;
    const k = Math.floor(i / (inner * C)) * inner + (i % inner);
    out[c * g.K + k] = data[i];
  }
  return out;
}

/** The inverse of {@linkcode toRows}, for any typed array. */
export function fromRows<T extends Float32Array | Int8Array>(rows: T, g: LayerGeometry): T {
  const out = new (rows.constructor as { new (n: number): T })(rows.length);
  const inner = g.shape.slice(g.axis + 1).reduce((a, b) => a * b, 1);
  const C = g.channels;
  for (let i = 0; i < rows.length; i++) {
    const c = Math.floor(i / inner) % C;
    const k = Math.floor(i / (inner * C)) * inner + (i % inner);
    out[i] = rows[c * g.K + k];
  }
  return out;
}

/** Per-group Gram matrices `K × K` (row-major, symmetric) and the rows they summed. */
export interface LayerGram {
  geometry: LayerGeometry;
  /** One per group; output channel `c` reads `H[floor(c / (C / groups))]`. */
  H: Float64Array[];
  rows: number;
}

/** The Gram matrix channel `c` of a layer reads. */
export function gramOf(g: LayerGram, c: number): Float64Array {
  return g.H[Math.floor(c / (g.geometry.channels / g.geometry.groups))];
}

/** Adds `x xᵀ` (upper triangle) to `H`. */
function addOuter(H: Float64Array, x: Float64Array): void {
  const K = x.length;
  for (let i = 0; i < K; i++) {
    const xi = x[i];
    if (xi === 0) continue;
    const off = i * K;
    for (let j = i; j < K; j++) H[off + j] += xi * x[j];
  }
}

/** Mirrors the upper triangle into the lower one. */
function symmetrise(H: Float64Array, K: number): void {
  for (let i = 0; i < K; i++) for (let j = 0; j < i; j++) H[i * K + j] = H[j * K + i];
}

/** Adds sampled rows of one layer input chunk to the layer's Gram matrices. */
function accumulate(
  gram: LayerGram,
  x: Float32Array,
  xShape: readonly number[],
  take: number,
  rng: Random,
): void {
  const g = gram.geometry, node = g.node;
  if (node.opType !== "Conv") {
    const K = g.K, positions = x.length / K;
    const picks = rng.sample(positions, Math.min(take, positions));
    const row = new Float64Array(K);
    for (const p of picks) {
      for (let k = 0; k < K; k++) row[k] = x[p * K + k];
      addOuter(gram.H[0], row);
    }
    gram.rows += picks.length;
    return;
  }
  const [N, Cin, IH, IW] = xShape;
  const [, cg, kh, kw] = g.shape;
  const a = node.attrs;
  const st = (a.strides as number[] | undefined) ?? [1, 1];
  const dl = (a.dilations as number[] | undefined) ?? [1, 1];
  const pads = spatialPads(a, [IH, IW], [kh, kw], st, dl);
  const OH = Math.floor((IH + pads[0] + pads[2] - dl[0] * (kh - 1) - 1) / st[0]) + 1;
  const OW = Math.floor((IW + pads[1] + pads[3] - dl[1] * (kw - 1) - 1) / st[1]) + 1;
  const positions = N * OH * OW;
  const picks = rng.sample(positions, Math.min(take, positions));
  const row = new Float64Array(g.K);
  for (let grp = 0; grp < g.groups; grp++) {
    for (const p of picks) {
      const n = Math.floor(p / (OH * OW)), oy = Math.floor(p / OW) % OH, ox = p % OW;
      let k = 0;
      for (let ci = 0; ci < cg; ci++) {
        const base = (n * Cin + grp * cg + ci) * IH * IW;
        for (let dy = 0; dy < kh; dy++) {
          const iy = oy * st[0] - pads[0] + dy * dl[0];
          for (let dx = 0; dx < kw; dx++) {
            const ix = ox * st[1] - pads[1] + dx * dl[1];
            row[k++] = iy >= 0 && iy < IH && ix >= 0 && ix < IW ? x[base + iy * IW + ix] : 0;
          }
        }
      }
      addOuter(gram.H[grp], row);
    }
  }
  gram.rows += picks.length;
}

/**
 * The Gram matrices of `layers` from the FP graph on calibration images `[N, …]`, in chunks of
 * `chunk` images; about `maxRows` rows per layer in all (drawn per chunk in proportion).
 */
export async function layerGrams(
  graph: Graph,
  layers: readonly LayerGeometry[],
  calib: Tensor,
  o: { maxRows: number; chunk: number; seed: number },
): Promise<Map<string, LayerGram>> {
  const grams = new Map<string, LayerGram>();
  for (const g of layers) {
    grams.set(g.node.name, {
      geometry: g,
      H: Array.from({ length: g.groups }, () => new Float64Array(g.K * g.K)),
      rows: 0,
    });
  }
  const rng = new Random(o.seed, 91);
  const N = calib.shape[0];
  const input = graph.inputs[0].name;
  const fetch = [...new Set(layers.map((g) => g.node.inputs[0]))];
  for (let s = 0; s < N; s += o.chunk) {
    const e = Math.min(N, s + o.chunk);
    const take = Math.ceil((o.maxRows * (e - s)) / N);
    const outs = noGrad(() =>
      tidy(() => {
        const x = slice(calib, [s], [e], [0]);
        return execute(graph, { feeds: { [input]: x }, fetch });
      })
    );
    try {
      const host = new Map<string, { data: Float32Array; shape: number[] }>();
      for (const v of fetch) {
        host.set(v, { data: Float32Array.from(await outs[v].data()), shape: [...outs[v].shape] });
      }
      for (const g of layers) {
        const x = host.get(g.node.inputs[0])!;
        accumulate(grams.get(g.node.name)!, x.data, x.shape, take, rng);
      }
    } finally {
      for (const t of Object.values(outs)) t.dispose();
    }
  }
  for (const gram of grams.values()) for (const H of gram.H) symmetrise(H, gram.geometry.K);
  return grams;
}
