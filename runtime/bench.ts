/**
 * Runtime benchmark: dense GEMM and the convolutions of ResNet-18 and MobileNetV2, forward and
 * backward, and a whole MobileNetV2 training step, each beside onnxruntime-node on the same
 * shape in the same run (and the WebGPU backend where it loads).
 *
 * The command is `deno task bench:runtime` (`cli/bench_runtime.ts`): {@linkcode runtimeBench}
 * runs the rows, {@linkcode benchTable} prints them.
 *
 * Backward rows time the input gradient plus the weight gradient; their onnxruntime reference is
 * the same computation as ONNX graphs (ConvTranspose for the input gradient, a Conv with the
 * batch and channel roles swapped for the weight gradient, Gemm for GEMM's). onnxruntime has no
 * training, so the MobileNetV2 row compares forward times and reports the step time beside them.
 *
 * **PyTorch beside it.** Where the PyTorch interpreter (`PTQ_TORCH_PYTHON`, else
 * `/usr/bin/python3`) imports torch, the same rows run in PyTorch after ptq-bench's, in the same
 * invocation (`runtime/torch_bench.py`, through `runtime/torch_side.ts`), with as many threads
 * as ptq-bench and the same waiting policy (no spinning, see `torch_side.ts`): GEMM (`a @ b`; backward `g @ bᵀ` and `aᵀ @ g`), the convolutions (`F.conv2d`;
 * backward `aten.convolution_backward` for the input and weight gradients) and torchvision's
 * `mobilenet_v2` with BatchNorm folded (random weights, dropout removed): forward under
 * `inference_mode` and an SGD training step. {@linkcode benchTable} puts PyTorch's time beside
 * each ptq-bench row with the ratio ptq-bench time / PyTorch time (below 1: ptq-bench faster);
 * without torch, the column says "not available" and {@linkcode RuntimeBenchResult.torch} says why.
 *
 * @module
 */
import * as ort from "onnxruntime-node";
import * as r from "./mod.ts";
import type { Backend, Conv2dAttrs, Tensor } from "./mod.ts";
import { convBackwardInputGraph, convBackwardWeightGraph } from "./cpu/backend.ts";
import { buildModel, type MiniGraph, type MiniNode } from "./cpu/ort.ts";
import {
  benchThreads,
  runTorch,
  scriptPath,
  timeRatio,
  torchHeader,
  type TorchRun,
} from "./torch_side.ts";

/** One result row. */
export interface BenchRow {
  op: string;
  shape: string;
  pass: "forward" | "backward";
  backend: "cpu" | "webgpu" | "onnxruntime" | "pytorch";
  ms: number;
  gflops: number;
}

/** A row as the PyTorch side runs it (`runtime/torch_bench.py`), with the ops it answers for. */
export interface TorchRowSpec {
  id: string;
  kind: "gemm" | "conv" | "mobilenetv2";
  [param: string]: unknown;
}

/** What {@linkcode runtimeBench} measured. */
export interface RuntimeBenchResult {
  /** ptq-bench's, onnxruntime's and (where torch imports) PyTorch's rows. */
  rows: BenchRow[];
  /** The PyTorch run: its info, or why it did not run (null: not asked for). */
  torch: TorchRun | null;
}

/** Options of {@linkcode runtimeBench}. */
export interface BenchOptions {
  /** Timed iterations per row (median; default 5). */
  iters?: number;
  /** Also time the WebGPU backend where it loads (default true). */
  webgpu?: boolean;
  /** Also time a whole MobileNetV2 forward pass and training step (default true). */
  mobilenet?: boolean;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Also run the rows in PyTorch where it imports (default true). */
  torch?: boolean;
  /** The PyTorch interpreter (default: `PTQ_TORCH_PYTHON`, else `/usr/bin/python3`). */
  python?: string;
}

/** Where a PyTorch row's answer goes: the op and shape of each pass, and its flop count. */
export interface TorchTarget {
  shape: string;
  ops: Record<BenchRow["pass"], string>;
  flops: Record<BenchRow["pass"], number>;
}

