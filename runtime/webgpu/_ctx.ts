/**
 * What a WebGPU kernel sees of the backend: storage, one `dispatch` call that encodes a compute
 * pass step (pipelines cached by key), and small WGSL helpers shared by the kernel files.
 *
 * @module
 */
import type { Storage } from "../backend.ts";
import type { DType, Op, OpAttrs, OutInfo } from "../ops.ts";

/** A GPU buffer behind a tensor. `bytes` is what the tensor asked for, `capacity` what it got. */
export interface GpuStorage extends Storage {
  buffer: GPUBuffer;
  capacity: number;
}

/** A kernel input: its storage, shape and dtype. */
export interface GpuIn {
  storage: GpuStorage;
  shape: readonly number[];
  dtype: DType;
}

/** Which matmul kernel to use. */
export type GemmVariant = "register" | "shared";

/** One compute dispatch. */
export interface DispatchSpec {
  /** Pipeline cache key: must determine `code()` completely. */
  key: string;
  /** WGSL source; called only on a cache miss. */
  code: () => string;
  inputs: readonly GpuStorage[];
  output: GpuStorage;
  /** i32 words bound as `P: array<i32>` (floats through {@linkcode f32Bits}). */
  params: readonly number[];
  /** Workgroup counts. */
  groups: readonly [number, number?, number?];
}

/** The backend surface that kernels use. */
export interface Ctx {
  alloc(bytes: number): GpuStorage;
  dispatch(spec: DispatchSpec): void;
  readonly gemm: GemmVariant;
}

/** A kernel of the WebGPU table. */
export type GpuKernel<O extends Op> = (
  ctx: Ctx,
  inputs: GpuIn[],
  attrs: OpAttrs[O],
  out: OutInfo,
) => GpuStorage;

const f32View = new Float32Array(1);
const i32View = new Int32Array(f32View.buffer);

/** The bits of an f32 as an i32 word (read back in WGSL with `bitcast<f32>`). */
export function f32Bits(x: number): number {
  f32View[0] = x;
  return i32View[0];
}

/** WGSL element type of a dtype. */
export const wgslType = (d: DType): string => (d === "f32" ? "f32" : "i32");

/**
 * Binding declarations: inputs `src0..`, output `dst`, params `P`. `types` may name any WGSL
 * element type (`f32`, `i32`, `vec4<f32>`).
 */
export function bindings(inTypes: readonly string[], outType: string): string {
  const lines = inTypes.map((t, i) =>
    `@group(0) @binding(${i}) var<storage, read> src${i}: array<${t}>;`
  );
  lines.push(
    `@group(0) @binding(${inTypes.length}) var<storage, read_write> dst: array<${outType}>;`,
  );
  lines.push(`@group(0) @binding(${inTypes.length + 1}) var<storage, read> P: array<i32>;`);
  return lines.join("\n");
}

/** Threads per workgroup of the one-dimensional kernels. */
export const WG = 64;

/**
 * Entry point of a one-dimensional kernel over `n` threads (`n` is `P[0]`): defines `i: i32`
 * and returns early past the end. Use with {@linkcode grid}.
 */
export function main1d(body: string): string {
  return `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = i32(gid.x + gid.y * nwg.x * ${WG}u);
  if (i >= P[0]) { return; }
${body}
}`;
}

/** Workgroup counts for `n` threads of `wg` each, folded into y past 65535 groups in x. */
export function grid(n: number, wg = WG): [number, number] {
  const groups = Math.max(1, Math.ceil(n / wg));
  const x = Math.min(groups, 65535);
  const y = Math.ceil(groups / x);
  if (y > 65535) throw new RangeError(`WebGPU: ${n} threads exceed the dispatch limit`);
  return [x, y];
}

/** Row-major strides. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Strides of `shape` broadcast to `outShape` (0 along broadcast dimensions). */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const s = stridesOf(shape);
  const lead = outShape.length - shape.length;
  return outShape.map((_, i) => (i < lead || shape[i - lead] === 1 ? 0 : s[i - lead]));
}

/** Bytes of a tensor of `size` elements (every dtype is 4 bytes). */
export const bytesOf = (size: number): number => size * 4;
