/**
 * A quantized model: a {@linkcode Graph} plus per-layer weight quantizers and per-value
 * activation quantizers, run through `models/execute.ts` with its `param` / `output` hooks.
 *
 * - Weight quantizer: per-channel scale and zero point (from an observer), an optional AdaRound
 *   variable `V` (soft rounding while it is optimised), and, once frozen, the cached quantized
 *   weight (hard rounding, or nearest rounding for RTN).
 * - Activation quantizer: per-tensor scale (a trainable leaf, LSQ) and a fixed zero point.
 * - Bias (`biasRounding: "int32"`, the default): a Conv/Gemm whose input and weight are both
 *   quantized adds its bias on the int32 accumulator grid, `clamp(round(b / s)) · s` with
 *   `s = s_x · s_w[c]` per output channel (round half to even, in float32), as every integer
 *   kernel does and as onnxruntime does to a float bias when it fuses the QDQ export into
 *   QLinearConv (see {@linkcode QuantModel.intBias}). `"float"` keeps the float bias (the official
 *   codes' fake-quant model).
 * - Each quantizer can be switched off (FP mode); `setQuantState` switches them all.
 * - QDrop: a forward pass run with a `drop` mode ({@linkcode RunMode}) leaves each element of a
 *   quantized activation in float with probability `drop.prob` (a seeded mask); the model itself
 *   holds no such switch.
 *
 * @module
 */
import {
  adaroundWeight,
  clip,
  detach,
  div,
  fakeQuant,
  keep,
  mul,
  noGrad,
  type Random,
  reshape,
  roundSte,
  type Tensor,
  tidy,
  upload,
} from "../../runtime/mod.ts";
import { adaroundInit } from "../../runtime/mod.ts";
import type { ExecuteOptions, Graph, Node } from "../../models/graph.ts";
import { execute } from "../../models/execute.ts";
import { type ObserverKind, type WeightObserverKind, weightQParams } from "./observers.ts";
import { type ActSite, consumersOf, type Placement, type WeightSite } from "./placement.ts";
import { type QParams, qrange } from "./scheme.ts";

/** The state of one weight quantizer. */
export interface WeightQuantizer {
  site: WeightSite;
  symmetric: boolean;
  qmin: number;
  qmax: number;
  /** Host copies of the per-channel parameters. */
  qparams: QParams;
  /** Broadcastable device copies (e.g. `[C, 1, 1, 1]`). */
  scale: Tensor;
  zeroPoint: Tensor;
  /** AdaRound variable while the layer is being reconstructed. */
  v: Tensor | null;
  /** The frozen quantized weight (float values on the grid), once decided. */
  frozen: Tensor | null;
  enabled: boolean;
  /**
   * A weight given as a sum of same-bit symmetric points (multipoint quantization, and its
   * baselines in the same form; {@linkcode QuantModel.setPoints}): `frozen` is their float32 sum,
   * and the QDQ export writes one DequantizeLinear per point, added before the layer.
   */
  points?: WeightPoints;
}

/**
 * A weight as `Σᵢ DQ(intsᵢ, scalesᵢ)`: per point, integers in the weight's own layout (zero point
 * 0) and one scale per output channel (`site.axis`). Every point has the same bits.
 */
export interface WeightPoints {
  bits: number;
  ints: Int8Array[];
  scales: Float32Array[];
}

/** The state of one activation quantizer. */
export interface ActQuantizer {
  site: ActSite;
  symmetric: boolean;
  qmin: number;
  qmax: number;
  /** Scalar step size (a leaf; trainable with LSQ). */
  scale: Tensor | null;
  zeroPoint: number;
  enabled: boolean;
  inited: boolean;
}

/** How one forward pass applies the quantizers, beyond their switches. */
export interface RunMode {
  /** QDrop: leave each element of a quantized activation in float with `prob`, using `rng`. */
  drop?: { prob: number; rng: Random } | null;
}

/**
 * How a quantized layer's bias enters the forward: `int32`, on the accumulator grid
 * `s_x · s_w[c]` (the deployed integer model); `float`, unchanged (the official codes).
 */
export type BiasRounding = "int32" | "float";

/**
 * The int32 range as float32 values: 2^31 − 1 is not one (it rounds to 2^31, which wraps), so
 * the top is the largest float32 below 2^31.
 */
