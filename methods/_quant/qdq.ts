/**
 * Export of a {@linkcode QuantModel} to ONNX in QDQ form, through `models/export.ts`'s `toOnnx`:
 *
 * - each quantized weight becomes its frozen dequantized values (exactly `(q − z)·s`) followed by
 *   `QuantizeLinear → DequantizeLinear` with per-channel float scales and uint8 (int8 when
 *   symmetric) zero points along the weight's channel axis (axis 0 for Conv);
 * - a weight given as a sum of points (`WeightQuantizer.points`: multipoint quantization, OCS)
 *   becomes one int8 initializer → `DequantizeLinear` per point (per-channel scales, zero point
 *   0), added in point order before the layer; the simulated weight is the same float32 products
 *   and sums (`QuantModel.setPoints`). With several points onnxruntime runs the layer in float on
 *   that sum (no integer kernel takes it), so such a layer's bias stays float in both;
 * - each bias the model puts on the int32 grid ({@linkcode QuantModel.intBias}) becomes its int32
 *   integers followed by `DequantizeLinear` with the per-channel scale `s_x · s_w[c]` (zero point
 *   0, axis 0), the standard QDQ form of a quantized bias; other biases stay float;
 * - each enabled activation quantizer becomes `[Clip] → QuantizeLinear → DequantizeLinear` with a
 *   per-tensor scale and zero point, inserted between the producer and every consumer; the Clip
 *   (to `[(qmin − z)·s, (qmax − z)·s]`) is added below 8 bits, because the 8-bit integer types of
 *   QuantizeLinear clamp to the full 0…255 range, not to the `b`-bit one.
 *
 * onnxruntime rounds half to even, as the runtime's fake-quant does, so the exported model
 * reproduces the simulated one up to float rounding of the arithmetic, at both optimisation
 * levels: "disabled" runs the Q/DQ nodes as written; "all" fuses them into integer kernels
 * (QLinearConv, …) that take the int32 bias as it is, and leaves the float biases float (it
 * would quantize a float bias of a layer it fuses, which is why the model rounds those).
 *
 * @module
 */
import type { Graph, Node } from "../../models/graph.ts";
import { type ExportTensor, toOnnx } from "../../models/export.ts";
import { cpu, noGrad, type Tensor, tidy, upload } from "../../runtime/mod.ts";
import type { QuantModel, WeightPoints, WeightQuantizer } from "./quantized_model.ts";

/**
 * Serialises the quantized model (its enabled quantizers) as a QDQ ONNX model. Tensors on another
 * backend (webgpu) are read back to host copies first.
 */
export async function toQdqOnnx(
  model: QuantModel,
  opts: { opset?: number } = {},
): Promise<Uint8Array> {
  const copies: Tensor[] = [];
  const onHost = async (t: Tensor): Promise<Tensor> => {
    if (t.backend === cpu) return t;
    const c = upload(await t.data(), [...t.shape], cpu);
    copies.push(c);
    return c;
  };
  try {
    return await build(model, opts, onHost);
  } finally {
    for (const c of copies) c.dispose();
  }
}

/** A layer's int32 bias and its per-channel scale as the model computes them, on the host. */
async function intBias(
  model: QuantModel,
  node: Node,
): Promise<{ q: Float32Array; scale: Float32Array } | null> {
  const b = noGrad(() => tidy(() => model.intBias(node)));
  if (!b) return null;
  try {
    return {
      q: Float32Array.from(await b.q.data()),
      scale: Float32Array.from(await b.scale.data()),
    };
  } finally {
    for (const t of [b.q, b.scale, b.value]) t.dispose();
  }
}

/** The Q/DQ pair of a weight on one grid (the frozen float weight requantized); its output name. */
async function gridWeight(
  q: WeightQuantizer,
  base: string,
  initializers: Map<string, Tensor>,
  tensors: ExportTensor[],
  extra: Node[],
  onHost: (t: Tensor) => Promise<Tensor>,
): Promise<void> {
  const w = q.frozen ? await onHost(q.frozen) : null;
  if (!w) {
    throw new TypeError(
      `toQdqOnnx: weight of "${q.site.node}" is not frozen (run the method first)`,
    );
  }
  initializers.set(`${base}.deq`, w);
  const c = q.site.channels;
  tensors.push({ name: `${base}.scale`, data: q.qparams.scale, shape: [c], dtype: "float" });
  tensors.push({
    name: `${base}.zp`,
    data: q.qparams.zeroPoint,
    shape: [c],
    dtype: q.symmetric ? "int8" : "uint8",
  });
  extra.push({
    name: `${base}.quant`,
    opType: "QuantizeLinear",
    inputs: [`${base}.deq`, `${base}.scale`, `${base}.zp`],
    outputs: [`${base}.q`],
    attrs: { axis: q.site.axis },
  }, {
    name: `${base}.dequant`,
    opType: "DequantizeLinear",
    inputs: [`${base}.q`, `${base}.scale`, `${base}.zp`],
    outputs: [`${base}.dq`],
    attrs: { axis: q.site.axis },
  });
}

/**
 * A weight given as points: one int8 initializer and DequantizeLinear (per-channel scales, zero
 * point 0) per point, summed by Add nodes in point order (one point: the DequantizeLinear alone,
 * which onnxruntime fuses with the layer like any QDQ weight). Returns the weight's value name.
 */
