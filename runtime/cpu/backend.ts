/**
 * The `cpu` backend: host typed arrays, the reference kernels of `kernels.ts`, and onnxruntime's
 * kernels for dense matmul and convolution (forward and both gradients) when they are large
 * enough to pay for a call.
 *
 * @module
 */
import type { Backend, HostArray, MemoryStats, Storage, View } from "../backend.ts";
import type { Conv2dAttrs, DType, Op, OpAttrs, OutInfo } from "../ops.ts";
import { sizeOf } from "../ops.ts";
import { CPU_KERNELS, type CpuIn, type Kernel } from "./kernels.ts";
import { type MiniGraph, ortAvailable, runGraph } from "./ort.ts";
import { give, take } from "./pool.ts";

/** CPU storage: one host array. */
export interface CpuStorage extends Storage {
  data: HostArray;
}

/** Operations below this many multiply-adds stay in TypeScript. */
const ORT_MIN_MACS = 32_768;

function convMacs(out: number[], w: readonly number[]): number {
  return sizeOf(out) * w[1] * w[2] * w[3];
}

function convNodeAttrs(a: Conv2dAttrs) {
  return { strides: a.strides, pads: a.pads, dilations: a.dilations, group: a.groups };
}

const fastKernels: Partial<{ [O in Op]: Kernel<O> }> = {
  matmul: ([a, b], t, out) => {
    const K = t.transA ? a.shape.at(-2)! : a.shape.at(-1)!;
    if (sizeOf(out.shape) * K < ORT_MIN_MACS) return CPU_KERNELS.matmul([a, b], t, out);
    if (a.shape.length === 2 && b.shape.length === 2) {
      return runGraph(
        {
          inputs: [[...a.shape], [...b.shape]],
          nodes: [{
            op: "Gemm",
            inputs: ["in0", "in1"],
            outputs: ["out"],
            attrs: { transA: +t.transA, transB: +t.transB },
          }],
        },
        [a.data as Float32Array, b.data as Float32Array],
        out.shape,
      ).data;
    }
    const perm = (r: number) => [...Array(r - 2).keys(), r - 1, r - 2];
    const nodes = [];
    let ia = "in0", ib = "in1";
    if (t.transA) {
      nodes.push({
        op: "Transpose",
        inputs: ["in0"],
        outputs: ["ta"],
        attrs: { perm: perm(a.shape.length) },
      });
      ia = "ta";
    }
    if (t.transB) {
      nodes.push({
        op: "Transpose",
        inputs: ["in1"],
        outputs: ["tb"],
        attrs: { perm: perm(b.shape.length) },
      });
      ib = "tb";
    }
    nodes.push({ op: "MatMul", inputs: [ia, ib], outputs: ["out"] });
    return runGraph({ inputs: [[...a.shape], [...b.shape]], nodes }, [
      a.data as Float32Array,
      b.data as Float32Array,
    ], out.shape).data;
  },
  conv2d: ([x, w], a, out) => {
    if (convMacs(out.shape, w.shape) < ORT_MIN_MACS) return CPU_KERNELS.conv2d([x, w], a, out);
    return runGraph(
      {
        inputs: [[...x.shape], [...w.shape]],
        nodes: [{ op: "Conv", inputs: ["in0", "in1"], outputs: ["out"], attrs: convNodeAttrs(a) }],
      },
      [x.data as Float32Array, w.data as Float32Array],
      out.shape,
    ).data;
  },
  conv2dBackwardInput: ([dy, w], a, out) => {
    if (convMacs([...dy.shape], w.shape) < ORT_MIN_MACS) {
      return CPU_KERNELS.conv2dBackwardInput([dy, w], a, out);
    }
    return runGraph(convBackwardInputGraph(dy.shape, w.shape, a), [
      dy.data as Float32Array,
      w.data as Float32Array,
    ], out.shape).data;
  },
  conv2dBackwardWeight: ([x, dy], a, out) => {
    if (convMacs([...dy.shape], a.weightShape) < ORT_MIN_MACS) {
      return CPU_KERNELS.conv2dBackwardWeight([x, dy], a, out);
    }
    return runGraph(convBackwardWeightGraph(x.shape, dy.shape, a), [
      x.data as Float32Array,
      dy.data as Float32Array,
    ], out.shape).data;
  },
};

