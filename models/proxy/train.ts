/**
 * Trains the proxy models on the Fashion-MNIST train split with the runtime, evaluates them on
 * the test split, and writes `models/proxy/<name>.onnx` plus `<name>.json` (the training record).
 *
 * Training runs the inference graph's own nodes through `execute.ts`'s op table, except that
 * BatchNormalization uses the batch's statistics and updates the running statistics with
 * momentum 0.1 (torch: `running = 0.9 running + 0.1 batch`, the variance unbiased). The graph that
 * is exported is the inference graph with those running statistics.
 *
 * Determinism: initial weights come from `Random(seed)`, the shuffling from `Random(seed, 7)`, and
 * every op is deterministic on the cpu backend, so one seed gives the same weights bit for bit.
 *
 * The command is `deno task train-proxy` (`cli/train_proxy.ts`).
 *
 * @module
 */
import { createHash } from "node:crypto";
import {
  Adam,
  add,
  argmax,
  backward,
  cosineLr,
  crossEntropy,
  div,
  mul,
  noGrad,
  type Optimizer,
  Random,
  relu,
  reshape,
  type Schedule,
  SGD,
  sqrt,
  sub,
  sum,
  type Tensor,
  tidy,
  upload,
} from "../../runtime/mod.ts";
import { execute, type OpContext, runNode, type Value } from "../execute.ts";
import type { Graph, Node } from "../graph.ts";
import { toOnnx } from "../export.ts";
import { loadFashionMnist } from "../../datasets/fashion_mnist.ts";
import { buildProxy, countParams, type ProxyName } from "./architectures.ts";
import { PROXY_MODELS } from "./mod.ts";

/** A training recipe: what the benchmark fixes for one proxy model. */
export interface Recipe {
  optimizer: "sgd" | "adam";
  lr: number;
  momentum?: number;
  weightDecay: number;
  epochs: number;
  batch: number;
  /** Linear warm-up steps before the cosine decay. */
  warmup: number;
  /** Train on the first `subset` images of a seeded permutation of the train split (all if 0). */
  subset: number;
}

/**
 * The recipes the committed models were trained with: one pass over a seeded subset of the train
 * split, sized to train in about 10 minutes on two shared CPU cores (each `<name>.json` records
 * the measured wall-clock).
 */
export const RECIPES: Record<ProxyName, Recipe> = {
  proxy_resnet: {
    optimizer: "sgd",
    lr: 0.05,
    momentum: 0.9,
    weightDecay: 5e-4,
    epochs: 1,
    batch: 64,
    warmup: 30,
    subset: 24000,
  },
  proxy_mbv2: {
    optimizer: "sgd",
    lr: 0.05,
    momentum: 0.9,
    weightDecay: 4e-5,
    epochs: 1,
    batch: 64,
    warmup: 30,
    subset: 12800,
  },
  proxy_mbv2_w05: {
    optimizer: "sgd",
    lr: 0.05,
    momentum: 0.9,
    weightDecay: 4e-5,
    epochs: 1,
    batch: 64,
    warmup: 30,
    subset: 20000,
  },
  proxy_vit: {
    optimizer: "adam",
    lr: 1e-3,
    weightDecay: 0,
    epochs: 1,
    batch: 64,
    warmup: 50,
    subset: 32000,
  },
};

const BN_MOMENTUM = 0.1;

/** The trainable initializers of a graph (everything but BatchNorm running statistics). */
export function trainableParams(g: Graph): Tensor[] {
  const running = new Set<string>();
  for (const n of g.nodes) {
    if (n.opType === "BatchNormalization") running.add(n.inputs[3]).add(n.inputs[4]);
  }
  return [...g.initializers].filter(([name]) => !running.has(name)).map(([, t]) => t);
}

/**
 * BatchNorm with batch statistics, as `x * a + b` with `a = γ / sqrt(var + eps)` and
 * `b = β − mean · a`: the function of the runtime's `batchNormTrain` with fewer full-size passes
 * (the biased variance is `E[x²] − E[x]²`, clamped at 0; inputs here are O(1), so float32 is
 * ample).
 */
