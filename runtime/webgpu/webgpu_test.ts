/**
 * WebGPU backend vs the CPU reference kernels. Every test skips (ignored) where no adapter
 * exists.
 */
import { assert, assertEquals, AssertionError } from "../assert.ts";
import type { HostArray } from "../backend.ts";
import { CpuBackend } from "../cpu/backend.ts";
import { type Op, type OpAttrs, OPS, sizeOf } from "../ops.ts";
import { Random } from "../random.ts";
import { runOp, type Tensor, tidy, tidyAsync, upload } from "../tensor.ts";
import { backward } from "../autograd.ts";
import { conv2d, mean, mul, relu, sum } from "../math.ts";
import { fakeQuant, fakeQuantComposite } from "../quant.ts";
import { Adam } from "../optim.ts";
import { createWebGpuBackend, type GemmVariant, type WebGpuBackend } from "./mod.ts";
import { GPU_KERNELS } from "./kernels.ts";

const gpu = await createWebGpuBackend();
const cpu = new CpuBackend({ fast: false });
const ignore = !gpu;
const opts = { ignore, sanitizeResources: false, sanitizeOps: false };

type In = { data: HostArray; shape: number[] };
const rnd = new Random(7);
const randn = (shape: number[]): In => ({ data: rnd.normalArray(sizeOf(shape)), shape });
const uni = (shape: number[], lo: number, hi: number): In => ({
  data: rnd.uniformArray(sizeOf(shape), lo, hi),
  shape,
});
const ints = (shape: number[], lo: number, hi: number): In => ({
  data: Int32Array.from({ length: sizeOf(shape) }, () => lo + rnd.int(hi - lo)),
  shape,
});

/** Checks |gpu - cpu| <= rtol * |cpu| + atol * max|cpu| element by element (NaN matches NaN). */
function close(got: HostArray, want: HostArray, rtol: number, what: string): void {
  assertEquals(got.length, want.length, `${what}: length`);
  let scale = 0;
  for (const v of want) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.length; i++) {
    const a = got[i], b = want[i];
    if (Number.isNaN(b) && Number.isNaN(a)) continue;
    if (a === b) continue;
    const tol = rtol * Math.abs(b) + rtol * 0.1 * scale + 1e-7;
    if (!(Math.abs(a - b) <= tol)) {
      throw new AssertionError(`${what}: element ${i}: webgpu ${a} vs cpu ${b} (tol ${tol})`);
    }
  }
}

async function check<O extends Op>(
  op: O,
  ins: In[],
  attrs: OpAttrs[O],
  rtol = 1e-5,
  be: WebGpuBackend = gpu!,
): Promise<void> {
  const tc = ins.map((i) => upload(i.data, i.shape, cpu));
  const tg = ins.map((i) => upload(i.data, i.shape, be));
  const yc = runOp(op, tc, attrs);
  const yg = runOp(op, tg, attrs);
  const what = `${op} [${ins.map((i) => `[${i.shape}]`).join(" ")}] ${JSON.stringify(attrs)}`;
  assertEquals(yg.shape, yc.shape, `${what}: shape`);
  assertEquals(yg.dtype, yc.dtype, `${what}: dtype`);
  close(await yg.data(), yc.dataSync(), rtol, what);
  for (const t of [...tc, ...tg, yc, yg]) t.dispose();
}

const covered = new Set<Op>();
const checkOp = <O extends Op>(op: O, ins: In[], attrs: OpAttrs[O], rtol?: number) => {
  covered.add(op);
  return check(op, ins, attrs, rtol);
};

Deno.test({
  name: "webgpu kernel table covers every op of ops.ts",
  fn: () => assertEquals(Object.keys(GPU_KERNELS).sort(), [...OPS].sort()),
});

