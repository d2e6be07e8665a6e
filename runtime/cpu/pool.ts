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
 * The pool also gives way to the machine: at most every 200 ms, `give` reads the memory the system
 * has available, and when that falls under an eighth of the total (at least 1 GB) it empties itself
 * and pools nothing until memory is back. Two runs side by side, each with the default quarter,
 * would otherwise hold half the machine in idle arrays and could be killed for memory (a killed
 * run loses its unfinished unit).
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

/** Total and available system memory in bytes, or `undefined` where it cannot be read. */
export type MemoryProbe = () => { total: number; available: number } | undefined;

function systemMemory(): { total: number; available: number } | undefined {
  try {
    const m = Deno.systemMemoryInfo();
    return { total: m.total, available: m.available };
  } catch {
    return undefined; // no --allow-sys
  }
}

let probe: MemoryProbe = systemMemory;
const PROBE_EVERY_MS = 200;
let lastProbe = -Infinity;
let underPressure = false;

/** True when the system is short of memory (checked at most every 200 ms). */
function pressure(): boolean {
  const now = performance.now();
  if (now - lastProbe < PROBE_EVERY_MS) return underPressure;
  lastProbe = now;
  const m = probe();
  underPressure = m !== undefined && m.available < Math.max(m.total / 8, 2 ** 30);
  if (underPressure && pooledBytes > 0) {
    free.f32.clear();
    free.i32.clear();
    pooledBytes = 0;
  }
  return underPressure;
}
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
  if (pooledBytes + a.byteLength > limitBytes || pressure()) return;
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
 * Empties the pool. With options, also sets its capacity in MB (0 turns pooling off), the
 * smallest pooled length and the memory probe (tests); `clearPool({})` restores the defaults.
 */
export function clearPool(
  o?: { limitMb?: number; minElements?: number; memoryProbe?: MemoryProbe },
): void {
  free.f32.clear();
  free.i32.clear();
  pooledBytes = 0;
  lastProbe = -Infinity;
  underPressure = false;
  if (o) {
    limitBytes = (o.limitMb ?? defaultLimitMb()) * 2 ** 20;
    minPooled = o.minElements ?? DEFAULT_MIN_POOLED;
    probe = o.memoryProbe ?? systemMemory;
  }
}