function batchNormBatchStats(x: Tensor, gamma: Tensor, beta: Tensor, eps: number) {
  const c = x.shape[1];
  const n = x.size / c;
  const axes = [0, 2, 3];
  const mean = div(sum(x, axes, true), n);
  const meanSq = div(sum(mul(x, x), axes, true), n);
  const variance = relu(sub(meanSq, mul(mean, mean)));
  const a = div(reshape(gamma, [1, c, 1, 1]), sqrt(add(variance, eps)));
  const b = sub(reshape(beta, [1, c, 1, 1]), mul(mean, a));
  return { y: add(mul(x, a), b), mean, variance, n };
}

/**
 * Runs `graph` on `input` in training mode and returns the logits. BatchNormalization nodes use
 * batch statistics; their running statistics are updated in place (momentum 0.1, unbiased
 * variance). Call inside `tidy`.
 */
export function trainForward(graph: Graph, input: Tensor): Tensor {
  const env = new Map<string, Value>([[graph.inputs[0].name, input]]);
  const ctx: OpContext = { backend: input.backend, host: false, opset: graph.opset ?? 17 };
  const read = (node: Node, name: string): Value | undefined => {
    if (!name) return undefined;
    const v = env.get(name) ?? graph.initializers.get(name) ?? graph.constants.get(name);
    if (v === undefined) {
      throw new ReferenceError(`trainForward: "${name}" (node "${node.name}") is not available`);
    }
    return v;
  };
  for (const node of graph.nodes) {
    const ins = node.inputs.map((name) => read(node, name));
    if (node.opType === "BatchNormalization") {
      const [x, gamma, beta, runMean, runVar] = ins as Tensor[];
      const eps = (node.attrs.epsilon as number | undefined) ?? 1e-5;
      const s = batchNormBatchStats(x, gamma, beta, eps);
      noGrad(() => {
        const m = BN_MOMENTUM;
        runMean.assign(add(mul(runMean, 1 - m), mul(reshape(s.mean, runMean.shape), m)));
        const unbiased = mul(reshape(s.variance, runVar.shape), s.n / (s.n - 1));
        runVar.assign(add(mul(runVar, 1 - m), mul(unbiased, m)));
      });
      env.set(node.outputs[0], s.y);
      continue;
    }
    const outs = runNode(node, ins, ctx);
    node.outputs.forEach((name, i) => name && env.set(name, outs[i]));
  }
  const out = env.get(graph.outputs[0].name);
  if (!out || !("dtype" in out)) {
    throw new TypeError(`trainForward: the graph output is not a tensor`);
  }
  return out;
}

/** Fashion-MNIST as flat arrays: normalised images (`N × 784`) and labels, per split. */
export interface ProxyData {
  trainImages: Float32Array;
  trainLabels: ArrayLike<number>;
  testImages: Float32Array;
  testLabels: ArrayLike<number>;
}

const PIXELS = 28 * 28;

function gatherBatch(images: Float32Array, ids: ArrayLike<number>): Float32Array {
  const out = new Float32Array(ids.length * PIXELS);
  for (let i = 0; i < ids.length; i++) {
    out.set(images.subarray(ids[i] * PIXELS, (ids[i] + 1) * PIXELS), i * PIXELS);
  }
  return out;
}

/** Linear warm-up over `warmup` steps, then cosine decay to 0 at `total`. */
export function warmupCosine(lr: number, warmup: number, total: number): Schedule {
  const cos = cosineLr(lr, Math.max(1, total - warmup));
  return (s) => (s < warmup ? (lr * (s + 1)) / warmup : cos(s - warmup));
}

/** Top-1 accuracy (%) of the inference graph on `[start, end)` of a split, through `execute`. */
export function evaluate(
  graph: Graph,
  images: Float32Array,
  labels: ArrayLike<number>,
  opts: { start?: number; end?: number; batch?: number } = {},
): { top1: number; correct: number; n: number } {
  const start = opts.start ?? 0, end = opts.end ?? labels.length, batch = opts.batch ?? 500;
  let correct = 0;
  noGrad(() => {
    for (let i = start; i < end; i += batch) {
      const n = Math.min(batch, end - i);
      const ids = Array.from({ length: n }, (_, k) => i + k);
      const pred = tidy(() => {
        const x = upload(gatherBatch(images, ids), [n, 1, 28, 28]);
        const { logits } = execute(graph, { feeds: { [graph.inputs[0].name]: x } });
        return argmax(logits, 1).dataSync();
      });
      for (let k = 0; k < n; k++) if (pred[k] === labels[i + k]) correct++;
    }
  });
  const n = end - start;
  return { top1: (100 * correct) / n, correct, n };
}

