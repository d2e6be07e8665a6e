/**
 * The backend interface: allocate, release, read, dispatch. Backends render primitive ops only.
 *
 * @module
 */
import type { DType, Op, OpAttrs, OutInfo } from "./ops.ts";

/** Host arrays for each dtype. */
export type HostArray = Float32Array | Int32Array;

/** A reference-counted block of backend memory. Tensors that share it (reshape) hold a ref each. */
export interface Storage {
  readonly backend: Backend;
  readonly bytes: number;
  refs: number;
}

/** What a kernel sees of an input: its storage, shape and dtype. */
export interface View {
  readonly storage: Storage;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** Live-memory counters: tests use them to prove that buffers are released. */
export interface MemoryStats {
  liveBuffers: number;
  liveBytes: number;
  peakBytes: number;
}

/** A compute backend. `run` must accept every op of the table. */
export interface Backend {
  readonly name: "cpu" | "webgpu";
  /** A human-readable description of the device (adapter name, threads). */
  readonly deviceInfo: string;
  upload(data: HostArray): Storage;
  run<O extends Op>(op: O, inputs: readonly View[], attrs: OpAttrs[O], out: OutInfo): Storage;
  read(storage: Storage, dtype: DType, size: number): Promise<HostArray>;
  /** Synchronous read; backends that cannot read synchronously return undefined. */
  readSync?(storage: Storage, dtype: DType, size: number): HostArray | undefined;
  release(storage: Storage): void;
  memory(): MemoryStats;
  /** Waits until all submitted work is complete. */
  sync(): Promise<void>;
}

/** Allocate a typed host array for a dtype. */
export function hostArray(dtype: DType, size: number): HostArray {
  return dtype === "f32" ? new Float32Array(size) : new Int32Array(size);
}