const INT32_MIN = -2147483648, INT32_MAX_F32 = 2147483520;

/** Activations a layer's output may pass (single consumer each) on its way to a quantizer. */
const BIAS_PATH_OPS = new Set(["Relu", "Clip"]);

/**
 * The deviation every method on this model shares with `biasRounding: "int32"` (for the
 * `deviations` of its registry entry).
 */
export const BIAS_ROUNDING_DEVIATION =
  "Biases of layers whose input and weight are quantized are rounded to the int32 accumulator " +
  "grid s_x·s_w[c] (half to even, clamped to int32) in calibration, reconstruction and evaluation, " +
  "as the deployed integer model adds them (onnxruntime's fused QLinearConv rounds a float bias " +
  'so); the official code keeps float biases, which `biasRounding: "float"` restores. The ' +
  "rounded bias follows the current s_x in every forward but passes it no gradient: LSQ trains " +
  "s_x through its own fake-quant only, as in the official code.";

/** Options of {@linkcode QuantModel.create}. */
export interface QuantModelOptions {
  /** Weight range observer (official: `mse`, the L_p p = 2.4 search). */
  weightObserver?: "minmax" | "mse";
  /** Activation range observer (official: `mse` with EMA across batches). */
  actObserver?: ObserverKind;
  symmetric?: boolean;
  p?: number;
  /** The bias of a layer whose input and weight are quantized (default `int32`). */
  biasRounding?: BiasRounding;
}

/** A layer whose bias can go on the int32 grid: its (quantized) input value and its bias. */
interface BiasSite {
  input: string;
  bias: string;
}

function broadcastShape(rank: number, axis: number, c: number): number[] {
  return Array.from({ length: rank }, (_, i) => (i === axis ? c : 1));
}

/** A graph with quantizers. */
export class QuantModel {
  readonly weights = new Map<string, WeightQuantizer>();
  readonly acts = new Map<string, ActQuantizer>();
  readonly actObserver: ObserverKind;
  readonly p: number;
  /** Switchable like the quantizers: `float` runs the official codes' model. */
  biasRounding: BiasRounding;
  /** The layers whose bias is on the int32 grid when their quantizers are on, by node name. */
  readonly #biasSites: Map<string, BiasSite>;

  private constructor(readonly graph: Graph, readonly placement: Placement, o: QuantModelOptions) {
    this.actObserver = o.actObserver ?? "mse";
    this.p = o.p ?? 2.4;
    this.biasRounding = o.biasRounding ?? "int32";
    this.#biasSites = biasSites(graph, placement);
  }

  /**
   * Wraps a graph (BN already folded) and initialises every weight quantizer with the chosen
   * observer. All quantizers start disabled (FP mode); activation quantizers start uninitialised.
   */
  static async create(
    graph: Graph,
    placement: Placement,
    o: QuantModelOptions = {},
  ): Promise<QuantModel> {
    const m = new QuantModel(graph, placement, o);
    const sym = o.symmetric ?? false;
    for (const site of placement.weights) {
      const w = graph.initializers.get(site.weight)!;
      const host = await w.data() as Float32Array;
      // Move the channel axis first for the observer.
      const data = site.axis === 0 ? host : moveAxisFirst(host, w.shape, site.axis);
      const qp = weightQParams(
        data,
        site.channels,
        { bits: site.bits, symmetric: sym },
        o.weightObserver ?? "mse",
        {
          p: m.p,
        },
      );
      const bshape = broadcastShape(w.rank, site.axis, site.channels);
      const { qmin, qmax } = qrange({ bits: site.bits, symmetric: sym });
      m.weights.set(site.node, {
        site,
        symmetric: sym,
        qmin,
        qmax,
        qparams: qp,
        scale: keep(upload(qp.scale, bshape, w.backend)),
        zeroPoint: keep(upload(qp.zeroPoint, bshape, w.backend)),
        v: null,
        frozen: null,
        enabled: false,
      });
    }
    for (const site of placement.acts) {
      const { qmin, qmax } = qrange({ bits: site.bits, symmetric: sym });
      m.acts.set(site.value, {
        site,
        symmetric: sym,
        qmin,
        qmax,
        scale: null,
        zeroPoint: 0,
        enabled: false,
        inited: false,
      });
    }
    return m;
  }