/** The state of one benchmark run: its settings, its seeded generator and the rows so far. */
class Bench {
  readonly rows: BenchRow[] = [];
  /** The same rows for the PyTorch side, and where their answers go. */
  readonly torchRows: TorchRowSpec[] = [];
  readonly torchTargets = new Map<string, TorchTarget>();
  readonly rng = new r.Random(0);
  readonly threads = benchThreads();
  constructor(
    readonly iters: number,
    readonly webgpu: Backend | null,
    readonly log: (line: string) => void,
  ) {}

  /** Median wall time of `fn` in ms after `warm` warm-up calls. */
  async median(fn: () => unknown, iters = this.iters, warm = 1): Promise<number> {
    for (let i = 0; i < warm; i++) await fn();
    const ts: number[] = [];
    for (let i = 0; i < iters; i++) {
      const t0 = performance.now();
      await fn();
      ts.push(performance.now() - t0);
    }
    ts.sort((a, b) => a - b);
    return ts[(ts.length - 1) >> 1];
  }

  record(row: Omit<BenchRow, "gflops">, flops: number): void {
    const full = {
      ...row,
      ms: Math.round(row.ms * 100) / 100,
      gflops: Math.round(flops / row.ms / 1e4) / 100,
    };
    this.rows.push(full);
    this.log(`  ${full.op} ${full.pass} ${full.backend}: ${full.ms} ms, ${full.gflops} GFLOP/s`);
  }

  /** Queues a row for the PyTorch side. */
  torchRow(spec: TorchRowSpec, target: TorchTarget): void {
    this.torchRows.push(spec);
    this.torchTargets.set(spec.id, target);
  }

  async session(g: MiniGraph): Promise<ort.InferenceSession> {
    return await ort.InferenceSession.create(buildModel(g), {
      intraOpNumThreads: this.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      executionMode: "sequential",
    });
  }

  /** Times one onnxruntime graph (inputs in0.., all float) with the normal async InferenceSession. */
  async ortTime(g: MiniGraph, inputs: Float32Array[]): Promise<number> {
    const s = await this.session(g);
    const feeds: Record<string, ort.Tensor> = {};
    inputs.forEach((x, i) => (feeds[`in${i}`] = new ort.Tensor("float32", x, g.inputs[i])));
    const ms = await this.median(() => s.run(feeds));
    await s.release();
    return ms;
  }

  /** Times `fn` on a runtime backend, disposing what it makes; webgpu waits for the queue. */
  async runtimeTime(b: Backend, fn: () => Tensor[], iters = this.iters): Promise<number> {
    return await this.median(async () => {
      const outs = fn();
      await b.sync();
      for (const t of outs) t.dispose();
    }, iters);
  }
}

const single = (inputs: number[][], node: Omit<MiniNode, "inputs" | "outputs">): MiniGraph => ({
  inputs,
  nodes: [{ ...node, inputs: inputs.map((_, i) => `in${i}`), outputs: ["out"] }],
});

