/**
 * FDDA's class-conditional generator, `Generator_imagenet` of zysxmu/FDDA at 3d50d5f
 * (`main_DBNS_CBNS.py` L33–74; the GDFQ generator), with `CategoricalConditionalBatchNorm2d`
 * (`conditional_batchnorm.py`):
 *
 * `z [B, 100] → Linear → [B, 128, s, s] → cBN(ε 1e-5) → ×2 nearest → Conv3×3(128) → cBN(ε 0.8)
 * → LeakyReLU(0.2) → ×2 nearest → Conv3×3(64) → cBN(ε 0.8) → LeakyReLU(0.2) → Conv3×3(C) → tanh
 * → BN(affine = False)`, with `s = img_size / 4`.
 *
 * The official layer list, scaled to the model's input: `s` is the input size over 4 (56 for
 * 224², 7 for the 28² proxies) and the last conv has the input's channel count. The conditional
 * BNs are affine-free BNs on the batch's statistics followed by a per-class scale and shift
 * (embeddings initialised to 1 and 0); `CategoricalConditionalBatchNorm2d(1000, 128, 0.8)` passes
 * 0.8 as its third positional argument, which is `eps`. The generator always runs in training
 * mode (`self.generator.train()`), so every BN normalises with the batch's own statistics and the
 * running statistics are never read (none are kept here). Linear and conv weights and biases
 * start as PyTorch's defaults, `U(−1/√fan_in, 1/√fan_in)`, drawn from the run's seeded
 * generator.
 *
 * @module
 */
import {
  add,
  batchStats,
  conv2d,
  div,
  gather,
  gemm,
  keep,
  leakyRelu,
  mul,
  ones,
  type Random,
  reshape,
  sqrt,
  sub,
  tanh,
  type Tensor,
  upload,
  upsampleNearest,
  zeros,
} from "../../runtime/mod.ts";

/** What the generator makes. */
export interface GeneratorShape {
  /** Latent size (100). */
  latent: number;
  /** Number of classes (the model's logits). */
  classes: number;
  /** Image channels and size (square, divisible by 4). */
  channels: number;
  size: number;
  /** Widths of the official layers (128, 64). */
  widths?: [number, number];
}

const chan = (t: Tensor) => reshape(t, [1, t.size, 1, 1]);

/** Affine-free BN on the batch's statistics (training mode). */
function normalize(x: Tensor, eps: number): Tensor {
  const s = batchStats(x);
  return div(sub(x, chan(s.mean)), sqrt(add(chan(s.var), eps)));
}

/** `CategoricalConditionalBatchNorm2d`: normalise, then the class's scale and shift. */
function condBn(x: Tensor, w: Tensor, b: Tensor, labels: Tensor, eps: number): Tensor {
  const [n, c] = x.shape;
  const g = reshape(gather(w, labels, 0), [n, c, 1, 1]);
  const h = reshape(gather(b, labels, 0), [n, c, 1, 1]);
  return add(mul(normalize(x, eps), g), h);
}

/** The generator's parameters (leaves that accumulate gradients). */
export interface GeneratorParams {
  l1w: Tensor;
  l1b: Tensor;
  bn0w: Tensor;
  bn0b: Tensor;
  c1w: Tensor;
  c1b: Tensor;
  bn1w: Tensor;
  bn1b: Tensor;
  c2w: Tensor;
  c2b: Tensor;
  bn2w: Tensor;
  bn2b: Tensor;
  c3w: Tensor;
  c3b: Tensor;
}

/** The conditional generator. */
export class Generator {
  private constructor(readonly shape: Required<GeneratorShape>, readonly p: GeneratorParams) {}

  /** A generator with PyTorch's default initialisation, drawn from `rng`. */
  static create(shape: GeneratorShape, rng: Random): Generator {
    if (shape.size % 4 !== 0) {
      throw new RangeError(`The generator needs an input size divisible by 4, got ${shape.size}`);
    }
    const s = { ...shape, widths: shape.widths ?? [128, 64] as [number, number] };
    const [w1, w2] = s.widths;
    const init = s.size / 4;
    const uniform = (dims: number[], fanIn: number) => {
      const bound = 1 / Math.sqrt(fanIn);
      const n = dims.reduce((a, b) => a * b, 1);
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = (rng.uniform() * 2 - 1) * bound;
      return keep(upload(d, dims)).variable();
    };
    const embC = (c: number, v: number) =>
      keep(v ? ones([s.classes, c]) : zeros([s.classes, c])).variable();
    const p: GeneratorParams = {
      l1w: uniform([w1 * init * init, s.latent], s.latent),
      l1b: uniform([w1 * init * init], s.latent),
      bn0w: embC(w1, 1),
      bn0b: embC(w1, 0),
      c1w: uniform([w1, w1, 3, 3], w1 * 9),
      c1b: uniform([w1], w1 * 9),
      bn1w: embC(w1, 1),
      bn1b: embC(w1, 0),
      c2w: uniform([w2, w1, 3, 3], w1 * 9),
      c2b: uniform([w2], w1 * 9),
      bn2w: embC(w2, 1),
      bn2b: embC(w2, 0),
      c3w: uniform([s.channels, w2, 3, 3], w2 * 9),
      c3b: uniform([s.channels], w2 * 9),
    };
    return new Generator(s, p);
  }

  /** Every parameter (what the optimiser updates). */
  parameters(): Tensor[] {
    return Object.values(this.p);
  }

  /** Images `[B, C, size, size]` for latents `z` `[B, latent]` and class labels. */
  forward(z: Tensor, labels: ArrayLike<number>): Tensor {
    const { p } = this;
    const [w1] = this.shape.widths;
    const init = this.shape.size / 4;
    const n = z.shape[0];
    if (labels.length !== n) throw new RangeError(`${labels.length} labels for ${n} latents`);
    const lab = upload(Int32Array.from(labels), [n]);
    const pad = { pads: [1, 1, 1, 1] as [number, number, number, number] };
    let x = reshape(gemm(z, p.l1w, p.l1b, { transB: true }), [n, w1, init, init]);
    x = condBn(x, p.bn0w, p.bn0b, lab, 1e-5);
    x = upsampleNearest(x, [2, 2]);
    x = conv2d(x, p.c1w, p.c1b, pad);
    x = leakyRelu(condBn(x, p.bn1w, p.bn1b, lab, 0.8), 0.2);
    x = upsampleNearest(x, [2, 2]);
    x = conv2d(x, p.c2w, p.c2b, pad);
    x = leakyRelu(condBn(x, p.bn2w, p.bn2b, lab, 0.8), 0.2);
    x = tanh(conv2d(x, p.c3w, p.c3b, pad));
    return normalize(x, 1e-5);
  }

  /** Releases the parameters. */
  dispose(): void {
    for (const t of this.parameters()) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}
