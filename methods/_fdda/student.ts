/**
 * FDDA's quantized student as the official code builds it (zysxmu/FDDA at 3d50d5f,
 * `quantization_utils/quant_modules.py`, `main_DBNS_CBNS.py` `quantize_model`,
 * `main_DBNS_CBNS_8F8L.py`):
 *
 * - **Weights** of every Conv and Linear: per output channel, asymmetric, the range the
 *   channel's min/max *recomputed on every forward* (`Quant_Conv2d.forward`), straight-through
 *   gradient; all weights and biases are trained (`model.parameters()`). Here the per-channel
 *   parameters are recomputed after every optimiser step, which is the same (the weights change
 *   only there).
 * - **Activations** (`QuantAct` after every ReLU/ReLU6): per tensor, asymmetric, range an EMA of
 *   the batch min/max, `x_min ← 0.9·x_min + 0.1·min(x)` from 0 (no bias correction), updated in
 *   every forward while unfrozen; the gradient passes unchanged everywhere
 *   (`AsymmetricQuantFunction.backward` returns `grad_output`), also outside the range.
 * - **First / last layers**: at the body's bits (F4L4, F5L5) or 8 bits (F8L8: the stem conv, its
 *   activation, the classifier and the activation feeding it).
 *
 * @module
 */
import {
  add,
  detach,
  fakeQuant,
  keep,
  max,
  min,
  noGrad,
  sub,
  type Tensor,
} from "../../runtime/mod.ts";
import { execute } from "../../models/execute.ts";
import type { Graph, Node } from "../../models/graph.ts";
import { placeQuantizers } from "../_quant/placement.ts";
import { type BiasRounding, QuantModel } from "../_quant/quantized_model.ts";
import { qparamsFromRange } from "../_quant/scheme.ts";

/** A student: the quantized model, its trainable leaves and its activation EMA ranges. */
export interface Student {
  model: QuantModel;
  params: Tensor[];
  ema: Map<string, { min: number; max: number }>;
}

/** Options of {@linkcode createStudent}. */
export interface StudentOptions {
  wBits: number;
  aBits: number;
  /** Bits of the first and last layers' weights, the stem's output and the classifier's input. */
  firstLastBits: number;
  biasRounding: BiasRounding;
}

/**
 * The student of an FP graph (BN folded): a copy of its layer weights and biases (trainable
 * leaves; the teacher's graph is not touched) with minmax per-channel weight quantizers on.
 */
export async function createStudent(graph: Graph, o: StudentOptions): Promise<Student> {
  const probe = placeQuantizers(graph, { wBits: o.wBits, aBits: o.aBits, headStem8bit: true });
  const initializers = new Map(graph.initializers);
  const params: Tensor[] = [];
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  for (const site of probe.weights) {
    const node = byName.get(site.node)!;
    for (const name of [node.inputs[1], node.inputs[2]]) {
      const t = name ? graph.initializers.get(name) : undefined;
      if (!t || initializers.get(name) !== t) continue;
      const copy = keep(noGrad(() => add(t, 0))).variable();
      initializers.set(name, copy);
      params.push(copy);
    }
  }
  const student: Graph = { ...graph, initializers };
  for (const w of probe.weights) w.bits = w.role === "body" ? o.wBits : o.firstLastBits;
  const first = probe.weights.find((w) => w.role === "first");
  for (const a of probe.acts) {
    const producer = byName.get(a.node);
    const stem = first &&
      (a.node === first.node || producer?.inputs[0] === byName.get(first.node)?.outputs[0]);
    a.bits = a.role === "head" || stem ? o.firstLastBits : o.aBits;
  }
  const model = await QuantModel.create(student, probe, {
    weightObserver: "minmax",
    biasRounding: o.biasRounding,
  });
  model.setQuantState(true, false);
  return { model, params, ema: new Map() };
}

/** Recomputes every weight quantizer's per-channel min/max parameters from the current weights. */
export async function refreshWeightQParams(model: QuantModel): Promise<void> {
  await model.setWeightQParams("minmax", false);
}

/**
 * Runs the student on `x` and returns its logits. With `observe`, every activation quantizer
 * first moves its EMA range by the batch's min/max (`beta`) and then quantizes with it (the
 * official `QuantAct.forward` order). Activations quantize with the identity gradient. Use
 * inside `tidy`.
 */
export function studentForward(s: Student, x: Tensor, observe: boolean, beta: number): Tensor {
  const { model } = s;
  const g = model.graph;
  const output = (node: Node, slot: number, v: Tensor): Tensor => {
    const name = node.outputs[slot];
    const q = model.acts.get(name);
    if (!q) return v;
    if (observe) {
      const lo = noGrad(() => min(v)).dataSync()[0];
      const hi = noGrad(() => max(v)).dataSync()[0];
      const e = s.ema.get(name) ?? { min: 0, max: 0 };
      e.min = e.min * beta + lo * (1 - beta);
      e.max = e.max * beta + hi * (1 - beta);
      s.ema.set(name, e);
      const qp = qparamsFromRange([e.min], [e.max], { bits: q.site.bits, symmetric: false });
      model.setActParams(name, qp.scale[0], qp.zeroPoint[0]);
      q.enabled = true;
    }
    if (!q.enabled || !q.scale) return v;
    const fq = fakeQuant(v, q.scale, q.zeroPoint, q.qmin, q.qmax);
    return add(v, detach(sub(fq, v)));
  };
  const ys = execute(g, {
    feeds: { [g.inputs[0].name]: x },
    fetch: [g.outputs[0].name],
    param: model.param,
    output,
  });
  return ys[g.outputs[0].name];
}