async function loadWebGpu(log: (line: string) => void): Promise<Backend | null> {
  try {
    const url = new URL("./webgpu/mod.ts", import.meta.url);
    await Deno.stat(url);
    const mod = await import(url.href);
    const webgpu: Backend | null = await mod.createWebGpuBackend();
    if (webgpu) log(`webgpu: ${webgpu.deviceInfo}`);
    return webgpu;
  } catch (e) {
    log(`webgpu skipped: ${e instanceof Error ? e.message : e}`);
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// GEMM 1024^3

async function benchGemm(c: Bench, n: number): Promise<void> {
  const shape = `${n}x${n}x${n}`, flops = 2 * n * n * n;
  const a = c.rng.normalArray(n * n), b = c.rng.normalArray(n * n), g = c.rng.normalArray(n * n);
  c.torchRow({ id: `gemm ${shape}`, kind: "gemm", n }, {
    shape,
    ops: { forward: "gemm", backward: "gemm" },
    flops: { forward: flops, backward: 2 * flops },
  });
  const backends: [BenchRow["backend"], Backend][] = [["cpu", r.cpu]];
  if (c.webgpu) backends.push(["webgpu", c.webgpu]);
  for (const [name, be] of backends) {
    const [at, bt, gt] = [a, b, g].map((d) => r.upload(d, [n, n], be));
    const it = name === "webgpu" ? 3 : c.iters;
    try {
      c.record({
        op: "gemm",
        shape,
        pass: "forward",
        backend: name,
        ms: await c.runtimeTime(be, () => [r.matmul(at, bt)], it),
      }, flops);
      const ms = await c.runtimeTime(
        be,
        () => [r.matmul(gt, bt, false, true), r.matmul(at, gt, true, false)],
        it,
      );
      c.record({ op: "gemm", shape, pass: "backward", backend: name, ms }, 2 * flops);
    } catch (e) {
      c.log(`  gemm on ${name} failed: ${e}`);
    }
    for (const t of [at, bt, gt]) t.dispose();
  }
  c.record({
    op: "gemm",
    shape,
    pass: "forward",
    backend: "onnxruntime",
    ms: await c.ortTime(single([[n, n], [n, n]], { op: "MatMul" }), [a, b]),
  }, flops);
  const bwd: MiniGraph = {
    inputs: [[n, n], [n, n], [n, n]], // a, b, g
    nodes: [
      { op: "Gemm", inputs: ["in2", "in1"], outputs: ["da"], attrs: { transB: 1 } },
      { op: "Gemm", inputs: ["in0", "in2"], outputs: ["db"], attrs: { transA: 1 } },
    ],
    outputs: ["da", "db"],
  };
  c.record({
    op: "gemm",
    shape,
    pass: "backward",
    backend: "onnxruntime",
    ms: await c.ortTime(bwd, [a, b, g]),
  }, 2 * flops);
}

// ---------------------------------------------------------------------------------------------
// Convolutions

async function benchConv(
  c: Bench,
  op: string,
  xs: number[],
  ws: number[],
  o: r.Conv2dOptions,
): Promise<void> {
  const a: Conv2dAttrs = r.convAttrs(o);
  const x = c.rng.normalArray(xs.reduce((p, q) => p * q)),
    w = c.rng.normalArray(ws.reduce((p, q) => p * q), 0, 0.1);
  const ys = r.INFER.conv2d([{ shape: xs, dtype: "f32" }, { shape: ws, dtype: "f32" }], a).shape;
  const dy = c.rng.normalArray(ys.reduce((p, q) => p * q));
  const flops = 2 * ys.reduce((p, q) => p * q) * ws[1] * ws[2] * ws[3];
  const shape = `x${xs.join("x")} w${ws.join("x")}`;
  const bi = { ...a, inputShape: xs }, bw = { ...a, weightShape: ws };
  c.torchRow({
    id: `${op} ${shape}`,
    kind: "conv",
    x: xs,
    w: ws,
    strides: a.strides,
    pads: a.pads,
    dilations: a.dilations,
    groups: a.groups,
  }, { shape, ops: { forward: op, backward: op }, flops: { forward: flops, backward: 2 * flops } });
  const backends: [BenchRow["backend"], Backend][] = [["cpu", r.cpu]];
  if (c.webgpu) backends.push(["webgpu", c.webgpu]);
  for (const [name, be] of backends) {
    const [xt, wt, dt] = [[x, xs], [w, ws], [dy, ys]].map(([d, s]) =>
      r.upload(d as Float32Array, s as number[], be)
    );
    const it = name === "webgpu" ? 3 : c.iters;
    try {
      const fwd = await c.runtimeTime(be, () => [r.runOp("conv2d", [xt, wt], a)], it);
      c.record({ op, shape, pass: "forward", backend: name, ms: fwd }, flops);
      const bwd = await c.runtimeTime(be, () => [
        r.runOp("conv2dBackwardInput", [dt, wt], bi),
        r.runOp("conv2dBackwardWeight", [xt, dt], bw),
      ], it);
      c.record({ op, shape, pass: "backward", backend: name, ms: bwd }, 2 * flops);
    } catch (e) {
      c.log(`  ${op} on ${name} failed: ${e}`);
    }
    for (const t of [xt, wt, dt]) t.dispose();
  }
  const conv = single([xs, ws], {
    op: "Conv",
    attrs: { strides: a.strides, pads: a.pads, dilations: a.dilations, group: a.groups },
  });
  c.record(
    { op, shape, pass: "forward", backend: "onnxruntime", ms: await c.ortTime(conv, [x, w]) },
    flops,
  );
  const dx = await c.ortTime(convBackwardInputGraph(ys, ws, bi), [dy, w]);
  const dw = await c.ortTime(convBackwardWeightGraph(xs, ys, bw), [x, dy]);
  c.record({ op, shape, pass: "backward", backend: "onnxruntime", ms: dx + dw }, 2 * flops);
}

// ---------------------------------------------------------------------------------------------
// MobileNetV2 (torchvision architecture, BatchNorm folded into conv biases, random weights)

interface ConvLayer {
  w: Tensor;
  b: Tensor;
  o: Conv2dAttrs;
  act: boolean;
}
type Block = { layers: ConvLayer[]; residual: boolean };

function mobilenetV2(c: Bench, batch: number) {
  const layers: { ws: number[]; o: Conv2dAttrs; act: boolean }[][] = [];
  const residual: boolean[] = [];
  let macs = 0, hw = 224;
  const conv = (
    cin: number,
    cout: number,
    k: number,
    stride: number,
    groups: number,
    act: boolean,
  ) => {
    const p = (k - 1) / 2;
    hw = Math.floor((hw + 2 * p - k) / stride) + 1;
    macs += batch * cout * hw * hw * (cin / groups) * k * k;
    return {
      ws: [cout, cin / groups, k, k],
      o: r.convAttrs({ strides: [stride, stride], pads: [p, p, p, p], groups }),
      act,
    };
  };
  layers.push([conv(3, 32, 3, 2, 1, true)]);
  residual.push(false);
  let cin = 32;
  const settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [
    6,
    160,
    3,
    2,
  ], [6, 320, 1, 1]];
  for (const [t, c, n, s] of settings) {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1, hidden = cin * t;
      const block = [];
      if (t !== 1) block.push(conv(cin, hidden, 1, 1, 1, true));
      block.push(conv(hidden, hidden, 3, stride, hidden, true));
      block.push(conv(hidden, c, 1, 1, 1, false));
      layers.push(block);
      residual.push(stride === 1 && cin === c);
      cin = c;
    }
  }
  layers.push([conv(cin, 1280, 1, 1, 1, true)]);
  residual.push(false);
  macs += batch * 1280 * 1000;
  const blocks: Block[] = layers.map((ls, i) => ({
    residual: residual[i],
    layers: ls.map((l) => {
      const fanIn = l.ws[1] * l.ws[2] * l.ws[3];
      return {
        w: c.rng.randn(l.ws, 0, Math.sqrt((l.act ? 2 : 1) / fanIn)).variable(),
        b: c.rng.randn([l.ws[0]], 0, 0.01).variable(),
        o: l.o,
        act: l.act,
      };
    }),
  }));
  const fcW = c.rng.randn([1000, 1280], 0, Math.sqrt(1 / 1280)).variable();
  const fcB = r.zeros([1000]).variable();
  const params = [...blocks.flatMap((b) => b.layers.flatMap((l) => [l.w, l.b])), fcW, fcB];

  const forward = (x: Tensor): Tensor => {
    let h = x;
    for (const blk of blocks) {
      const inp = h;
      for (const l of blk.layers) {
        h = r.conv2d(h, l.w, l.b, l.o);
        if (l.act) h = r.relu6(h);
      }
      if (blk.residual) h = r.add(h, inp);
    }
    const pooled = r.flatten(r.globalAvgPool(h));
    return r.add(r.matmul(pooled, fcW, false, true), fcB);
  };

  const onnxGraph = (): MiniGraph => {
    const nodes: MiniNode[] = [];
    const weights: MiniGraph["weights"] = {
      lo: { dims: [], data: new Float32Array([0]) },
      hi: { dims: [], data: new Float32Array([6]) },
      fcW: { dims: [1000, 1280], data: fcW.dataSync() as Float32Array },
      fcB: { dims: [1000], data: fcB.dataSync() as Float32Array },
    };
    let h = "in0", k = 0;
    for (const blk of blocks) {
      const inp = h;
      for (const l of blk.layers) {
        const id = k++;
        weights[`w${id}`] = { dims: [...l.w.shape], data: l.w.dataSync() as Float32Array };
        weights[`b${id}`] = { dims: [...l.b.shape], data: l.b.dataSync() as Float32Array };
        nodes.push({
          op: "Conv",
          inputs: [h, `w${id}`, `b${id}`],
          outputs: [`c${id}`],
          attrs: {
            strides: l.o.strides,
            pads: l.o.pads,
            dilations: l.o.dilations,
            group: l.o.groups,
          },
        });
        h = `c${id}`;
        if (l.act) {
          nodes.push({ op: "Clip", inputs: [h, "lo", "hi"], outputs: [`r${id}`] });
          h = `r${id}`;
        }
      }
      if (blk.residual) {
        nodes.push({ op: "Add", inputs: [h, inp], outputs: [`a${k}`] });
        h = `a${k}`;
      }
    }
    nodes.push({ op: "GlobalAveragePool", inputs: [h], outputs: ["gap"] });
    nodes.push({ op: "Flatten", inputs: ["gap"], outputs: ["flat"] });
    nodes.push({
      op: "Gemm",
      inputs: ["flat", "fcW", "fcB"],
      outputs: ["out"],
      attrs: { transB: 1 },
    });
    return { inputs: [[batch, 3, 224, 224]], nodes, weights };
  };
  return { forward, params, onnxGraph, flops: 2 * macs };
}