function pointsWeight(
  points: WeightPoints,
  axis: number,
  shape: number[],
  base: string,
  tensors: ExportTensor[],
  extra: Node[],
): string {
  const channels = shape[axis];
  tensors.push({
    name: `${base}.zp`,
    data: new Int8Array(channels),
    shape: [channels],
    dtype: "int8",
  });
  let sum = "";
  points.ints.forEach((ints, p) => {
    const name = `${base}.p${p}`;
    tensors.push({ name: `${name}.int`, data: ints, shape, dtype: "int8" });
    tensors.push({
      name: `${name}.scale`,
      data: points.scales[p],
      shape: [channels],
      dtype: "float",
    });
    extra.push({
      name: `${name}.dequant`,
      opType: "DequantizeLinear",
      inputs: [`${name}.int`, `${name}.scale`, `${base}.zp`],
      outputs: [`${name}.dq`],
      attrs: { axis },
    });
    if (p === 0) sum = `${name}.dq`;
    else {
      extra.push({
        name: `${name}.add`,
        opType: "Add",
        inputs: [sum, `${name}.dq`],
        outputs: [`${name}.sum`],
        attrs: {},
      });
      sum = `${name}.sum`;
    }
  });
  return sum;
}

async function build(
  model: QuantModel,
  opts: { opset?: number },
  onHost: (t: Tensor) => Promise<Tensor>,
): Promise<Uint8Array> {
  const g = model.graph;
  const initializers = new Map<string, Tensor>();
  for (const [k, t] of g.initializers) initializers.set(k, await onHost(t));
  const tensors: ExportTensor[] = [];
  const extra: Node[] = [];
  const renamedInput = new Map<Node, Map<number, string>>();
  const zpType = (sym: boolean): "int8" | "uint8" => (sym ? "int8" : "uint8");

  for (const q of model.weights.values()) {
    if (!q.enabled) continue;
    const node = g.nodes.find((n) => n.name === q.site.node)!;
    const base = `${node.name}.w`;
    const m = renamedInput.get(node) ?? new Map();
    if (q.points) {
      const shape = [...g.initializers.get(q.site.weight)!.shape];
      m.set(1, pointsWeight(q.points, q.site.axis, shape, base, tensors, extra));
    } else {
      await gridWeight(q, base, initializers, tensors, extra, onHost);
      m.set(1, `${base}.dq`);
    }
    const bias = await intBias(model, node);
    if (bias) {
      const b = `${node.name}.b`;
      tensors.push({ name: `${b}.int`, data: bias.q, shape: [bias.q.length], dtype: "int32" });
      tensors.push({
        name: `${b}.scale`,
        data: bias.scale,
        shape: [bias.scale.length],
        dtype: "float",
      });
      extra.push({
        name: `${b}.dequant`,
        opType: "DequantizeLinear",
        inputs: [`${b}.int`, `${b}.scale`],
        outputs: [`${b}.dq`],
        attrs: { axis: 0 },
      });
      m.set(2, `${b}.dq`);
    }
    renamedInput.set(node, m);
  }

  const renamedOutput = new Map<string, string>();
  for (const q of model.acts.values()) {
    if (!q.enabled || !q.scale) continue;
    const v = q.site.value;
    const raw = `${v}.float`;
    renamedOutput.set(v, raw);
    const s = (await q.scale.data())[0];
    tensors.push({ name: `${v}.scale`, data: [s], shape: [], dtype: "float" });
    tensors.push({ name: `${v}.zp`, data: [q.zeroPoint], shape: [], dtype: zpType(q.symmetric) });
    let src = raw;
    const fullRange = q.symmetric
      ? q.qmin === -128 && q.qmax === 127
      : q.qmin === 0 && q.qmax === 255;
    if (!fullRange) {
      tensors.push({
        name: `${v}.lo`,
        data: [(q.qmin - q.zeroPoint) * s],
        shape: [],
        dtype: "float",
      });
      tensors.push({
        name: `${v}.hi`,
        data: [(q.qmax - q.zeroPoint) * s],
        shape: [],
        dtype: "float",
      });
      extra.push({
        name: `${v}.clip`,
        opType: "Clip",
        inputs: [raw, `${v}.lo`, `${v}.hi`],
        outputs: [`${v}.clipped`],
        attrs: {},
      });
      src = `${v}.clipped`;
    }
    extra.push({
      name: `${v}.quant`,
      opType: "QuantizeLinear",
      inputs: [src, `${v}.scale`, `${v}.zp`],
      outputs: [`${v}.q`],
      attrs: {},
    }, {
      name: `${v}.dequant`,
      opType: "DequantizeLinear",
      inputs: [`${v}.q`, `${v}.scale`, `${v}.zp`],
      outputs: [v],
      attrs: {},
    });
  }

  const nodes = g.nodes.map((n) => {
    const ins = renamedInput.get(n);
    const outs = n.outputs.some((o) => renamedOutput.has(o));
    if (!ins && !outs) return n;
    return {
      ...n,
      inputs: n.inputs.map((v, i) => ins?.get(i) ?? v),
      outputs: n.outputs.map((o) => renamedOutput.get(o) ?? o),
    };
  });
  const out: Graph = { ...g, nodes, initializers };
  return toOnnx(out, {
    opset: Math.max(opts.opset ?? 13, g.opset ?? 13),
    extra: { nodes: extra, tensors },
  });
}
