/**
 * A free list of host arrays for the `cpu` backend, keyed by dtype and length.
 *
 * Reconstruction runs the same shapes thousands of times; a fresh 50 MB `Float32Array` per kernel
 * call costs an mmap, page faults on first touch and a munmap when the garbage collector frees it
 * (on MobileNetV2 at 224×224 that was over half of the wall-clock, in system time). Released
 * arrays are kept here and handed out again, zero-filled, to the next kernel asking for the same
 * length. Arrays under 4 MB are not pooled (the allocator reuses those well); the pool holds at most
 * `PTQ_CPU_POOL_MB` megabytes (default: a quarter of the
 * machine's memory) and drops what does not fit.
 *
 * @module
 */
import type { HostArray } from "../backend.ts";
import type { DType } from "../ops.ts";

/**
 * Arrays shorter than this (1 Mi elements, 4 MB) are allocated fresh and never pooled: the C
 * allocator already reuses small blocks without new page faults, and keeping them here only grew
 * the process (8 GB resident on the proxy suite with a 4 K-element minimum, for no speed-up).
 */
const DEFAULT_MIN_POOLED = 1 << 20;
let minPooled = DEFAULT_MIN_POOLED;

/** `PTQ_CPU_POOL_MB`, else a quarter of the machine's memory (2 GB where that is unknown). */
function defaultLimitMb(): number {
  try {
    const v = Deno.env.get("PTQ_CPU_POOL_MB");
    if (v !== undefined && Number.isFinite(Number(v)) && Number(v) >= 0) return Number(v);
    return Deno.systemMemoryInfo().total / 4 / 2 ** 20;
  } catch {
    return 2048; // no --allow-env / --allow-sys
  }
}

let limitBytes = defaultLimitMb() * 2 ** 20;
let pooledBytes = 0;
const free = { f32: new Map<number, Float32Array[]>(), i32: new Map<number, Int32Array[]>() };

/** A zero-filled array of `n` elements, reused from the pool when one of that length is free. */
export function take(dtype: "f32", n: number): Float32Array;
export function take(dtype: "i32", n: number): Int32Array;
export function take(dtype: DType, n: number): HostArray;
export function take(dtype: DType, n: number): HostArray {
  if (n >= minPooled) {
    const a = (free[dtype] as Map<number, HostArray[]>).get(n)?.pop();
    if (a) {
      pooledBytes -= a.byteLength;
      return a.fill(0);
    }
  }
  return dtype === "f32" ? new Float32Array(n) : new Int32Array(n);
}

/**
 * Returns an array to the pool. The caller must hold the only reference to it (the backend's
 * storage that owned it is being released). Views into a larger buffer are not pooled.
 */
export function give(a: HostArray): void {
  if (a.length < minPooled || a.byteLength !== a.buffer.byteLength) return;
  if (pooledBytes + a.byteLength > limitBytes) return;
  const map = (a instanceof Float32Array ? free.f32 : free.i32) as Map<number, HostArray[]>;
  const list = map.get(a.length);
  if (list) list.push(a);
  else map.set(a.length, [a]);
  pooledBytes += a.byteLength;
}

/** Bytes held by the pool (not counted as live tensor memory). */
export function poolBytes(): number {
  return pooledBytes;
}

/**
 * Empties the pool. With options, also sets its capacity in MB (0 turns pooling off) and the
 * smallest pooled length; `clearPool({})` restores the defaults.
 */
export function clearPool(o?: { limitMb?: number; minElements?: number }): void {
  free.f32.clear();
  free.i32.clear();
  pooledBytes = 0;
  if (o) {
    limitBytes = (o.limitMb ?? defaultLimitMb()) * 2 ** 20;
    minPooled = o.minElements ?? DEFAULT_MIN_POOLED;
  }
}