async function benchMobileNet(c: Bench, batch: number): Promise<void> {
  const op = "mobilenetv2", shape = `${batch}x3x224x224`;
  const net = mobilenetV2(c, batch);
  const stepOp = `${op} train step (fwd+bwd+sgd)`;
  c.torchRow({ id: `${op} ${shape}`, kind: "mobilenetv2", batch }, {
    shape,
    ops: { forward: op, backward: stepOp },
    flops: { forward: net.flops, backward: 3 * net.flops },
  });
  const xData = c.rng.normalArray(batch * 3 * 224 * 224);
  const x = r.upload(xData, [batch, 3, 224, 224]);
  const labels = Array.from({ length: batch }, () => c.rng.int(1000));
  const opt = new r.SGD(net.params, { lr: 1e-3, momentum: 0.9 });
  const fwd = await c.median(() => r.tidy(() => void r.noGrad(() => net.forward(x)).dataSync()), 3);
  c.record({ op, shape, pass: "forward", backend: "cpu", ms: fwd }, net.flops);
  const step = await c.median(() => {
    opt.zeroGrad();
    r.tidy(() => r.backward(r.crossEntropy(net.forward(x), labels)));
    opt.step();
  }, 3);
  c.record({
    op: stepOp,
    shape,
    pass: "backward",
    backend: "cpu",
    ms: step,
  }, 3 * net.flops);
  c.log(`  peak cpu memory ${(r.cpu.memory().peakBytes / 2 ** 30).toFixed(2)} GiB`);
  const ortMs = await c.ortTime(net.onnxGraph(), [xData]);
  c.record({ op, shape, pass: "forward", backend: "onnxruntime", ms: ortMs }, net.flops);
  opt.zeroGrad();
  opt.dispose();
  for (const p of net.params) p.dispose();
  x.dispose();
}