/** A 1x1, stride-1, unpadded, ungrouped convolution: a matrix product per image. */
function isPointwise(wShape: readonly number[], a: Conv2dAttrs): boolean {
  return wShape[2] === 1 && wShape[3] === 1 && a.groups === 1 &&
    a.strides.every((v) => v === 1) && a.pads.every((v) => v === 0);
}

/**
 * conv2d's input gradient as an ONNX graph (`in0` = dy, `in1` = w): a ConvTranspose, whose
 * weight layout [C_in, C_out / group, kh, kw] is the forward OIHW weight.
 */
export function convBackwardInputGraph(
  dyShape: readonly number[],
  wShape: readonly number[],
  a: Conv2dAttrs & { inputShape: number[] },
): MiniGraph {
  if (isPointwise(wShape, a)) {
    // dx[n] = W^T dy[n]: one batched MatMul over [N, O, HW]
    const [N, C, H, W] = a.inputShape;
    const O = wShape[0];
    return {
      inputs: [[...dyShape], [...wShape]],
      constants: { d3: [N, O, H * W], w2: [O, C], x4: [N, C, H, W] },
      nodes: [
        { op: "Reshape", inputs: ["in0", "d3"], outputs: ["dy3"] },
        { op: "Reshape", inputs: ["in1", "w2"], outputs: ["w2d"] },
        { op: "Transpose", inputs: ["w2d"], outputs: ["wt"], attrs: { perm: [1, 0] } },
        { op: "MatMul", inputs: ["wt", "dy3"], outputs: ["dx3"] },
        { op: "Reshape", inputs: ["dx3", "x4"], outputs: ["out"] },
      ],
    };
  }
  const [, , H, W] = a.inputShape;
  const [, , OH, OW] = dyShape;
  const [, , KH, KW] = wShape;
  const full = (i: number, o: number, k: number, s: number, d: number, pb: number, pe: number) =>
    i - (s * (o - 1) + d * (k - 1) + 1 - pb - pe);
  const outputPadding = [
    full(H, OH, KH, a.strides[0], a.dilations[0], a.pads[0], a.pads[2]),
    full(W, OW, KW, a.strides[1], a.dilations[1], a.pads[1], a.pads[3]),
  ];
  return {
    inputs: [[...dyShape], [...wShape]],
    nodes: [{
      op: "ConvTranspose",
      inputs: ["in0", "in1"],
      outputs: ["out"],
      attrs: { ...convNodeAttrs(a), output_padding: outputPadding },
    }],
  };
}

/**
 * conv2d's weight gradient as an ONNX graph (`in0` = x, `in1` = dy): a convolution with the batch
 * and input-channel roles swapped, and stride and dilation swapped.
 */