Deno.test({
  name: "webgpu unary ops match cpu, including round half to even and clip",
  ...opts,
  async fn() {
    const x = randn([3, 17]);
    for (
      const op of ["neg", "exp", "abs", "sign", "relu", "sigmoid", "tanh", "erf", "floor"] as const
    ) {
      await checkOp(op, [x], {});
    }
    const wide = uni([5, 9], -12, 12);
    for (const op of ["sigmoid", "tanh", "erf"] as const) await checkOp(op, [wide], {});
    const pos = uni([4, 5], 0.01, 10);
    await checkOp("log", [pos], {});
    await checkOp("sqrt", [pos], {});
    const halves = {
      data: Float32Array.from([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49, -3.7]),
      shape: [8],
    };
    await checkOp("round", [halves], {});
    await checkOp("roundSte", [halves], {});
    await checkOp("sign", [{ data: Float32Array.from([0, -0, 3, -2]), shape: [4] }], {});
    await checkOp("clip", [x], { lo: -0.5, hi: 0.7 });
    const edges = { data: Float32Array.from([-0.5, 0.7, -0.51, 0.71, 0, 3]), shape: [6] };
    const g6 = { data: Float32Array.from([1, 2, 3, 4, 5, 6]), shape: [6] };
    await checkOp("clipBackward", [g6, edges], { lo: -0.5, hi: 0.7 });
    await checkOp("clipBackward", [randn([3, 17]), x], { lo: -0.5, hi: 0.7 });
    // Counter-based masks: the same bits on both backends (large enough to use 2-D dispatch).
    const big = { data: new Float32Array(70000 * 64 + 3), shape: [70000 * 64 + 3] };
    for (const [p, k0, k1] of [[0.5, 1, 2], [0.3, 0xfffffffe, 0x80000001], [1, 5, 6], [0, 5, 6]]) {
      await checkOp("randomMask", [big], { p, k0, k1 }, 0);
    }
    await checkOp("exp", [{ data: Float32Array.from([1.5]), shape: [] }], {});
  },
});

Deno.test({
  name: "webgpu binary and comparison ops broadcast like cpu (f32, i32, mixed)",
  ...opts,
  async fn() {
    const pairs: [In, In][] = [
      [randn([2, 3, 5]), randn([3, 1])],
      [randn([4, 1, 6]), randn([1, 5, 1])],
      [randn([7]), randn([])],
      [randn([]), randn([2, 3])],
      [randn([3, 4]), randn([3, 4])],
    ];
    const ops = ["add", "sub", "mul", "div", "minimum", "maximum"] as const;
    for (const [a, b] of pairs) for (const op of ops) await checkOp(op, [a, b], {});
    // comparisons on values with ties
    const ta = ints([4, 6], -2, 3), tb = ints([6], -2, 3);
    const fa = { data: Float32Array.from(ta.data), shape: ta.shape };
    const fb = { data: Float32Array.from(tb.data), shape: tb.shape };
    for (const op of ["lt", "le", "gt", "ge", "eq", "ne"] as const) {
      await checkOp(op, [fa, fb], {});
      await checkOp(op, [ta, tb], {});
    }
    await checkOp("pow", [uni([3, 5], 0.1, 3), randn([5])], {});
    const negBase = { data: Float32Array.from([-2, -3, 0, 2, -1.5, 4]), shape: [6] };
    const exps = { data: Float32Array.from([3, 2, 2, 0.5, 2, -1]), shape: [6] };
    await checkOp("pow", [negBase, exps], {});
    // i32 arithmetic, and an i32 tensor with an f32 scalar (how math.ts lifts numbers)
    const ia = ints([3, 4], -50, 50), ib = ints([4], 1, 9);
    for (const op of ["add", "sub", "mul", "div", "minimum", "maximum"] as const) {
      await checkOp(op, [ia, ib], {});
    }
    await checkOp("mul", [ia, { data: Float32Array.from([2.5]), shape: [] }], {});
    await checkOp("div", [ia, { data: Int32Array.from([0, 3, -2, 7]), shape: [4] }], {});
  },
});

Deno.test({
  name: "webgpu where, cast and expand match cpu",
  ...opts,
  async fn() {
    const cond = { data: Float32Array.from([1, 0, 0, 1, 1]), shape: [5] };
    await checkOp("where", [cond, randn([3, 5]), randn([1])], {});
    await checkOp("where", [ints([2, 1], 0, 2), ints([2, 3], -5, 5), ints([3], -5, 5)], {});
    await checkOp("cast", [uni([4, 6], -9, 9)], { dtype: "i32" });
    await checkOp("cast", [ints([5], -9, 9)], { dtype: "f32" });
    await checkOp("expand", [randn([3, 1])], { shape: [2, 3, 4] });
    await checkOp("expand", [ints([1, 4], 0, 9)], { shape: [3, 4] });
    await checkOp("expand", [randn([])], { shape: [2, 2] });
  },
});

