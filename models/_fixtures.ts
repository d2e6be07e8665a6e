/**
 * Small ONNX fixtures built in TypeScript with onnx-proto and seeded random weights (tests only):
 * torchvision-style ResNet blocks, MobileNetV2/V3 blocks, a RegNetX block, a ShuffleNetV2 unit,
 * a tiny ViT and torch-export shape arithmetic.
 *
 * @module
 */
import onnxProto from "onnx-proto";
import { Random } from "../runtime/mod.ts";

// deno-lint-ignore no-explicit-any
const onnx = (onnxProto as any).onnx;

type Attr = number | number[] | string;

/** A tiny graph builder over onnx-proto messages. */
export class OnnxBuilder {
  // deno-lint-ignore no-explicit-any
  nodes: any[] = [];
  // deno-lint-ignore no-explicit-any
  inits: any[] = [];
  #k = 0;
  constructor(readonly rng: Random, readonly opset = 13) {}

  fresh(p: string): string {
    return `${p}_${this.#k++}`;
  }
  /** A float initializer with normal values (std `scale`). */
  weight(shape: number[], scale = 0.3, mean = 0, name = this.fresh("w")): string {
    const n = shape.reduce((p, d) => p * d, 1);
    return this.floats(this.rng.normalArray(n, mean, scale), shape, name);
  }
  floats(data: ArrayLike<number>, shape: number[], name = this.fresh("f")): string {
    this.inits.push({ name, dataType: 1, dims: shape, floatData: Array.from(data) });
    return name;
  }
  int64(values: (number | string)[], name = this.fresh("i"), shape = [values.length]): string {
    this.inits.push({ name, dataType: 7, dims: shape, int64Data: values });
    return name;
  }
  node(
    op: string,
    inputs: string[],
    attrs: Record<string, Attr> = {},
    nOut = 1,
    name = "",
  ): string[] {
    const outputs = Array.from({ length: nOut }, () => this.fresh(op.toLowerCase()));
    const T = onnx.AttributeProto.AttributeType;
    this.nodes.push({
      name,
      opType: op,
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) =>
        typeof v === "string"
          ? { name: k, type: T.STRING, s: new TextEncoder().encode(v) }
          : Array.isArray(v)
          ? { name: k, type: T.INTS, ints: v }
          : Number.isInteger(v)
          ? { name: k, type: T.INT, i: v }
          : { name: k, type: T.FLOAT, f: v }
      ),
    });
    return outputs;
  }
  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.node(op, inputs, attrs)[0];
  }
  /** A constant node (int64 or float). */
  constant(values: number[], float = false, shape = [values.length]): string {
    const T = onnx.AttributeProto.AttributeType;
    const out = this.fresh("const");
    this.nodes.push({
      opType: "Constant",
      input: [],
      output: [out],
      attribute: [{
        name: "value",
        type: T.TENSOR,
        t: float
          ? { dataType: 1, dims: shape, floatData: values }
          : { dataType: 7, dims: shape, int64Data: values },
      }],
    });
    return out;
  }
  conv(
    x: string,
    cin: number,
    cout: number,
    k: number,
    o: { stride?: number; group?: number; bias?: boolean; pads?: number[]; autoPad?: string } = {},
  ): string {
    const g = o.group ?? 1;
    const w = this.weight([cout, cin / g, k, k], Math.sqrt(2 / ((cin / g) * k * k)));
    const ins = [x, w];
    if (o.bias ?? false) ins.push(this.weight([cout], 0.1));
    const p = Math.floor(k / 2);
    const attrs: Record<string, Attr> = {
      kernel_shape: [k, k],
      strides: [o.stride ?? 1, o.stride ?? 1],
      group: g,
    };
    if (o.autoPad) attrs.auto_pad = o.autoPad;
    else attrs.pads = o.pads ?? [p, p, p, p];
    return this.op("Conv", ins, attrs);
  }
  bn(x: string, c: number): string {
    const r = this.rng;
    return this.op("BatchNormalization", [
      x,
      this.floats(r.uniformArray(c, 0.5, 1.5), [c]),
      this.floats(r.uniformArray(c, -0.2, 0.2), [c]),
      this.floats(r.uniformArray(c, -0.3, 0.3), [c]),
      this.floats(r.uniformArray(c, 0.5, 2), [c]),
    ], { epsilon: 1e-5 });
  }
  relu6(x: string): string {
    return this.op("Clip", [x, this.floats([0], []), this.floats([6], [])]);
  }
  gemm(x: string, cin: number, cout: number): string {
    return this.op("Gemm", [
      x,
      this.weight([cout, cin], Math.sqrt(1 / cin)),
      this.weight([cout], 0.1),
    ], {
      transB: 1,
    });
  }
  build(input: string, shape: (number | string)[], outputs: string[]): Uint8Array {
    const vi = (name: string, s?: (number | string)[]) => ({
      name,
      type: {
        tensorType: {
          elemType: 1,
          shape: s
            ? { dim: s.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) }
            : undefined,
        },
      },
    });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: "ptq-bench fixtures",
      opsetImport: [{ domain: "", version: this.opset }],
      graph: {
        name: "fixture",
        node: this.nodes,
        initializer: this.inits,
        input: [vi(input, shape)],
        output: outputs.map((o) => vi(o)),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** A fixture: the ONNX bytes, its input shape (batch 2) and the expected unit kinds. */
export interface Fixture {
  name: string;
  bytes: Uint8Array;
  shape: number[];
  units: string[];
}

function head(b: OnnxBuilder, x: string, c: number, classes = 10): string {
  const p = b.op("GlobalAveragePool", [x]);
  const f = b.op("Flatten", [p], { axis: 1 });
  return b.gemm(f, c, classes);
}

function basicBlock(b: OnnxBuilder, x: string, cin: number, cout: number, stride: number): string {
  let y = b.op("Relu", [b.bn(b.conv(x, cin, cout, 3, { stride }), cout)]);
  y = b.bn(b.conv(y, cout, cout, 3), cout);
  const short = stride !== 1 || cin !== cout ? b.bn(b.conv(x, cin, cout, 1, { stride }), cout) : x;
  return b.op("Relu", [b.op("Add", [y, short])]);
}

/** ResNet stem + two BasicBlocks (one with a downsample branch) + classifier, BN kept. */
export function resnetBasic(seed = 1): Fixture {
  const b = new OnnxBuilder(new Random(seed));
  let x = b.op("Relu", [b.bn(b.conv("input", 3, 8, 3, { stride: 1 }), 8)]);
  x = b.op("MaxPool", [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  x = basicBlock(b, x, 8, 8, 1);
  x = basicBlock(b, x, 8, 16, 2);
  const y = head(b, x, 16);
  return {
    name: "resnet-basic",
    bytes: b.build("input", ["batch", 3, 16, 16], [y]),
    shape: [2, 3, 16, 16],
    units: ["layer", "residual", "residual", "layer"],
  };
}

function bottleneck(b: OnnxBuilder, x: string, cin: number, width: number, stride: number): string {
  const cout = width * 4;
  let y = b.op("Relu", [b.bn(b.conv(x, cin, width, 1), width)]);
  y = b.op("Relu", [b.bn(b.conv(y, width, width, 3, { stride }), width)]);
  y = b.bn(b.conv(y, width, cout, 1), cout);
  const short = stride !== 1 || cin !== cout ? b.bn(b.conv(x, cin, cout, 1, { stride }), cout) : x;
  return b.op("Relu", [b.op("Add", [y, short])]);
}

/** ResNet-50-style Bottlenecks (with and without downsample), BN kept. */
export function resnetBottleneck(seed = 2): Fixture {
  const b = new OnnxBuilder(new Random(seed));
  let x = b.op("Relu", [b.bn(b.conv("input", 3, 8, 3, { stride: 2 }), 8)]);
  x = bottleneck(b, x, 8, 4, 2);
  x = bottleneck(b, x, 16, 4, 1);
  const y = head(b, x, 16);
  return {
    name: "resnet-bottleneck",
    bytes: b.build("input", ["batch", 3, 16, 16], [y]),
    shape: [2, 3, 16, 16],
    units: ["layer", "residual", "residual", "layer"],
  };
}

function invertedResidual(
  b: OnnxBuilder,
  x: string,
  cin: number,
  cout: number,
  stride: number,
  t: number,
): string {
  const hid = cin * t;
  let y = x;
  if (t !== 1) y = b.relu6(b.bn(b.conv(y, cin, hid, 1), hid));
  y = b.relu6(b.bn(b.conv(y, hid, hid, 3, { stride, group: hid }), hid));
  y = b.bn(b.conv(y, hid, cout, 1), cout);
  return stride === 1 && cin === cout ? b.op("Add", [x, y]) : y;
}

/** MobileNetV2-style: inverted residuals with and without skip, ReLU6 as Clip, BN kept. */
export function mobilenetV2(seed = 3): Fixture {
  const b = new OnnxBuilder(new Random(seed));
  let x = b.relu6(b.bn(b.conv("input", 3, 8, 3, { stride: 2 }), 8));
  x = invertedResidual(b, x, 8, 8, 1, 1);
  x = invertedResidual(b, x, 8, 12, 2, 4);
  x = invertedResidual(b, x, 12, 12, 1, 4);
  x = b.relu6(b.bn(b.conv(x, 12, 32, 1), 32));
  const y = head(b, x, 32);
  return {
    name: "mobilenet-v2",
    bytes: b.build("input", ["batch", 3, 16, 16], [y]),
    shape: [2, 3, 16, 16],
    units: [
      "layer",
      "inverted-residual",
      "inverted-residual",
      "inverted-residual",
      "layer",
      "layer",
    ],
  };
}

/** MobileNetV3-style block: HardSwish, depthwise, squeeze-excite (GAP, Mul, HardSigmoid). */
export function mobilenetV3(seed = 4): Fixture {
  const b = new OnnxBuilder(new Random(seed), 14);
  let x = b.op("HardSwish", [b.conv("input", 3, 8, 3, { stride: 2, bias: true })]);
  const hid = 16;
  let y = b.op("HardSwish", [b.conv(x, 8, hid, 1, { bias: true })]);
  y = b.op("HardSwish", [
    b.conv(y, hid, hid, 3, { group: hid, bias: true, autoPad: "SAME_UPPER" }),
  ]);
  const s = b.op("GlobalAveragePool", [y]);
  let e = b.op("Relu", [b.conv(s, hid, 4, 1, { bias: true })]);
  e = b.op("HardSigmoid", [b.conv(e, 4, hid, 1, { bias: true })], { alpha: 1 / 6, beta: 0.5 });
  y = b.op("Mul", [y, e]);
  y = b.conv(y, hid, 8, 1, { bias: true });
  x = b.op("Add", [x, y]);
  x = b.op("HardSwish", [b.conv(x, 8, 24, 1, { bias: true })]);
  const out = head(b, x, 24);
  return {
    name: "mobilenet-v3",
    bytes: b.build("input", ["batch", 3, 16, 16], [out]),
    shape: [2, 3, 16, 16],
    units: ["layer", "inverted-residual", "layer", "layer"],
  };
}

/** RegNetX-style block: 1×1 → grouped 3×3 → 1×1 with a strided downsample shortcut. */
export function regnetX(seed = 5): Fixture {
  const b = new OnnxBuilder(new Random(seed));
  const x = b.op("Relu", [b.bn(b.conv("input", 3, 8, 3, { stride: 2 }), 8)]);
  let y = b.op("Relu", [b.bn(b.conv(x, 8, 16, 1), 16)]);
  y = b.op("Relu", [b.bn(b.conv(y, 16, 16, 3, { stride: 2, group: 4 }), 16)]);
  y = b.bn(b.conv(y, 16, 16, 1), 16);
  const sc = b.bn(b.conv(x, 8, 16, 1, { stride: 2 }), 16);
  const z = b.op("Relu", [b.op("Add", [y, sc])]);
  const out = head(b, z, 16);
  return {
    name: "regnetx",
    bytes: b.build("input", ["batch", 3, 16, 16], [out]),
    shape: [2, 3, 16, 16],
    units: ["layer", "residual", "layer"],
  };
}

function shuffleUnit(b: OnnxBuilder, x: string, c: number, useSplit: boolean): string {
  const h = c / 2;
  let x1: string, x2: string;
  if (useSplit) [x1, x2] = b.node("Split", [x, b.int64([h, h])], { axis: 1 }, 2);
  else {
    x1 = b.op("Slice", [x, b.int64([0]), b.int64([h]), b.int64([1])]);
    x2 = b.op("Slice", [x, b.int64([h]), b.int64(["9223372036854775807"]), b.int64([1])]);
  }
  let y = b.op("Relu", [b.bn(b.conv(x2, h, h, 1), h)]);
  y = b.bn(b.conv(y, h, h, 3, { group: h }), h);
  y = b.op("Relu", [b.bn(b.conv(y, h, h, 1), h)]);
  const cat = b.op("Concat", [x1, y], { axis: 1 });
  // channel shuffle: view(b, 2, c/2, H, W).transpose(1, 2).view(b, c, H, W)
  const r = b.op("Reshape", [cat, b.int64([0, 2, h, 8, 8])]);
  const t = b.op("Transpose", [r], { perm: [0, 2, 1, 3, 4] });
  return b.op("Reshape", [t, b.int64([-1, c, 8, 8])]);
}

/** ShuffleNetV2-style units: channel split (Split and Slice), branch, Concat, channel shuffle. */
export function shufflenetV2(seed = 6): Fixture {
  const b = new OnnxBuilder(new Random(seed));
  let x = b.op("Relu", [b.bn(b.conv("input", 3, 8, 3, { stride: 2 }), 8)]);
  x = shuffleUnit(b, x, 8, true);
  x = shuffleUnit(b, x, 8, false);
  const out = head(b, x, 8);
  return {
    name: "shufflenet-v2",
    bytes: b.build("input", ["batch", 3, 16, 16], [out]),
    shape: [2, 3, 16, 16],
    units: ["layer", "block", "block", "layer"],
  };
}

/** `[batch, ...rest]` as a Reshape target built the way torch exports it (Shape → Gather → …). */
function torchShape(b: OnnxBuilder, of: string, rest: number[]): string {
  const s = b.op("Shape", [of]);
  const n = b.op("Gather", [s, b.constant([0], false, [])], { axis: 0 });
  const nu = b.opset >= 13
    ? b.op("Unsqueeze", [n, b.constant([0])])
    : b.op("Unsqueeze", [n], { axes: [0] });
  return b.op("Concat", [nu, b.constant(rest)], { axis: 0 });
}

function layerNorm(b: OnnxBuilder, x: string, d: number, decomposed: boolean): string {
  const g = b.floats(b.rng.uniformArray(d, 0.8, 1.2), [d]);
  const be = b.floats(b.rng.uniformArray(d, -0.1, 0.1), [d]);
  if (!decomposed) {
    return b.op("LayerNormalization", [x, g, be], { axis: -1, epsilon: 1e-5 });
  }
  const mu = b.op("ReduceMean", [x], { axes: [-1], keepdims: 1 });
  const xc = b.op("Sub", [x, mu]);
  const v = b.op("ReduceMean", [b.op("Pow", [xc, b.constant([2], true, [])])], {
    axes: [-1],
    keepdims: 1,
  });
  const den = b.op("Sqrt", [b.op("Add", [v, b.constant([1e-5], true, [])])]);
  return b.op("Add", [b.op("Mul", [b.op("Div", [xc, den]), g]), be]);
}

function linear(b: OnnxBuilder, x: string, cin: number, cout: number): string {
  const w = b.weight([cin, cout], Math.sqrt(1 / cin));
  return b.op("Add", [b.op("MatMul", [x, w]), b.weight([cout], 0.05)]);
}

function vitBlock(
  b: OnnxBuilder,
  x: string,
  d: number,
  heads: number,
  tokens: number,
  decomposed: boolean,
): string {
  const hd = d / heads;
  const h = layerNorm(b, x, d, decomposed);
  const qkv = linear(b, h, d, 3 * d);
  const r = b.op("Reshape", [qkv, torchShape(b, h, [tokens, 3, heads, hd])]);
  const p = b.op("Transpose", [r], { perm: [2, 0, 3, 1, 4] });
  const [q, k, v] = [0, 1, 2].map((i) =>
    b.op("Gather", [p, b.constant([i], false, [])], { axis: 0 })
  );
  const kt = b.op("Transpose", [k], { perm: [0, 1, 3, 2] });
  const att = b.op("Softmax", [
    b.op("Mul", [b.op("MatMul", [q, kt]), b.constant([1 / Math.sqrt(hd)], true, [])]),
  ], {
    axis: -1,
  });
  const o = b.op("Transpose", [b.op("MatMul", [att, v])], { perm: [0, 2, 1, 3] });
  const o2 = b.op("Reshape", [o, torchShape(b, o, [tokens, d])]);
  x = b.op("Add", [x, linear(b, o2, d, d)]);
  const h2 = layerNorm(b, x, d, decomposed);
  const f = linear(b, h2, d, 2 * d);
  const gelu = b.op("Mul", [
    b.op("Mul", [f, b.constant([0.5], true, [])]),
    b.op("Add", [
      b.op("Erf", [b.op("Div", [f, b.constant([Math.SQRT2], true, [])])]),
      b.constant([1], true, []),
    ]),
  ]);
  return b.op("Add", [x, linear(b, gelu, 2 * d, d)]);
}

/** A tiny ViT: patch-embed Conv, class token, position Add, 2 blocks (fused and decomposed LN). */
export function tinyVit(seed = 7): Fixture {
  const b = new OnnxBuilder(new Random(seed), 17);
  const d = 16, tokens = 17;
  const pe = b.conv("input", 3, d, 4, { stride: 4, bias: true, pads: [0, 0, 0, 0] });
  const flat = b.op("Reshape", [pe, torchShape(b, pe, [d, -1])]);
  const seq = b.op("Transpose", [flat], { perm: [0, 2, 1] });
  const cls = b.weight([1, 1, d], 0.2);
  const clsB = b.op("Expand", [cls, torchShape(b, seq, [1, d])]);
  let x = b.op("Concat", [clsB, seq], { axis: 1 });
  x = b.op("Add", [x, b.weight([1, tokens, d], 0.1)]);
  x = vitBlock(b, x, d, 2, tokens, false);
  x = vitBlock(b, x, d, 2, tokens, true);
  x = layerNorm(b, x, d, false);
  const c = b.op("Gather", [x, b.constant([0], false, [])], { axis: 1 });
  const out = b.gemm(c, d, 10);
  return {
    name: "tiny-vit",
    bytes: b.build("input", ["batch", 3, 16, 16], [out]),
    shape: [2, 3, 16, 16],
    units: ["layer", "transformer", "transformer", "layer"],
  };
}

/** Torch-export shape arithmetic in a CNN: Shape → Gather → Unsqueeze → Concat → Reshape → Gemm. */
export function torchFlatten(seed = 8): Fixture {
  const b = new OnnxBuilder(new Random(seed), 11);
  const x = b.op("Relu", [b.conv("input", 3, 4, 3, { stride: 2, bias: true })]);
  const pooled = b.op("AveragePool", [x], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 });
  const flat = b.op("Reshape", [pooled, torchShape(b, pooled, [-1])]);
  const out = b.gemm(flat, 4 * 3 * 3, 5);
  return {
    name: "torch-flatten",
    bytes: b.build("input", ["batch", 3, 11, 11], [out]),
    shape: [2, 3, 11, 11],
    units: ["layer", "layer"],
  };
}

/** Every fixture. */
export const FIXTURES: (() => Fixture)[] = [
  resnetBasic,
  resnetBottleneck,
  mobilenetV2,
  mobilenetV3,
  regnetX,
  shufflenetV2,
  tinyVit,
  torchFlatten,
];
