/**
 * The proxy models' architectures as {@linkcode Graph} builders: small ResNet, MobileNetV2 (width
 * 1.0 and 0.5) and ViT networks for Fashion-MNIST, written as the ONNX inference graphs torch
 * would export (Conv → BatchNormalization → Relu/Clip, Add, GlobalAveragePool, Flatten, Gemm;
 * MatMul + Add, LayerNormalization, Softmax, Erf-GELU, Reshape, Transpose, Concat, Gather).
 *
 * Input: one 28 × 28 grey channel, `[N, 1, 28, 28]`, normalised with the Fashion-MNIST mean and
 * std (no padding to 32: every architecture divides 28 cleanly — strided 3 × 3 convolutions with
 * padding 1 give 28 → 14 → 7 → 4, and the ViT's 7 × 7 patches give a 4 × 4 grid).
 * Output: `logits` `[N, 10]`.
 *
 * Weights are drawn from a seeded {@linkcode Random}: convolutions Kaiming-normal (fan-out, as
 * torchvision), linear layers as torchvision/timm do, BatchNorm γ = 1, β = 0 with running
 * statistics 0 / 1. BatchNorm nodes hold running statistics, so a built graph is the inference
 * graph; `train.ts` runs the same nodes with batch statistics for training.
 *
 * @example
 * ```ts
 * import { buildProxy } from "./architectures.ts";
 * import { execute } from "../execute.ts";
 * import { Random } from "../../runtime/mod.ts";
 * const g = buildProxy("proxy_resnet", 0);
 * const { logits } = execute(g, { feeds: { input: new Random(1).randn([2, 1, 28, 28]) } });
 * console.log(logits.shape); // [2, 10]
 * ```
 *
 * @module
 */
import { Random, sizeOf, type Tensor, upload } from "../../runtime/mod.ts";
import type { AttrValue, Graph, HostConstant, Node } from "../graph.ts";

/** The names of the proxy architectures. */
export const PROXY_NAMES = ["proxy_resnet", "proxy_mbv2", "proxy_mbv2_w05", "proxy_vit"] as const;
/** A proxy architecture name. */
export type ProxyName = typeof PROXY_NAMES[number];

/** The input every proxy model takes: `[N, 1, 28, 28]`. */
export const PROXY_INPUT_SHAPE: readonly [1, 28, 28] = [1, 28, 28];
/** Fashion-MNIST has ten classes. */
export const PROXY_CLASSES = 10;