Deno.test({
  name: "webgpu reductions over arbitrary axes, argmax and topk match cpu",
  ...opts,
  async fn() {
    const x = randn([3, 4, 5]);
    const axesList = [[], [0], [1], [2], [0, 2], [1, 2], [0, 1, 2]];
    for (const op of ["sum", "max", "min"] as const) {
      for (const axes of axesList) {
        for (const keepDims of [false, true]) await checkOp(op, [x], { axes, keepDims });
      }
    }
    // long reductions with few outputs take the workgroup path
    const long = randn([3, 3000]);
    for (const op of ["sum", "max", "min"] as const) {
      await checkOp(op, [long], { axes: [1], keepDims: false }, 1e-4);
      await checkOp(op, [long], { axes: [0, 1], keepDims: false }, 1e-4);
    }
    await checkOp("sum", [ints([4, 6], -9, 9)], { axes: [1], keepDims: false });
    await checkOp("max", [ints([4, 6], -9, 9)], { axes: [0], keepDims: true });
    await checkOp("sum", [{ data: new Float32Array(0), shape: [3, 0] }], {
      axes: [1],
      keepDims: false,
    });
    const ties = ints([5, 7], 0, 4);
    const tf = { data: Float32Array.from(ties.data), shape: ties.shape };
    for (const axis of [0, 1, -1]) {
      await checkOp("argmax", [tf], { axis, keepDims: false });
      await checkOp("argmax", [ties], { axis, keepDims: true });
    }
    await checkOp("argmax", [randn([2, 3, 4])], { axis: 1, keepDims: false });
    await checkOp("topk", [tf], { k: 3 });
    await checkOp("topk", [randn([2, 3, 10])], { k: 10 });
    await checkOp("topk", [ties], { k: 2 });
  },
});

/** Runs `cases` with the GEMM variant forced to `variant`. */
async function withGemm(variant: GemmVariant, cases: () => Promise<void>): Promise<void> {
  const before = gpu!.gemm;
  gpu!.gemm = variant;
  try {
    await cases();
  } finally {
    gpu!.gemm = before;
  }
}

/** `[M, K, N]` stored as `op(a)` / `op(b)` want them, behind optional batch dimensions. */
function matmulInputs(
  [m, k, n]: readonly number[],
  transA: boolean,
  transB: boolean,
  batchA: number[] = [],
  batchB: number[] = [],
): In[] {
  return [
    randn([...batchA, ...(transA ? [k, m] : [m, k])]),
    randn([...batchB, ...(transB ? [n, k] : [k, n])]),
  ];
}

Deno.test({
  name: "webgpu matmul (register-blocked variant) matches cpu: odd sizes, transposes, batches",
  ...opts,
  fn: () =>
    withGemm("register", async () => {
      // Every combination of vec4 alignment of A, B and C (each is a separate kernel).
      const dims = [
        [7, 13, 5],
        [33, 17, 9],
        [16, 32, 8],
        [64, 64, 64],
        [12, 20, 6],
        [1, 1, 1],
        [8, 4, 3],
        [70, 9, 12],
      ];
      for (const d of dims) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            await checkOp("matmul", matmulInputs(d, transA, transB), { transA, transB }, 1e-4);
          }
        }
      }
      const plain = { transA: false, transB: false };
      await checkOp("matmul", [randn([2, 1, 5, 6]), randn([3, 6, 4])], plain, 1e-4);
      await checkOp(
        "matmul",
        [randn([4, 8, 12]), randn([8, 12])],
        { transA: false, transB: true },
        1e-4,
      );
      await checkOp("matmul", [randn([3, 0]), randn([0, 4])], plain);
    }),
});

Deno.test({
  name: "webgpu matmul (shared-memory variant) matches cpu: odd sizes, transposes, batches",
  ...opts,
  fn: () =>
    withGemm("shared", async () => {
      // The kernel is generated per (transA, transB, batch rank), and compiling one takes 15-30 s
      // on llvmpipe's GL backend (0.2 s on Vulkan): so one kernel per transposition, with the batch
      // ranks 0, 1 and 2 spread over them, and every tile edge checked inside each kernel.
      // Tiles are 64 (M, N) by 16 (K): [M, K, N] below cover one element, two partial M tiles with
      // a partial K tile after a full one, two partial N tiles with one short K tile, and whole
      // tiles only (two K tiles, no tail).
      const dims = [[1, 1, 1], [70, 17, 9], [9, 13, 67], [64, 32, 64]];
      const layouts: [boolean, boolean, number[], number[]][] = [
        [false, false, [], []], // rank 0: the common Gemm/MatMul, and its gradients
        [false, true, [], []],
        [true, false, [2], []], // rank 1: B broadcast over A's batch
        [true, true, [2, 1], [3]], // rank 2: [2, 1] with [3] broadcast to [2, 3]
      ];
      for (const [transA, transB, batchA, batchB] of layouts) {
        for (const d of dims) {
          const ins = matmulInputs(d, transA, transB, batchA, batchB);
          await checkOp("matmul", ins, { transA, transB }, 1e-4);
        }
      }
      // K = 0: no K tile at all, the output is zeros.
      await checkOp("matmul", [randn([3, 0]), randn([0, 4])], { transA: false, transB: false });
    }),
});

