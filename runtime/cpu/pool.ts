/**
 * A free list of host arrays for the `cpu` backend, keyed by dtype and length.
 *
 * Reconstruction runs the same shapes thousands of times; a fresh 50 MB `Float32Array` per kernel
 * call costs an mmap, page faults on first touch and a munmap when the garbage collector frees it
 * (on MobileNetV2 at 224×224 that was over half of the wall-clock, in system time). Released
 * arrays are kept here and handed out again, zero-filled, to the next kernel asking for the same
 * length. Arrays under 4 MB are not pooled (the allocator reuses those well); the pool holds at most
 * `PTQ_CPU_POOL_MB` megabytes (default: a quarter of the machine's memory).
 *
 * Lengths go out of use: each reconstruction unit has its own shapes. A length class that nothing
 * has taken or released for {@linkcode STALE_MS} is dropped, and a full pool drops stale classes
 * to make room, so the pool follows the current unit. (Without this, a capped pool filled with the
 * first units' shapes and pooled nothing afterwards: AdaRound's layer3 on MobileNetV2 ran at
 * 7.9 s/iteration with a 2 GB cap against 1.3 s/iteration with the pool working.)
 *
 * The pool also gives way to the machine: at most every 200 ms, `give` reads the memory the system
 * has available, and when that falls under an eighth of the total (at least 1 GB), the pool lowers
 * its capacity by the shortfall (least recently used lengths go first) and grows it back slowly
 * once memory has been plentiful again. Two runs side by side, each with the default quarter,
 * would otherwise hold half the machine in idle arrays and could be killed for memory. (Until
 * session 11 the pool emptied itself and stopped pooling until memory was back; beside a second
 * run it never was, and AdaRound's large layers ran 2–4 times slower for the rest of the run.)
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
const DEFAULT_MIN_POOLED = envInt("PTQ_CPU_POOL_MIN") ?? 1 << 20;
let minPooled = DEFAULT_MIN_POOLED;

/** A non-negative integer environment variable, else undefined. */
function envInt(name: string): number | undefined {
  try {
    const v = Deno.env.get(name);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  } catch {
    return undefined; // no --allow-env
  }
}

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
/** The capacity now: `limitBytes`, lowered while the system is short of memory. */
let capBytes = limitBytes;
let pooledBytes = 0;

/** A length class unused (neither taken nor released) this long is dropped. */
export const STALE_MS = 20_000;
/** While memory is plentiful again, the capacity grows back by this much per probe. */
const REGROW_BYTES = 128 * 2 ** 20;
/** After a cut, the next one waits this long (the collector has to free what was dropped). */
const CUT_EVERY_MS = 1000;

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
let lastCut = -Infinity;

/** One dtype and length: its free arrays and when it was last used. */
interface LengthClass {
  arrays: HostArray[];
  lastUse: number;
}
/** Length classes, least recently used first (a use moves its class to the end). */
const classes = new Map<string, LengthClass>();
const keyOf = (dtype: DType, n: number) => `${dtype}:${n}`;

function touch(key: string, c: LengthClass, now: number): void {
  c.lastUse = now;
  classes.delete(key);
  classes.set(key, c);
}

function drop(key: string, c: LengthClass): void {
  for (const a of c.arrays) pooledBytes -= a.byteLength;
  classes.delete(key);
}

/** Drops arrays, least recently used lengths first, until at most `bytes` are pooled. */
function shrinkTo(bytes: number): void {
  for (const [key, c] of classes) {
    while (pooledBytes > bytes && c.arrays.length) pooledBytes -= c.arrays.pop()!.byteLength;
    if (pooledBytes <= bytes) return;
    classes.delete(key);
  }
}

/** Drops the classes unused for {@linkcode STALE_MS} (the least recently used come first). */
function dropStale(now: number): void {
  for (const [key, c] of classes) {
    if (now - c.lastUse < STALE_MS) return;
    drop(key, c);
  }
}

/**
 * At most every 200 ms: drops stale classes and follows the system's memory: a shortfall under
 * max(total / 8, 1 GB) lowers the capacity by that much (at most once a second); 2 GB above that
 * floor, the capacity grows back towards its limit.
 */
function probeMemory(now: number): void {
  if (now - lastProbe < PROBE_EVERY_MS) return;
  lastProbe = now;
  dropStale(now);
  const m = probe();
  if (!m) return;
  const floor = Math.max(m.total / 8, 2 ** 30);
  if (m.available < floor) {
    if (now - lastCut < CUT_EVERY_MS) return;
    lastCut = now;
    capBytes = Math.max(0, Math.min(capBytes, pooledBytes) - (floor - m.available));
    shrinkTo(capBytes);
  } else if (m.available > floor + 2 * 2 ** 30) {
    capBytes = Math.min(limitBytes, capBytes + REGROW_BYTES);
  }
}

/** A zero-filled array of `n` elements, reused from the pool when one of that length is free. */
export function take(dtype: "f32", n: number): Float32Array;
export function take(dtype: "i32", n: number): Int32Array;
export function take(dtype: DType, n: number): HostArray;
export function take(dtype: DType, n: number): HostArray {
  if (n >= minPooled) {
    const key = keyOf(dtype, n);
    const c = classes.get(key);
    if (c) {
      touch(key, c, performance.now());
      const a = c.arrays.pop();
      if (a) {
        pooledBytes -= a.byteLength;
        return a.fill(0);
      }
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
  const now = performance.now();
  probeMemory(now);
  const key = keyOf(a instanceof Float32Array ? "f32" : "i32", a.length);
  if (pooledBytes + a.byteLength > capBytes) {
    dropStale(now);
    if (pooledBytes + a.byteLength > capBytes) return;
  }
  let c = classes.get(key);
  if (!c) classes.set(key, c = { arrays: [], lastUse: now });
  touch(key, c, now);
  c.arrays.push(a);
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
  classes.clear();
  pooledBytes = 0;
  lastProbe = -Infinity;
  lastCut = -Infinity;
  if (o) {
    limitBytes = (o.limitMb ?? defaultLimitMb()) * 2 ** 20;
    minPooled = o.minElements ?? DEFAULT_MIN_POOLED;
    probe = o.memoryProbe ?? systemMemory;
  }
  capBytes = limitBytes;
}