  /** Switches every weight / activation quantizer on or off. */
  setQuantState(weights: boolean, acts: boolean): void {
    for (const q of this.weights.values()) q.enabled = weights;
    for (const q of this.acts.values()) q.enabled = acts && q.inited;
  }

  /** Sets an activation quantizer's parameters (after observation) and marks it initialised. */
  setActParams(value: string, scale: number, zeroPoint: number): void {
    const q = this.acts.get(value)!;
    const backend = this.graph.initializers.values().next().value!.backend;
    q.scale?.dispose();
    q.scale = keep(upload(new Float32Array([scale]), [], backend));
    q.zeroPoint = zeroPoint;
    q.inited = true;
  }

  /** The quantized weight of a layer as currently configured (soft AdaRound if `v` is set). */
  quantizedWeight(q: WeightQuantizer): Tensor {
    if (q.frozen) return q.frozen;
    const w = this.graph.initializers.get(q.site.weight)!;
    if (q.v) return adaroundWeight(w, q.v, q.scale, q.zeroPoint, q.qmin, q.qmax, false);
    return fakeQuant(w, q.scale, q.zeroPoint, q.qmin, q.qmax);
  }

  /** Starts AdaRound on a layer: `V` initialised so that `h(V)` equals `frac(W / s)`. */
  async startAdaround(node: string): Promise<Tensor> {
    const q = this.weights.get(node)!;
    const w = this.graph.initializers.get(q.site.weight)!;
    const wd = await w.data() as Float32Array;
    const sd = await q.scale.data() as Float32Array;
    const v = new Float32Array(wd.length);
    const inner = stride(w.shape, q.site.axis), c = q.site.channels;
    for (let i = 0; i < wd.length; i++) {
      const x = wd[i] / sd[Math.floor(i / inner) % c];
      v[i] = adaroundInit(x - Math.floor(x));
    }
    q.frozen?.dispose();
    q.frozen = null;
    q.v?.dispose();
    q.v = keep(upload(v, w.shape, w.backend)).variable();
    return q.v;
  }

  /**
   * Sets a layer's weight to a sum of points (see {@linkcode WeightPoints}) and freezes it: the
   * weight is `Σᵢ fround(intsᵢ · scalesᵢ[c])`, multiplied and added in float32 in point order, as
   * onnxruntime's DequantizeLinear and Add nodes compute it. The quantizer's own scale and zero
   * point become the first point's (symmetric), which the int32 bias grid uses where the layer has
   * a single point; a layer with several points keeps a float bias (see {@linkcode intBias}).
   */
  setPoints(node: string, points: WeightPoints): void {
    const q = this.weights.get(node)!;
    const w = this.graph.initializers.get(q.site.weight)!;
    const c = q.site.channels, inner = stride(w.shape, q.site.axis);
    const sum = new Float32Array(w.size);
    points.ints.forEach((ints, p) => {
      const sc = points.scales[p];
      for (let i = 0; i < sum.length; i++) {
        const v = Math.fround(ints[i] * sc[Math.floor(i / inner) % c]);
        sum[i] = p === 0 ? v : Math.fround(sum[i] + v);
      }
    });
    const { qmin, qmax } = qrange({ bits: points.bits, symmetric: true });
    const bshape = broadcastShape(w.rank, q.site.axis, c);
    q.qparams = { scale: Float32Array.from(points.scales[0]), zeroPoint: new Float32Array(c) };
    for (const t of [q.scale, q.zeroPoint, q.v, q.frozen]) t?.dispose();
    q.scale = keep(upload(q.qparams.scale, bshape, w.backend));
    q.zeroPoint = keep(upload(q.qparams.zeroPoint, bshape, w.backend));
    q.v = null;
    q.frozen = keep(upload(sum, w.shape, w.backend));
    q.symmetric = true;
    q.qmin = qmin;
    q.qmax = qmax;
    q.points = points;
  }

  /**
   * Freezes a layer's weight: hard AdaRound rounding if `V` is set, else nearest rounding; a
   * weight given as points ({@linkcode setPoints}) is already frozen and stays as it is.
   */
  freezeWeight(node: string): void {
    const q = this.weights.get(node)!;
    if (q.points && q.frozen) return;
    const w = this.graph.initializers.get(q.site.weight)!;
    const frozen = noGrad(() =>
      tidy(() =>
        q.v
          ? adaroundWeight(w, q.v, q.scale, q.zeroPoint, q.qmin, q.qmax, true)
          : fakeQuant(w, q.scale, q.zeroPoint, q.qmin, q.qmax)
      )
    );
    q.frozen?.dispose();
    q.frozen = keep(frozen);
    q.v?.dispose();
    q.v = null;
  }