// ---------------------------------------------------------------------------------------------

/** The PyTorch script of the runtime rows. */
export const TORCH_BENCH_SCRIPT: string = scriptPath(new URL("./torch_bench.py", import.meta.url));

/**
 * Runs every row: GEMM, the convolutions, and (unless turned off) MobileNetV2; then, unless
 * `torch: false`, the same rows in PyTorch.
 */
export async function runtimeBench(opts: BenchOptions = {}): Promise<RuntimeBenchResult> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const webgpu = opts.webgpu === false ? null : await loadWebGpu(log);
  const c = new Bench(opts.iters ?? 5, webgpu, log);
  log(
    `runtime bench: ${c.threads} threads, onnxruntime ${ort.env.versions.common}`,
  );
  await benchGemm(c, 1024);
  await benchConv(c, "resnet18 conv3x3", [32, 64, 56, 56], [64, 64, 3, 3], { pads: [1, 1, 1, 1] });
  await benchConv(c, "mobilenetv2 depthwise3x3", [32, 144, 56, 56], [144, 1, 3, 3], {
    pads: [1, 1, 1, 1],
    groups: 144,
  });
  await benchConv(c, "mobilenetv2 pointwise", [32, 144, 56, 56], [24, 144, 1, 1], {});
  if (opts.mobilenet !== false) await benchMobileNet(c, 32);
  if (opts.torch === false) return { rows: c.rows, torch: null };
  log(`pytorch: the same rows (${c.torchRows.length}) in PyTorch, ${c.threads} threads`);
  const run = await runTorch(
    TORCH_BENCH_SCRIPT,
    { threads: c.threads, iters: c.iters, rows: c.torchRows },
    { python: opts.python, log: (l) => log(`  ${l}`) },
  );
  log(torchHeader(run));
  if (run.ok) c.rows.push(...torchBenchRows(run.rows, c.torchTargets));
  return { rows: c.rows, torch: run };
}