Deno.test({
  name: "webgpu conv2d and both gradients match cpu (groups, depthwise, dilation, stride, pads)",
  ...opts,
  async fn() {
    const cases: { x: number[]; w: number[]; a: OpAttrs["conv2d"] }[] = [
      {
        x: [2, 3, 7, 6],
        w: [5, 3, 3, 3],
        a: { strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], groups: 1 },
      },
      {
        x: [1, 4, 9, 8],
        w: [6, 2, 3, 2],
        a: { strides: [2, 1], pads: [0, 1, 2, 0], dilations: [1, 2], groups: 2 },
      },
      {
        x: [2, 4, 6, 6],
        w: [4, 1, 3, 3],
        a: { strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 1], groups: 4 },
      },
      {
        x: [1, 3, 5, 5],
        w: [8, 3, 1, 1],
        a: { strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1], groups: 1 },
      },
      {
        x: [2, 2, 8, 7],
        w: [3, 2, 3, 3],
        a: { strides: [3, 2], pads: [2, 0, 1, 2], dilations: [2, 1], groups: 1 },
      },
    ];
    // 8 rows per thread (and a ragged edge) in every kernel
    cases.push({
      x: [1, 9, 5, 5],
      w: [10, 9, 3, 3],
      a: { strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], groups: 1 },
    });
    for (const { x, w, a } of cases) {
      const xi = randn(x), wi = randn(w);
      const yShape = [
        x[0],
        w[0],
        Math.floor(
          (x[2] + a.pads[0] + a.pads[2] - a.dilations[0] * (w[2] - 1) - 1) / a.strides[0],
        ) + 1,
        Math.floor(
          (x[3] + a.pads[1] + a.pads[3] - a.dilations[1] * (w[3] - 1) - 1) / a.strides[1],
        ) + 1,
      ];
      await checkOp("conv2d", [xi, wi], a, 1e-4);
      const dy = randn(yShape);
      await checkOp("conv2dBackwardInput", [dy, wi], { ...a, inputShape: x }, 1e-4);
      await checkOp("conv2dBackwardWeight", [xi, dy], { ...a, weightShape: w }, 1e-4);
    }
  },
});

Deno.test({
  name: "webgpu pooling, upsampling and their gradients match cpu",
  ...opts,
  async fn() {
    const x = randn([2, 3, 7, 6]);
    const pools: OpAttrs["maxPool2d"][] = [
      { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] },
      { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
      { kernel: [3, 2], strides: [1, 2], pads: [1, 0, 2, 1] },
    ];
    for (const a of pools) {
      await checkOp("maxPool2d", [x], a);
      const y = runOp("maxPool2d", [upload(x.data, x.shape, cpu)], a);
      const dy = randn([...y.shape]);
      y.dispose();
      await checkOp("maxPool2dBackward", [x, dy], a);
      for (const countIncludePad of [false, true]) {
        const b = { ...a, countIncludePad };
        await checkOp("avgPool2d", [x], b);
        await checkOp("avgPool2dBackward", [dy], { ...b, inputShape: x.shape });
      }
    }
    await checkOp("upsampleNearest", [x], { scale: [2, 3] });
    await checkOp("upsampleNearest", [ints([1, 2, 3, 2], 0, 9)], { scale: [2, 2] });
    await checkOp("upsampleNearestBackward", [randn([2, 3, 14, 18])], { scale: [2, 3] });
  },
});