  /**
   * A layer's bias on the int32 grid, or null where it stays float: with `biasRounding: "int32"`,
   * for a Conv/Gemm whose weight quantizer and input quantizer are on and whose output reaches an
   * activation quantizer's value through single-consumer Relu/Clip only. That is onnxruntime's
   * rule for quantizing a float bias when it fuses a QDQ model (its `WeightBiasQuantization`
   * transformer: input from a per-tensor DequantizeLinear, weight from a DequantizeLinear per
   * tensor or per output channel, output path to a QuantizeLinear), so that the export fused at
   * optimisation level "all" computes what this model does. The output quantizer need not be on
   * yet: its observer then sees the pre-activations of the deployed model.
   *
   * `q` holds the integers (as float32, clamped to the int32 range), `scale` the per-channel step
   * `s_x · s_w[c]` (float32 product) and `value` their product `q · scale`, all `[C]`; `q` is
   * `round(b / scale)` with float32 division and rounding half to even, as onnxruntime's
   * `Div → Round → Cast` does. Rounding is straight-through for the bias (which no method
   * trains); the step `s_x` is detached: LSQ trains it through its own fake-quant only, as the
   * official codes do, and the bias follows the current `s_x` in every forward. Use inside `tidy`.
   */
  intBias(node: Node): { q: Tensor; scale: Tensor; value: Tensor } | null {
    if (this.biasRounding !== "int32") return null;
    const site = this.#biasSites.get(node.name);
    if (!site) return null;
    const w = this.weights.get(node.name);
    const x = this.acts.get(site.input);
    if (!w?.enabled || !x?.enabled || !x.scale) return null;
    // A sum of several DequantizeLinear weights is not fused: onnxruntime keeps the float bias.
    if (w.points && w.points.ints.length > 1) return null;
    const b = this.graph.initializers.get(site.bias)!;
    const scale = mul(detach(x.scale), reshape(w.scale, [b.size]));
    const q = clip(roundSte(div(b, scale)), INT32_MIN, INT32_MAX_F32);
    return { q, scale, value: mul(q, scale) };
  }

  /** The `param` hook: quantized weights and int32-grid biases of enabled layers. */
  readonly param = (node: Node, slot: number, value: Tensor): Tensor => {
    if (slot === 2) return this.intBias(node)?.value ?? value;
    if (slot !== 1) return value;
    const q = this.weights.get(node.name);
    if (!q || !q.enabled) return value;
    return this.quantizedWeight(q);
  };

  /** The `output` hook: fake-quantized activations. */
  readonly output = (node: Node, slot: number, value: Tensor): Tensor =>
    this.#quantizeOutput(node, slot, value, null);