/** Builds one proxy model's inference graph with weights drawn from `seed`. */
export function buildProxy(name: ProxyName, seed: number): Graph {
  switch (name) {
    case "proxy_resnet":
      return buildResNet({ name, seed });
    case "proxy_mbv2":
      return buildMobileNetV2({ name, seed, width: 1 });
    case "proxy_mbv2_w05":
      return buildMobileNetV2({ name, seed, width: 0.5 });
    case "proxy_vit":
      return buildViT({ name, seed });
    default:
      throw new RangeError(
        `Unknown proxy model "${name}": expected one of ${PROXY_NAMES.join(", ")}`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// A small graph builder

/** Writes nodes, initializers and host constants; names follow torch's module paths. */
class Builder {
  readonly nodes: Node[] = [];
  readonly initializers = new Map<string, Tensor>();
  readonly constants = new Map<string, HostConstant>();
  readonly rng: Random;

  constructor(seed: number) {
    this.rng = new Random(seed);
  }

  node(
    opType: string,
    name: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
  ): string {
    if (this.nodes.some((n) => n.name === name)) {
      throw new RangeError(`Duplicate node name "${name}"`);
    }
    const out = `${name}.out`;
    this.nodes.push({ name, opType, inputs, outputs: [out], attrs });
    return out;
  }

  param(name: string, shape: number[], data: Float32Array): string {
    if (data.length !== sizeOf(shape)) {
      throw new RangeError(`${name}: ${data.length} values for [${shape}]`);
    }
    this.initializers.set(name, upload(data, shape));
    return name;
  }

  /** An integer host constant (Reshape shapes, Gather indices, Concat pieces). */
  ints(name: string, data: number[], shape = [data.length]): string {
    this.constants.set(name, { data, shape });
    return name;
  }

  /** A float host constant (Clip bounds, scalar multipliers). */
  float(name: string, value: number): string {
    this.constants.set(name, { data: [value], shape: [], float: true });
    return name;
  }

  normal(n: number, std: number): Float32Array {
    return this.rng.normalArray(n, 0, std);
  }

  /** Normal values truncated at ±2 std by redrawing (timm's `trunc_normal_`). */
  truncNormal(n: number, std: number): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let v = this.rng.normal();
      while (Math.abs(v) > 2) v = this.rng.normal();
      a[i] = v * std;
    }
    return a;
  }

  uniform(n: number, bound: number): Float32Array {
    return this.rng.uniformArray(n, -bound, bound);
  }

  /** Conv without bias, Kaiming-normal fan-out weights (torchvision's ResNet/MobileNetV2 init). */
  conv(
    name: string,
    x: string,
    cin: number,
    cout: number,
    k: number,
    stride = 1,
    groups = 1,
  ): string {
    const shape = [cout, cin / groups, k, k];
    const w = this.param(
      `${name}.weight`,
      shape,
      this.normal(sizeOf(shape), Math.sqrt(2 / (cout * k * k))),
    );
    const p = (k - 1) / 2;
    return this.node("Conv", name, [x, w], {
      dilations: [1, 1],
      group: groups,
      kernel_shape: [k, k],
      pads: [p, p, p, p],
      strides: [stride, stride],
    });
  }

  bn(name: string, x: string, c: number): string {
    const one = new Float32Array(c).fill(1), zero = new Float32Array(c);
    return this.node("BatchNormalization", name, [
      x,
      this.param(`${name}.weight`, [c], one),
      this.param(`${name}.bias`, [c], zero.slice()),
      this.param(`${name}.running_mean`, [c], zero.slice()),
      this.param(`${name}.running_var`, [c], one.slice()),
    ], { epsilon: 1e-5, momentum: 0.9 });
  }

  relu(name: string, x: string): string {
    return this.node("Relu", name, [x]);
  }

  relu6(name: string, x: string): string {
    return this.node("Clip", name, [x, this.float("relu6.min", 0), this.float("relu6.max", 6)]);
  }

  add(name: string, a: string, b: string): string {
    return this.node("Add", name, [a, b]);
  }

  /** torch `nn.Linear` as exported for a 2-D input: Gemm with `transB = 1` and a `[out, in]` weight. */
  gemm(
    name: string,
    x: string,
    w: Float32Array,
    b: Float32Array,
    cin: number,
    cout: number,
  ): string {
    return this.node("Gemm", name, [
      x,
      this.param(`${name}.weight`, [cout, cin], w),
      this.param(`${name}.bias`, [cout], b),
    ], { alpha: 1, beta: 1, transB: 1 });
  }

  /** torch `nn.Linear` on a 3-D input, as exported: MatMul by the `[in, out]` weight, then Add. */
  linear(name: string, x: string, cin: number, cout: number, std: number): string {
    const w = this.param(`${name}.weight`, [cin, cout], this.truncNormal(cin * cout, std));
    const y = this.node("MatMul", `${name}.matmul`, [x, w]);
    return this.node("Add", `${name}.add`, [
      y,
      this.param(`${name}.bias`, [cout], new Float32Array(cout)),
    ]);
  }

  layerNorm(name: string, x: string, d: number): string {
    return this.node("LayerNormalization", name, [
      x,
      this.param(`${name}.weight`, [d], new Float32Array(d).fill(1)),
      this.param(`${name}.bias`, [d], new Float32Array(d)),
    ], { axis: -1, epsilon: 1e-6 });
  }

  /** Names the last node's output `logits` and returns the graph. */
  finish(name: string, output: string): Graph {
    const last = this.nodes.at(-1)!;
    if (last.outputs[0] !== output) {
      throw new RangeError(`${name}: the last node must produce the output`);
    }
    last.outputs = ["logits"];
    return {
      name,
      inputs: [{ name: "input", shape: ["N", ...PROXY_INPUT_SHAPE] }],
      outputs: [{ name: "logits", shape: ["N", PROXY_CLASSES] }],
      nodes: this.nodes,
      initializers: this.initializers,
      constants: this.constants,
      opset: 17,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// ResNet

/** Options of {@linkcode buildResNet}. */
export interface ResNetOptions {
  name?: string;
  seed: number;
  /** Channels of the three stages (default 16, 32, 64). */
  widths?: [number, number, number];
  /** BasicBlocks per stage (default 2, 2, 2). */
  blocks?: [number, number, number];
}

/**
 * A small ResNet: stem 3 × 3 conv (stride 2)-BN-ReLU, three stages of BasicBlocks (conv-BN-ReLU,
 * conv-BN, residual Add, ReLU); the first block of stages 2 and 3 has stride 2 and a 1 × 1 conv-BN
 * shortcut. Then GlobalAveragePool, Flatten, and a Gemm classifier. Default: about 0.175 M
 * parameters, stages at 14 × 14, 7 × 7 and 4 × 4 (the stride-2 stem stands in for ImageNet
 * ResNet's stem and max-pool, and keeps training on two CPU cores within minutes).
 */
export function buildResNet(o: ResNetOptions): Graph {
  const widths = o.widths ?? [16, 32, 64];
  const blocks = o.blocks ?? [2, 2, 2];
  const b = new Builder(o.seed);
  let x = b.relu("relu", b.bn("bn1", b.conv("conv1", "input", 1, widths[0], 3, 2), widths[0]));
  let cin = widths[0];
  widths.forEach((c, s) => {
    for (let i = 0; i < blocks[s]; i++) {
      const p = `layer${s + 1}.${i}`;
      const stride = s > 0 && i === 0 ? 2 : 1;
      let y = b.relu(`${p}.relu1`, b.bn(`${p}.bn1`, b.conv(`${p}.conv1`, x, cin, c, 3, stride), c));
      y = b.bn(`${p}.bn2`, b.conv(`${p}.conv2`, y, c, c, 3), c);
      const shortcut = stride !== 1 || cin !== c
        ? b.bn(`${p}.downsample.1`, b.conv(`${p}.downsample.0`, x, cin, c, 1, stride), c)
        : x;
      x = b.relu(`${p}.relu2`, b.add(`${p}.add`, y, shortcut));
      cin = c;
    }
  });
  x = b.node("Flatten", "flatten", [b.node("GlobalAveragePool", "avgpool", [x])], { axis: 1 });
  const bound = 1 / Math.sqrt(cin);
  const out = b.gemm(
    "fc",
    x,
    b.uniform(cin * PROXY_CLASSES, bound),
    b.uniform(PROXY_CLASSES, bound),
    cin,
    PROXY_CLASSES,
  );
  return b.finish(o.name ?? "proxy_resnet", out);
}

// ---------------------------------------------------------------------------------------------
// MobileNetV2

/** Options of {@linkcode buildMobileNetV2}. */
export interface MobileNetV2Options {
  name?: string;
  seed: number;
  /** Width multiplier (default 1). */
  width?: number;
}

/**
 * Inverted-residual settings `[expansion t, channels c, repeats n, first stride s]`, scaled down
 * from MobileNetV2's ImageNet table for a 28 × 28 input (stride-2 stem, then 14 → 7 → 4).
 */
export const MBV2_SETTINGS: readonly (readonly [number, number, number, number])[] = [
  [1, 8, 1, 1],
  [6, 16, 2, 2],
  [6, 24, 2, 1],
  [6, 32, 2, 2],
  [6, 48, 1, 1],
];
const MBV2_STEM = 16;
const MBV2_LAST = 192;

/** torchvision's `_make_divisible`, with divisor 4 for these narrow networks. */
export function makeDivisible(v: number, divisor = 4): number {
  const n = Math.max(
    divisor,
    Math.floor(v + divisor / 2) - (Math.floor(v + divisor / 2) % divisor),
  );
  return n < 0.9 * v ? n + divisor : n;
}

/**
 * A MobileNetV2: stem 3 × 3 conv (stride 2)-BN-ReLU6, inverted residual blocks (1 × 1 expansion
 * conv-BN-ReLU6 when t > 1, 3 × 3 depthwise conv-BN-ReLU6, 1 × 1 projection conv-BN, and a skip
 * Add where the stride is 1 and the channels match), last 1 × 1 conv-BN-ReLU6, GlobalAveragePool,
 * Flatten, Gemm. About 70 k parameters at width 1, 21 k at width 0.5.
 */
export function buildMobileNetV2(o: MobileNetV2Options): Graph {
  const width = o.width ?? 1;
  const b = new Builder(o.seed);
  const stem = makeDivisible(MBV2_STEM * width);
  let x = b.relu6(
    "features.0.2",
    b.bn("features.0.1", b.conv("features.0.0", "input", 1, stem, 3, 2), stem),
  );
  let cin = stem, f = 1;
  for (const [t, c, n, s] of MBV2_SETTINGS) {
    const cout = makeDivisible(c * width);
    for (let i = 0; i < n; i++) {
      const p = `features.${f++}`;
      const stride = i === 0 ? s : 1;
      const hidden = cin * t;
      let y = x, l = 0;
      if (t !== 1) {
        y = b.relu6(
          `${p}.conv.${l}.2`,
          b.bn(`${p}.conv.${l}.1`, b.conv(`${p}.conv.${l}.0`, y, cin, hidden, 1), hidden),
        );
        l++;
      }
      y = b.relu6(
        `${p}.conv.${l}.2`,
        b.bn(
          `${p}.conv.${l}.1`,
          b.conv(`${p}.conv.${l}.0`, y, hidden, hidden, 3, stride, hidden),
          hidden,
        ),
      );
      l++;
      y = b.bn(`${p}.conv.${l + 1}`, b.conv(`${p}.conv.${l}`, y, hidden, cout, 1), cout);
      x = stride === 1 && cin === cout ? b.add(`${p}.add`, x, y) : y;
      cin = cout;
    }
  }
  const last = makeDivisible(MBV2_LAST * Math.max(1, width));
  const p = `features.${f}`;
  x = b.relu6(`${p}.2`, b.bn(`${p}.1`, b.conv(`${p}.0`, x, cin, last, 1), last));
  x = b.node("Flatten", "flatten", [b.node("GlobalAveragePool", "avgpool", [x])], { axis: 1 });
  const out = b.gemm(
    "classifier.1",
    x,
    b.normal(last * PROXY_CLASSES, 0.01),
    new Float32Array(PROXY_CLASSES),
    last,
    PROXY_CLASSES,
  );
  return b.finish(o.name ?? "proxy_mbv2", out);
}

// ---------------------------------------------------------------------------------------------
// ViT

/** Options of {@linkcode buildViT}. */
export interface ViTOptions {
  name?: string;
  seed: number;
  /** Embedding width (default 64). */
  dim?: number;
  /** Transformer blocks (default 4). */
  depth?: number;
  /** Attention heads (default 4). */
  heads?: number;
  /** MLP hidden width as a multiple of `dim` (default 2). */
  mlpRatio?: number;
  /** Patch size (default 7: a 4 × 4 grid of tokens on 28 × 28). */
  patch?: number;
}

/**
 * A ViT as timm exports it: 7 × 7 patch-embedding Conv (16 patch tokens + a class token) → Reshape/Transpose to tokens, a class
 * token expanded to the batch (Shape → Gather → Unsqueeze → Concat → Expand) and concatenated,
 * a learned position embedding, pre-norm blocks (LayerNormalization; qkv MatMul + Add, Reshape,
 * Transpose, Gather of q/k/v, scaled QKᵀ MatMul, Softmax, AV MatMul, projection; MLP with
 * erf-GELU), a final LayerNormalization, the class token (Gather) and a Gemm head.
 * About 0.14 M parameters at the defaults.
 */
export function buildViT(o: ViTOptions): Graph {
  const d = o.dim ?? 64, depth = o.depth ?? 4, heads = o.heads ?? 4;
  const hidden = d * (o.mlpRatio ?? 2), patch = o.patch ?? 7;
  const dh = d / heads;
  if (!Number.isInteger(dh)) {
    throw new RangeError(`ViT: dim ${d} is not divisible by ${heads} heads`);
  }
  const grid = PROXY_INPUT_SHAPE[1] / patch;
  if (!Number.isInteger(grid)) throw new RangeError(`ViT: patch ${patch} does not divide 28`);
  const tokens = grid * grid + 1;
  const b = new Builder(o.seed);

  // Patch embedding: torch's default Conv init (uniform ±1/sqrt(fan_in)) for weight and bias.
  const fanIn = patch * patch;
  const bound = 1 / Math.sqrt(fanIn);
  const pw = b.param("patch_embed.proj.weight", [d, 1, patch, patch], b.uniform(d * fanIn, bound));
  const pb = b.param("patch_embed.proj.bias", [d], b.uniform(d, bound));
  let x = b.node("Conv", "patch_embed.proj", ["input", pw, pb], {
    dilations: [1, 1],
    group: 1,
    kernel_shape: [patch, patch],
    pads: [0, 0, 0, 0],
    strides: [patch, patch],
  });
  x = b.node("Reshape", "patch_embed.flatten", [x, b.ints("shape.tokens_nd", [0, d, -1])]);
  x = b.node("Transpose", "patch_embed.transpose", [x], { perm: [0, 2, 1] });

  // Class token, expanded to the batch size as torch exports `cls_token.expand(B, -1, -1)`.
  const cls = b.param("cls_token", [1, 1, d], b.truncNormal(d, 1e-6));
  const shape = b.node("Shape", "cls.shape", ["input"]);
  const n = b.node("Gather", "cls.batch", [shape, b.ints("index.0", [0], [])], { axis: 0 });
  const n1 = b.node("Unsqueeze", "cls.batch_1d", [n, b.ints("axes.0", [0])]);
  const target = b.node("Concat", "cls.expand_shape", [n1, b.ints("shape.cls_rest", [1, d])], {
    axis: 0,
  });
  const clsB = b.node("Expand", "cls.expand", [cls, target]);
  x = b.node("Concat", "cls.concat", [clsB, x], { axis: 1 });
  const pos = b.param("pos_embed", [1, tokens, d], b.truncNormal(tokens * d, 0.02));
  x = b.node("Add", "pos_embed.add", [x, pos]);

  const scale = b.float("attn.scale", 1 / Math.sqrt(dh));
  const qkvShape = b.ints("shape.qkv", [0, 0, 3, heads, dh]);
  const mergeShape = b.ints("shape.merge_heads", [0, 0, d]);
  for (let i = 0; i < depth; i++) {
    const p = `blocks.${i}`;
    // Attention.
    let h = b.layerNorm(`${p}.norm1`, x, d);
    h = b.linear(`${p}.attn.qkv`, h, d, 3 * d, 0.02);
    h = b.node("Reshape", `${p}.attn.reshape_qkv`, [h, qkvShape]);
    h = b.node("Transpose", `${p}.attn.permute_qkv`, [h], { perm: [2, 0, 3, 1, 4] });
    const [q, k, v] = [0, 1, 2].map((j) =>
      b.node("Gather", `${p}.attn.${"qkv"[j]}`, [h, b.ints(`index.${j}`, [j], [])], { axis: 0 })
    );
    const qs = b.node("Mul", `${p}.attn.scale_q`, [q, scale]);
    const kt = b.node("Transpose", `${p}.attn.transpose_k`, [k], { perm: [0, 1, 3, 2] });
    let a = b.node("MatMul", `${p}.attn.qk`, [qs, kt]);
    a = b.node("Softmax", `${p}.attn.softmax`, [a], { axis: -1 });
    a = b.node("MatMul", `${p}.attn.av`, [a, v]);
    a = b.node("Transpose", `${p}.attn.merge_transpose`, [a], { perm: [0, 2, 1, 3] });
    a = b.node("Reshape", `${p}.attn.merge_reshape`, [a, mergeShape]);
    a = b.linear(`${p}.attn.proj`, a, d, d, 0.02);
    x = b.add(`${p}.add1`, x, a);
    // MLP with the exact (erf) GELU as torch exports it: x * 0.5 * (1 + erf(x / sqrt 2)).
    let m = b.layerNorm(`${p}.norm2`, x, d);
    m = b.linear(`${p}.mlp.fc1`, m, d, hidden, 0.02);
    const e = b.node("Erf", `${p}.mlp.gelu.erf`, [
      b.node("Div", `${p}.mlp.gelu.div`, [m, b.float("gelu.sqrt2", Math.SQRT2)]),
    ]);
    const g = b.node("Mul", `${p}.mlp.gelu.mul`, [
      m,
      b.node("Add", `${p}.mlp.gelu.add`, [e, b.float("gelu.one", 1)]),
    ]);
    m = b.node("Mul", `${p}.mlp.gelu.half`, [g, b.float("gelu.half", 0.5)]);
    m = b.linear(`${p}.mlp.fc2`, m, hidden, d, 0.02);
    x = b.add(`${p}.add2`, x, m);
  }
  x = b.layerNorm("norm", x, d);
  x = b.node("Gather", "cls.select", [x, b.ints("index.0", [0], [])], { axis: 1 });
  const out = b.gemm(
    "head",
    x,
    b.truncNormal(d * PROXY_CLASSES, 0.02),
    new Float32Array(PROXY_CLASSES),
    d,
    PROXY_CLASSES,
  );
  return b.finish(o.name ?? "proxy_vit", out);
}

/** The number of trainable parameters (initializers other than BatchNorm running statistics). */
export function countParams(g: Graph): number {
  let n = 0;
  for (const [name, t] of g.initializers) if (!/running_(mean|var)$/.test(name)) n += t.size;
  return n;
}