Deno.test({
  name: "webgpu movement ops match cpu: transpose, concat, slice, pad, gather and gradients",
  ...opts,
  async fn() {
    const x = randn([2, 3, 4, 5]);
    await checkOp("transpose", [x], { perm: [0, 2, 3, 1] });
    await checkOp("transpose", [x], { perm: [3, 2, 1, 0] });
    await checkOp("transpose", [ints([3, 5], 0, 9)], { perm: [1, 0] });
    await checkOp("concat", [
      randn([2, 3, 4]),
      randn([2, 1, 4]),
      randn([2, 0, 4]),
      randn([2, 2, 4]),
    ], {
      axis: 1,
    });
    await checkOp("concat", [ints([1, 3], 0, 9), ints([2, 3], 0, 9)], { axis: 0 });
    await checkOp("concat", [randn([3, 2]), randn([3, 5])], { axis: 1 });
    const sl = { starts: [0, 1, 1, 0], ends: [2, 3, 4, 5], steps: [1, 1, 2, 3] };
    await checkOp("slice", [x], sl);
    await checkOp("slice", [ints([6], 0, 9)], { starts: [1], ends: [6], steps: [2] });
    await checkOp("sliceBackward", [randn([2, 2, 2, 2])], {
      inputShape: x.shape,
      starts: sl.starts,
      steps: sl.steps,
    });
    await checkOp("pad", [randn([2, 3, 4])], { pads: [0, 1, 2, 1, 0, 3], value: 0.5 });
    await checkOp("pad", [ints([2, 3], 0, 9)], { pads: [1, 0, 0, 2], value: -7 });
    const idx = { data: Int32Array.from([2, -1, 0, 2, 1]), shape: [5] };
    await checkOp("gather", [randn([3, 4, 2]), idx], { axis: 1 });
    await checkOp("gather", [ints([5, 3], 0, 99), {
      data: Int32Array.from([[4, 0], [1, 1]].flat()),
      shape: [2, 2],
    }], {
      axis: 0,
    });
    await checkOp("gatherBackward", [randn([3, 5, 2]), idx], { axis: 1, inputShape: [3, 4, 2] });
  },
});

Deno.test({
  name: "webgpu handles scalar and size-0 tensors",
  ...opts,
  async fn() {
    await checkOp("add", [randn([]), randn([])], {});
    await checkOp("relu", [{ data: new Float32Array(0), shape: [0, 3] }], {});
    await checkOp("add", [{ data: new Float32Array(0), shape: [0, 3] }, randn([3])], {});
    await checkOp("transpose", [{ data: new Float32Array(0), shape: [2, 0] }], { perm: [1, 0] });
    await checkOp("sum", [randn([])], { axes: [], keepDims: false });
  },
});

async function trainStep(be: CpuBackend | WebGpuBackend): Promise<Float32Array[]> {
  const r = new Random(3);
  const x = r.randn([2, 3, 8, 8], 0, 1, be);
  const w = r.randn([4, 3, 3, 3], 0, 0.5, be).variable();
  const b = r.randn([4], 0, 0.1, be).variable();
  const opt = new Adam([w, b], { lr: 0.01 });
  const losses: number[] = [];
  for (let step = 0; step < 2; step++) {
    opt.zeroGrad();
    const loss = tidy(() => {
      const l = mean(relu(conv2d(x, w, b, { pads: [1, 1, 1, 1] })));
      backward(l);
      return l;
    });
    losses.push(await loss.item());
    loss.dispose();
    opt.step();
  }
  const out = [
    Float32Array.from(losses),
    (await w.data()) as Float32Array,
    (await b.data()) as Float32Array,
  ];
  opt.zeroGrad();
  opt.dispose();
  for (const t of [x, w, b]) t.dispose();
  return out;
}