export function convBackwardWeightGraph(
  xShape: readonly number[],
  dyShape: readonly number[],
  a: Conv2dAttrs & { weightShape: number[] },
): MiniGraph {
  if (isPointwise(a.weightShape, a)) {
    // dW = sum_n dy[n] x[n]^T: a batched MatMul over [N, ·, HW] and a sum over the batch,
    // transposing whichever of x and dy has fewer channels.
    const [N, C, H, W] = xShape;
    const O = a.weightShape[0];
    const small = O <= C;
    return {
      inputs: [[...xShape], [...dyShape]],
      constants: { x3: [N, C, H * W], d3: [N, O, H * W], ax: [0], w4: [O, C, 1, 1] },
      nodes: [
        { op: "Reshape", inputs: ["in0", "x3"], outputs: ["xr"] },
        { op: "Reshape", inputs: ["in1", "d3"], outputs: ["dr"] },
        small
          ? { op: "Transpose", inputs: ["dr"], outputs: ["dt"], attrs: { perm: [0, 2, 1] } }
          : { op: "Transpose", inputs: ["xr"], outputs: ["xt"], attrs: { perm: [0, 2, 1] } },
        small
          ? { op: "MatMul", inputs: ["xr", "dt"], outputs: ["p"] } // [N, C, O]
          : { op: "MatMul", inputs: ["dr", "xt"], outputs: ["p"] }, // [N, O, C]
        { op: "ReduceSum", inputs: ["p", "ax"], outputs: ["s"], attrs: { keepdims: 0 } },
        ...(small
          ? [{ op: "Transpose", inputs: ["s"], outputs: ["st"], attrs: { perm: [1, 0] } }]
          : []),
        { op: "Reshape", inputs: [small ? "st" : "s", "w4"], outputs: ["out"] },
      ],
    };
  }
  // dW as a convolution: batch and input-channel roles swap, stride and dilation swap.
  //   x'[i, g*N + n] = x[n, g*I + i],  w'[g*O + o, n] = dy[n, g*O + o]
  //   y'[i, g*O + o, kh, kw] = sum_n,y,x w'[..] x'[..] ; dW = y'[:, :, :KH, :KW] transposed.
  const [N, , H, W] = xShape;
  const [, Cout, OH, OW] = dyShape;
  const [, I, KH, KW] = a.weightShape;
  const G = a.groups, O = Cout / G;
  return {
    inputs: [[...xShape], [...dyShape]],
    constants: {
      xs5: [N, G, I, H, W],
      xs4: [I, G * N, H, W],
      ds5: [N, G, O, OH, OW],
      ds4: [G * O, N, OH, OW],
      st: [0, 0],
      en: [KH, KW],
      ax: [2, 3],
    },
    nodes: [
      { op: "Reshape", inputs: ["in0", "xs5"], outputs: ["x5"] },
      { op: "Transpose", inputs: ["x5"], outputs: ["x5t"], attrs: { perm: [2, 1, 0, 3, 4] } },
      { op: "Reshape", inputs: ["x5t", "xs4"], outputs: ["xp"] },
      { op: "Reshape", inputs: ["in1", "ds5"], outputs: ["d5"] },
      { op: "Transpose", inputs: ["d5"], outputs: ["d5t"], attrs: { perm: [1, 2, 0, 3, 4] } },
      { op: "Reshape", inputs: ["d5t", "ds4"], outputs: ["dp"] },
      {
        op: "Conv",
        inputs: ["xp", "dp"],
        outputs: ["yp"],
        attrs: { strides: a.dilations, dilations: a.strides, pads: a.pads, group: G },
      },
      { op: "Slice", inputs: ["yp", "st", "en", "ax"], outputs: ["ys"] },
      { op: "Transpose", inputs: ["ys"], outputs: ["out"], attrs: { perm: [1, 0, 2, 3] } },
    ],
  };
}

/** Options of {@linkcode CpuBackend}. */
export interface CpuOptions {
  /** Route dense matmul/conv to onnxruntime (default: when it loads). */
  fast?: boolean;
}

/** The CPU backend. */
export class CpuBackend implements Backend {
  readonly name = "cpu" as const;
  readonly deviceInfo: string;
  readonly fast: boolean;
  #stats: MemoryStats = { liveBuffers: 0, liveBytes: 0, peakBytes: 0 };

  constructor(opts: CpuOptions = {}) {
    this.fast = opts.fast ?? ortAvailable();
    this.deviceInfo = `cpu (${navigator.hardwareConcurrency} threads${
      this.fast ? ", onnxruntime kernels for matmul/conv" : ", reference kernels"
    })`;
  }

  #wrap(data: HostArray): CpuStorage {
    this.#stats.liveBuffers++;
    this.#stats.liveBytes += data.byteLength;
    this.#stats.peakBytes = Math.max(this.#stats.peakBytes, this.#stats.liveBytes);
    return { backend: this, bytes: data.byteLength, refs: 1, data };
  }

  upload(data: HostArray): Storage {
    const copy = take(data instanceof Float32Array ? "f32" : "i32", data.length);
    copy.set(data);
    return this.#wrap(copy);
  }

  run<O extends Op>(op: O, inputs: readonly View[], attrs: OpAttrs[O], out: OutInfo): Storage {
    const ins: CpuIn[] = inputs.map((v) => ({
      data: (v.storage as CpuStorage).data,
      shape: v.shape,
      dtype: v.dtype,
    }));
    const kernel = ((this.fast ? fastKernels[op] : undefined) ?? CPU_KERNELS[op]) as Kernel<O>;
    return this.#wrap(kernel(ins, attrs, out));
  }

  read(storage: Storage, _dtype: DType, _size: number): Promise<HostArray> {
    return Promise.resolve((storage as CpuStorage).data.slice());
  }

  readSync(storage: Storage): HostArray {
    return (storage as CpuStorage).data.slice();
  }

  release(storage: Storage): void {
    const s = storage as CpuStorage;
    this.#stats.liveBuffers--;
    this.#stats.liveBytes -= s.bytes;
    give(s.data);
    s.data = new Float32Array(0);
  }

  memory(): MemoryStats {
    return { ...this.#stats };
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }
}