  /** Fake-quantizes a node's output; with `drop`, each element stays float with `drop.prob`. */
  #quantizeOutput(node: Node, slot: number, value: Tensor, drop: RunMode["drop"]): Tensor {
    const q = this.acts.get(node.outputs[slot]);
    if (!q || !q.enabled || !q.scale) return value;
    if (!drop || drop.prob <= 0) return fakeQuant(value, q.scale, q.zeroPoint, q.qmin, q.qmax);
    // The mask `bernoulliMask` would draw (same keys, same order), applied inside the kernel.
    const keys = { k0: drop.rng.nextU32(), k1: drop.rng.nextU32() };
    return fakeQuant(value, q.scale, q.zeroPoint, q.qmin, q.qmax, { p: drop.prob, ...keys });
  }

  /**
   * Runs (part of) the graph with the quantizers as currently enabled, in the given `mode`
   * (QDrop's drop for this pass only). Use inside `tidy`.
   */
  run(opts: Omit<ExecuteOptions, "param" | "output">, mode: RunMode = {}): Record<string, Tensor> {
    const drop = mode.drop;
    const output = drop && drop.prob > 0
      ? (node: Node, slot: number, value: Tensor) => this.#quantizeOutput(node, slot, value, drop)
      : this.output;
    return execute(this.graph, { ...opts, param: this.param, output });
  }

  /** Runs the model on graph inputs and returns the first graph output. Use inside `tidy`. */
  forward(x: Tensor): Tensor {
    const name = this.graph.inputs[0].name;
    return this.run({ feeds: { [name]: x } })[this.graph.outputs[0].name];
  }

  /**
   * Recomputes every weight quantizer's per-channel grid from the current weights with `kind`
   * (BRECQ's `shrink` search, which `create` does not take; FDDA's min/max after each student
   * step), in place; `symmetric` overrides the quantizers' own scheme.
   */
  async setWeightQParams(kind: WeightObserverKind, symmetric?: boolean): Promise<void> {
    for (const q of this.weights.values()) {
      const w = this.graph.initializers.get(q.site.weight)!;
      const host = await w.data() as Float32Array;
      const data = q.site.axis === 0 ? host : moveAxisFirst(host, w.shape, q.site.axis);
      const scheme = { bits: q.site.bits, symmetric: symmetric ?? q.symmetric };
      const qp = weightQParams(data, q.site.channels, scheme, kind, { p: this.p });
      q.qparams = qp;
      tidy(() => {
        q.scale.assign(upload(qp.scale, q.scale.shape, w.backend));
        q.zeroPoint.assign(upload(qp.zeroPoint, q.zeroPoint.shape, w.backend));
      });
    }
  }

  /** Releases the quantizer tensors. */
  dispose(): void {
    for (const q of this.weights.values()) {
      for (const t of [q.scale, q.zeroPoint, q.v, q.frozen]) t?.dispose();
    }
    for (const q of this.acts.values()) q.scale?.dispose();
  }
}

/**
 * The layers whose bias onnxruntime puts on the int32 grid once their quantizers are on (see
 * {@linkcode QuantModel.intBias}): a Conv/Gemm with a rank-1 bias initializer whose input is an
 * activation quantizer's value and whose output reaches one through single-consumer Relu/Clip.
 * ConvTranspose is left out: onnxruntime quantizes its bias only for per-channel weights on
 * axis 0, and its output channels are on axis 1.
 */
/**
 * The layers whose bias goes on the int32 grid once their quantizers are on (the rule of
 * {@linkcode QuantModel.intBias}): a Conv/Gemm with a rank-1 bias whose input carries an
 * activation quantizer and whose output reaches one through single-consumer Relu/Clip.
 */
export function intBiasLayers(graph: Graph, placement: Placement): Set<string> {
  return new Set(biasSites(graph, placement).keys());
}

function biasSites(graph: Graph, placement: Placement): Map<string, BiasSite> {
  const acts = new Set(placement.acts.map((a) => a.value));
  const cons = consumersOf(graph);
  const sites = new Map<string, BiasSite>();
  for (const w of placement.weights) {
    const node = graph.nodes.find((n) => n.name === w.node)!;
    const bias = node.inputs[2];
    if (node.opType !== "Conv" && node.opType !== "Gemm") continue;
    if (!bias || graph.initializers.get(bias)?.rank !== 1 || !acts.has(node.inputs[0])) continue;
    let v = node.outputs[0];
    while (!acts.has(v)) {
      const cs = cons.get(v) ?? [];
      if (cs.length !== 1 || !BIAS_PATH_OPS.has(cs[0].opType)) break;
      v = cs[0].outputs[0];
    }
    if (acts.has(v)) sites.set(node.name, { input: node.inputs[0], bias });
  }
  return sites;
}

/** Elements per step of `axis` (the product of the trailing dimensions). */
function stride(shape: readonly number[], axis: number): number {
  return shape.slice(axis + 1).reduce((a, b) => a * b, 1);
}

/** Host transpose moving `axis` to the front (row-major). */
export function moveAxisFirst(
  data: Float32Array,
  shape: readonly number[],
  axis: number,
): Float32Array {
  const c = shape[axis], inner = stride(shape, axis);
  const outer = data.length / (c * inner);
  const out = new Float32Array(data.length);
  let k = 0;
  for (let ch = 0; ch < c; ch++) {
    for (let o = 0; o < outer; o++) {
      const base = o * c * inner + ch * inner;
      for (let i = 0; i < inner; i++) out[k++] = data[base + i];
    }
  }
  return out;
}