Deno.test({
  name: "webgpu fused fakeQuant and its gradients match cpu and the composite",
  ...opts,
  async fn() {
    const pos = (shape: number[]) => uni(shape, 0.05, 0.3);
    const zs = (shape: number[], lo: number, hi: number) => ({
      data: Float32Array.from(ints(shape, lo, hi).data),
      shape,
    });
    for (const [qmin, qmax] of [[-8, 7], [0, 15]]) {
      const a = { qmin, qmax };
      // per-tensor (scalar scale and zero point) and per-channel ([C, 1, 1, 1])
      const perTensor = [randn([4, 3, 5, 5]), pos([]), zs([], qmin, qmax)];
      const perChannel = [randn([6, 2, 3, 3]), pos([6, 1, 1, 1]), zs([6, 1, 1, 1], qmin, qmax)];
      for (const ins of [perTensor, perChannel]) {
        await checkOp("fakeQuant", ins, a);
        const g = randn(ins[0].shape);
        await checkOp("fakeQuantBackward", [g, ...ins], { ...a, wrt: "x" });
        await checkOp("fakeQuantBackward", [g, ...ins], { ...a, wrt: "scale" }, 1e-4);
        // QDrop's drop inside the kernel: the same mask as randomMask's on every backend
        const drop = { p: 0.5, k0: 0xdeadbeef, k1: 77 };
        await checkOp("fakeQuant", ins, { ...a, drop });
        await checkOp("fakeQuantBackward", [g, ...ins], { ...a, wrt: "x", drop });
        await checkOp("fakeQuantBackward", [g, ...ins], { ...a, wrt: "scale", drop }, 1e-4);
      }
      // fused == composite on webgpu: forward and both gradients through autograd
      const [x, s, z] = perChannel;
      const w = randn(x.shape);
      const run = async (fn: typeof fakeQuant) => {
        const xt = upload(x.data, x.shape, gpu!).variable();
        const st = upload(s.data, s.shape, gpu!).variable();
        const res = await tidyAsync(async () => {
          const y = fn(xt, st, upload(z.data, z.shape, gpu!), qmin, qmax);
          backward(sum(mul(y, upload(w.data, w.shape, gpu!))));
          return [await y.data(), await xt.grad!.data(), await st.grad!.data()];
        });
        xt.dispose();
        st.dispose();
        return res;
      };
      const fused = await run(fakeQuant), comp = await run(fakeQuantComposite);
      close(fused[0], comp[0], 1e-5, "fakeQuant forward, fused vs composite");
      close(fused[1], comp[1], 1e-5, "fakeQuant x gradient, fused vs composite");
      close(fused[2], comp[2], 1e-4, "fakeQuant scale gradient, fused vs composite");
    }
  },
});

Deno.test({
  name: "webgpu training step (conv, relu, mean, backward, Adam) gives cpu's numbers",
  ...opts,
  async fn() {
    const before = gpu!.memory().liveBuffers;
    const want = await trainStep(cpu);
    const got = await trainStep(gpu!);
    close(got[0], want[0], 1e-5, "losses");
    close(got[1], want[1], 1e-4, "weights after Adam");
    close(got[2], want[2], 1e-4, "bias after Adam");
    assertEquals(gpu!.memory().liveBuffers, before, "training leaks no buffers");
  },
});

Deno.test({
  name: "webgpu releases buffers after tidy and drains its pool",
  ...opts,
  async fn() {
    const g = gpu!;
    const m0 = g.memory();
    const x = upload(rnd.normalArray(1000), [10, 100], g);
    const y = tidy(() => {
      let t: Tensor = x;
      for (let i = 0; i < 5; i++) t = relu(runOp("add", [t, x], {}));
      return runOp("sum", [t], { axes: [1], keepDims: false });
    });
    assertEquals(g.memory().liveBuffers, m0.liveBuffers + 2, "only x and the result stay live");
    await y.data();
    x.dispose();
    y.dispose();
    assertEquals(
      [g.memory().liveBuffers, g.memory().liveBytes],
      [m0.liveBuffers, m0.liveBytes],
    );
    assert(g.memory().peakBytes >= 4000 * 3);
    assert(g.poolStats().buffers > 0);
    g.drainPool();
    assertEquals(g.poolStats(), { buffers: 0, bytes: 0 });
    // released buffers are reused: a second identical run allocates nothing new past the pool
    const z = tidy(() => relu(upload(rnd.normalArray(1000), [1000], g)));
    assertEquals((await z.data()).length, 1000);
    z.dispose();
  },
});

Deno.test({
  name: "webgpu without pooling destroys buffers on release",
  ...opts,
  async fn() {
    const g = (await createWebGpuBackend({ pool: false }))!;
    const y = tidy(() => relu(runOp("neg", [upload(rnd.normalArray(64), [64], g)], {})));
    assertEquals(g.memory().liveBuffers, 1);
    assertEquals((await y.data()).length, 64);
    y.dispose();
    assertEquals(g.memory().liveBuffers, 0);
    assertEquals(g.poolStats(), { buffers: 0, bytes: 0 });
    g.destroy();
  },
});

Deno.test({
  name: "webgpu tests cover every op",
  ...opts,
  fn() {
    // Runs last: the op tests above add what they checked.
    const missing = OPS.filter((op) => !covered.has(op));
    assertEquals(missing, []);
  },
});