/** Options of {@linkcode trainProxy}. */
export interface TrainOptions {
  seed: number;
  /** Overrides of the model's recipe. */
  recipe?: Partial<Recipe>;
  /** Stop after this many steps (tests). */
  maxSteps?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** What {@linkcode trainProxy} returns: the trained inference graph and the training facts. */
export interface TrainResult {
  graph: Graph;
  recipe: Recipe;
  steps: number;
  trainImages: number;
  wallS: number;
  /** Mean training loss of each epoch. */
  epochLoss: number[];
}

/** Builds `name` from `seed` and trains it on `data.train*` with the model's recipe. */
export function trainProxy(name: ProxyName, data: ProxyData, opts: TrainOptions): TrainResult {
  const t0 = performance.now();
  const recipe: Recipe = { ...RECIPES[name], ...opts.recipe };
  const graph = buildProxy(name, opts.seed);
  const params = trainableParams(graph);
  for (const p of params) p.variable();

  const order = new Random(opts.seed, 7);
  const all = data.trainLabels.length;
  const pool = recipe.subset > 0 && recipe.subset < all
    ? order.permutation(all).slice(0, recipe.subset)
    : Array.from({ length: all }, (_, i) => i);
  const perEpoch = Math.floor(pool.length / recipe.batch);
  if (perEpoch < 1) {
    throw new RangeError(`trainProxy: ${pool.length} images make no batch of ${recipe.batch}`);
  }
  const total = Math.min(perEpoch * recipe.epochs, opts.maxSteps ?? Infinity);
  const lr = warmupCosine(recipe.lr, Math.min(recipe.warmup, Math.floor(total / 2)), total);
  const opt: Optimizer = recipe.optimizer === "sgd"
    ? new SGD(params, {
      lr,
      momentum: recipe.momentum ?? 0.9,
      nesterov: true,
      weightDecay: recipe.weightDecay,
    })
    : new Adam(params, { lr, weightDecay: recipe.weightDecay });

  const epochLoss: number[] = [];
  let step = 0;
  const labels = new Int32Array(recipe.batch);
  for (let epoch = 0; step < total; epoch++) {
    const perm = order.permutation(pool.length);
    let lossSum = 0, count = 0;
    for (let b = 0; b < perEpoch && step < total; b++, step++) {
      const ids = perm.slice(b * recipe.batch, (b + 1) * recipe.batch).map((i) => pool[i]);
      for (let i = 0; i < ids.length; i++) labels[i] = data.trainLabels[ids[i]];
      const loss = tidy(() => {
        const x = upload(gatherBatch(data.trainImages, ids), [ids.length, 1, 28, 28]);
        const l = crossEntropy(trainForward(graph, x), labels);
        backward(l);
        return l.dataSync()[0];
      });
      opt.step();
      opt.zeroGrad();
      lossSum += loss;
      count++;
      if (opts.log && (step % 25 === 0 || step === total - 1)) {
        const s = ((performance.now() - t0) / 1000).toFixed(0);
        opts.log(
          `${name} epoch ${epoch} step ${step + 1}/${total} loss ${loss.toFixed(4)} lr ${
            lr(step).toExponential(2)
          } ${s}s`,
        );
      }
    }
    epochLoss.push(lossSum / Math.max(1, count));
  }
  opt.dispose();
  for (const p of params) {
    p.requiresGrad = false;
    p.grad?.dispose();
    p.grad = null;
  }
  return {
    graph,
    recipe,
    steps: step,
    trainImages: pool.length,
    wallS: (performance.now() - t0) / 1000,
    epochLoss,
  };
}

/** The test images whose top-1 the record keeps for quick checks: every 10th (100 per class). */
export const CHECK_STRIDE = 10;

/** Top-1 on the check subset `test[0::10]` (the test split is grouped by class). */
export function evaluateCheck(
  graph: Graph,
  images: Float32Array,
  labels: ArrayLike<number>,
): number {
  const n = Math.floor(labels.length / CHECK_STRIDE);
  const sub = new Float32Array(n * PIXELS);
  const subLabels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    sub.set(
      images.subarray(i * CHECK_STRIDE * PIXELS, (i * CHECK_STRIDE + 1) * PIXELS),
      i * PIXELS,
    );
    subLabels[i] = labels[i * CHECK_STRIDE];
  }
  return evaluate(graph, sub, subLabels).top1;
}