/**
 * PyTorch's answers (`{id, pass, ms}`) as bench rows, by the targets the rows were queued with;
 * answers with an error, an unknown id or no time are left out.
 */
export function torchBenchRows(
  answers: readonly unknown[],
  targets: ReadonlyMap<string, TorchTarget>,
): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const a of answers) {
    if (typeof a !== "object" || a === null) continue;
    const { id, pass, ms } = a as { id?: unknown; pass?: unknown; ms?: unknown };
    const t = typeof id === "string" ? targets.get(id) : undefined;
    if (!t || (pass !== "forward" && pass !== "backward")) continue;
    if (typeof ms !== "number" || !(ms > 0)) continue;
    rows.push({
      op: t.ops[pass],
      shape: t.shape,
      pass,
      backend: "pytorch",
      ms: Math.round(ms * 100) / 100,
      gflops: Math.round(t.flops[pass] / ms / 1e4) / 100,
    });
  }
  return rows;
}

/**
 * The rows as a markdown table: each ptq-bench row (cpu, webgpu) beside onnxruntime's row of the
 * same op ("vs onnxruntime": onnxruntime's time / the row's time, a throughput ratio, higher is
 * better for ptq-bench) and PyTorch's ("PyTorch ms", and "ptq-bench / PyTorch": ptq-bench's
 * time / PyTorch's time, below 1 ptq-bench is faster). PyTorch's own rows are not listed apart;
 * where `torch` did not run, their cells say "not available" (or "not run" when it was not asked
 * for).
 */
export function benchTable(rows: readonly BenchRow[], torch?: TorchRun | null): string {
  const same = (q: BenchRow, row: BenchRow, backend: BenchRow["backend"]) =>
    q.backend === backend && q.op === row.op && q.shape === row.shape && q.pass === row.pass;
  const withTorch = torch !== undefined;
  const missing = torch === null ? "not run" : "not available";
  const head = ["op", "shape", "pass", "backend", "ms", "GFLOP/s", "vs onnxruntime"];
  if (withTorch) head.push("PyTorch ms", "ptq-bench / PyTorch (time)");
  const body = rows.filter((row) => row.backend !== "pytorch").map((row) => {
    const ours = row.backend === "cpu" || row.backend === "webgpu";
    const o = !ours ? undefined : rows.find((q) => same(q, row, "onnxruntime")) ??
      rows.find((q) =>
        q.backend === "onnxruntime" && row.op.startsWith(q.op) && q.shape === row.shape
      );
    const ratio = o ? `${Math.round((o.ms / row.ms) * 100)} %` : "";
    const cells = [
      row.op,
      row.shape,
      row.pass,
      row.backend,
      row.ms.toFixed(1),
      row.gflops.toFixed(2),
      ratio,
    ];
    if (withTorch) {
      const t = rows.find((q) => same(q, row, "pytorch"));
      if (!ours) cells.push("", "");
      else if (t) cells.push(t.ms.toFixed(1), timeRatio(row.ms, t.ms));
      else cells.push(torch?.ok ? "no answer" : missing, "");
    }
    return cells;
  });
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`]
    .concat(body.map((b) => `| ${b.join(" | ")} |`))
    .join("\n");
}