/** Loads Fashion-MNIST (28 × 28, normalised) in the flat form the trainer takes. */
export function loadProxyData(): ProxyData {
  const { train, test } = loadFashionMnist({ size: 28 });
  return {
    trainImages: train!.images,
    trainLabels: train!.labels,
    testImages: test!.images,
    testLabels: test!.labels,
  };
}

function gitCommit(): { commit: string | null; dirty: boolean | null } {
  try {
    const run = (args: string[]) => {
      const out = new Deno.Command("git", { args, stdout: "piped", stderr: "null" }).outputSync();
      return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
    };
    const commit = run(["rev-parse", "HEAD"]);
    const status = run(["status", "--porcelain"]);
    return { commit, dirty: status === null ? null : status.length > 0 };
  } catch {
    return { commit: null, dirty: null };
  }
}

/** Trains one model, evaluates it, and writes `<out>/<name>.onnx` and `<out>/<name>.json`. */
export function trainAndExport(
  name: ProxyName,
  data: ProxyData,
  opts: TrainOptions & { outDir: URL; command: string },
): Record<string, unknown> {
  const t0 = performance.now();
  const r = trainProxy(name, data, opts);
  const t1 = performance.now();
  const test = evaluate(r.graph, data.testImages, data.testLabels);
  const check = evaluateCheck(r.graph, data.testImages, data.testLabels);
  const evalS = (performance.now() - t1) / 1000;
  const bytes = toOnnx(r.graph, { producer: "ptq-bench proxy trainer" });
  Deno.mkdirSync(opts.outDir, { recursive: true });
  Deno.writeFileSync(new URL(`${name}.onnx`, opts.outDir), bytes);
  const record = {
    name,
    family: PROXY_MODELS[name].family,
    width: PROXY_MODELS[name].width,
    input: [1, 28, 28],
    classes: 10,
    preprocessing: "Fashion-MNIST 28x28 grey, (v/255 - 0.286) / 0.3528 (datasets/fashion_mnist.ts)",
    params: countParams(r.graph),
    fp32_top1: round2(test.top1),
    test_images: test.n,
    check_top1: round2(check),
    check_subset: `test[0::${CHECK_STRIDE}] (${
      Math.floor(test.n / CHECK_STRIDE)
    } images, 100 per class)`,
    epochs: r.recipe.epochs,
    seed: opts.seed,
    recipe: r.recipe,
    schedule: "linear warm-up, then cosine to 0 (per step); no augmentation; nesterov for sgd",
    train_subset: {
      images: r.trainImages,
      of: data.trainLabels.length,
      rule: r.recipe.subset > 0
        ? `first ${r.recipe.subset} of Random(seed, 7).permutation(train)`
        : "the whole train split",
    },
    steps: r.steps,
    train_loss_per_epoch: r.epochLoss.map((v) => Number(v.toFixed(4))),
    wall_clock_s: {
      train: round2(r.wallS),
      eval: round2(evalS),
      total: round2((performance.now() - t0) / 1000),
    },
    machine: `${navigator.hardwareConcurrency} CPU threads`,
    command: opts.command,
    deno: Deno.version.deno,
    git: gitCommit(),
    onnx: {
      file: `${name}.onnx`,
      bytes: bytes.length,
      sha256: createHash("sha256").update(bytes).digest("hex"),
    },
    date: new Date().toISOString(),
  };
  Deno.writeTextFileSync(
    new URL(`${name}.json`, opts.outDir),
    JSON.stringify(record, null, 2) + "\n",
  );
  return record;
}

const round2 = (v: number) => Math.round(v * 100) / 100;
