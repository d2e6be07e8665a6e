/**
 * Tensor, op dispatch, memory scopes and the autograd recording hook.
 *
 * A tensor is a shape, a dtype and a reference-counted storage on one backend. Ops are dispatched
 * through {@linkcode runOp}, which infers the output shape from the op table, runs the backend's
 * kernel, and — when gradients are enabled and an input requires them — records a tape node.
 *
 * Memory is explicit: `tensor.dispose()`, `using t = …`, or {@linkcode tidy}, which releases
 * every tensor created inside it except the ones it returns or marks with {@linkcode keep}.
 *
 * @module
 */
import type { Backend, HostArray, Storage } from "./backend.ts";
import { type DType, INFER, type Op, type OpAttrs, sizeOf } from "./ops.ts";
import { profiling, recordProfile } from "./profile.ts";

/** A node of the autograd tape: the op that produced a tensor and what it needs to backprop. */
export interface TapeNode {
  op: Op | "reshape";
  inputs: Tensor[];
  attrs: unknown;
}

let nextId = 1;

/** An n-dimensional array on one backend. */
export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  #storage: Storage;
  /** True for leaves whose gradient is wanted, and for results computed from them. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf, set by `backward`. */
  grad: Tensor | null = null;
  /** The tape node that produced this tensor, or null for leaves and untracked results. */
  node: TapeNode | null = null;
  #disposed = false;

  constructor(storage: Storage, shape: readonly number[], dtype: DType) {
    this.#storage = storage;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    track(this);
  }

  get storage(): Storage {
    return this.#storage;
  }
  get backend(): Backend {
    return this.#storage.backend;
  }

  /**
   * Replaces this tensor's values with `src`'s (same shape and dtype), sharing its storage.
   * Optimizers use it to update parameters in place; the tape of `src` is not taken over.
   */
  assign(src: Tensor): this {
    this.#check();
    if (
      src.dtype !== this.dtype || src.shape.length !== this.shape.length ||
      src.shape.some((d, i) => d !== this.shape[i])
    ) {
      throw new RangeError(
        `assign: [${src.shape}] ${src.dtype} into [${this.shape}] ${this.dtype}`,
      );
    }
    if (src.storage === this.#storage) return this;
    src.storage.refs++;
    if (--this.#storage.refs === 0) this.#storage.backend.release(this.#storage);
    this.#storage = src.storage;
    return this;
  }
  get size(): number {
    return sizeOf(this.shape);
  }
  get rank(): number {
    return this.shape.length;
  }
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Reads the values to the host. */
  async data(): Promise<HostArray> {
    this.#check();
    return await this.backend.read(this.storage, this.dtype, this.size);
  }

  /** Reads synchronously; only backends with host memory (cpu) support it. */
  dataSync(): HostArray {
    this.#check();
    const out = this.backend.readSync?.(this.storage, this.dtype, this.size);
    if (!out) {
      throw new TypeError(
        `dataSync is not available on the ${this.backend.name} backend: use data()`,
      );
    }
    return out;
  }

  /** Reads a single-element tensor as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new RangeError(`item() needs one element, shape is [${this.shape}]`);
    return (await this.data())[0];
  }

  /** Releases this tensor's reference to its storage (and its gradient). Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.node = null;
    this.grad?.dispose();
    this.grad = null;
    if (--this.#storage.refs === 0) this.#storage.backend.release(this.#storage);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Marks this tensor as a leaf that accumulates gradients. Returns itself. */
  variable(): this {
    if (this.dtype !== "f32") throw new TypeError("Only f32 tensors can require gradients");
    this.requiresGrad = true;
    this.node = null;
    return this;
  }

  #check(): void {
    if (this.#disposed) throw new ReferenceError(`Tensor ${this.id} [${this.shape}] was disposed`);
  }

  toString(): string {
    return `Tensor(${this.id}, [${this.shape}], ${this.dtype}, ${this.backend.name})`;
  }
}

// ---------------------------------------------------------------------------------------------
// Default backend

let defaultBackend: Backend | null = null;

/** Sets the backend that new tensors go to when none is named. */
export function setBackend(backend: Backend): void {
  defaultBackend = backend;
}

/** The default backend (set by `setBackend`, else the one `runtime/mod.ts` installs: cpu). */
export function getBackend(): Backend {
  if (!defaultBackend) {
    throw new Error("No backend set: call setBackend() or import runtime/mod.ts");
  }
  return defaultBackend;
}

// ---------------------------------------------------------------------------------------------
// Memory scopes

const scopes: Set<Tensor>[] = [];

function track(t: Tensor): void {
  scopes.at(-1)?.add(t);
}

/** Removes a tensor from the enclosing scopes so `tidy` does not dispose it. Returns it. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/** Collects the tensors inside a returned value (a tensor, an array or a plain object of them). */
function collect(value: unknown, out: Set<Tensor>): void {
  if (value instanceof Tensor) out.add(value);
  else if (Array.isArray(value)) { for (const v of value) collect(v, out); }
  else if (
    value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype
  ) {
    for (const v of Object.values(value)) collect(v, out);
  }
}

/**
 * Runs `fn` and disposes every tensor it created except those it returns (and `keep`s).
 * The returned tensors move to the enclosing scope.
 *
 * @example
 * ```ts
 * import { add, tensor, tidy } from "./mod.ts";
 * const y = tidy(() => add(add(tensor([1, 2]), 1), 1)); // the intermediate is released
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) {
    throw new TypeError("tidy() takes a synchronous function; use tidyAsync for async ones");
  }
  release(scope, result);
  return result;
}

/** Like {@linkcode tidy} for async functions. Do not interleave two tidyAsync calls. */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = await fn();
  } finally {
    const i = scopes.lastIndexOf(scope);
    if (i >= 0) scopes.splice(i, 1);
  }
  release(scope, result);
  return result;
}

function release(scope: Set<Tensor>, result: unknown): void {
  const kept = new Set<Tensor>();
  collect(result, kept);
  for (const t of scope) if (!kept.has(t)) t.dispose();
  for (const t of kept) if (scope.has(t)) track(t);
}

// ---------------------------------------------------------------------------------------------
// Gradient mode

let noGradDepth = 0;

/** True while operations are being recorded for autograd. */
export function isGradEnabled(): boolean {
  return noGradDepth === 0;
}

/** Runs `fn` without recording the tape (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  noGradDepth++;
  try {
    return fn();
  } finally {
    noGradDepth--;
  }
}

// ---------------------------------------------------------------------------------------------
// Dispatch

/** Wraps a storage that was just created (refs = 1) in a new tensor. */
export function fromStorage(storage: Storage, shape: readonly number[], dtype: DType): Tensor {
  return new Tensor(storage, shape, dtype);
}

/** A tensor that shares `t`'s storage with another shape of the same size (reshape, squeeze). */
export function view(t: Tensor, shape: readonly number[]): Tensor {
  if (sizeOf(shape) !== t.size) {
    throw new RangeError(`Cannot reshape [${t.shape}] (${t.size} elements) to [${shape}]`);
  }
  if (t.disposed) throw new ReferenceError(`Tensor ${t.id} was disposed`);
  t.storage.refs++;
  const out = new Tensor(t.storage, shape, t.dtype);
  if (isGradEnabled() && t.requiresGrad) {
    out.requiresGrad = true;
    out.node = { op: "reshape", inputs: [t], attrs: { shape: [...t.shape] } };
  }
  return out;
}

/**
 * Runs a primitive op on its inputs' backend and records it on the tape when needed.
 * All inputs must live on one backend.
 */
export function runOp<O extends Op>(op: O, inputs: readonly Tensor[], attrs: OpAttrs[O]): Tensor {
  const backend = inputs[0].backend;
  for (const t of inputs) {
    if (t.disposed) {
      throw new ReferenceError(`${op}: input tensor ${t.id} [${t.shape}] was disposed`);
    }
    if (t.backend !== backend) {
      throw new TypeError(
        `${op}: inputs are on different backends (${backend.name}, ${t.backend.name})`,
      );
    }
  }
  const info = INFER[op](inputs, attrs);
  let storage: Storage;
  if (profiling) {
    const t0 = performance.now();
    storage = backend.run(op, inputs, attrs, info);
    recordProfile(op, performance.now() - t0, sizeOf(info.shape));
  } else storage = backend.run(op, inputs, attrs, info);
  const out = new Tensor(storage, info.shape, info.dtype);
  if (noGradDepth === 0 && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs: [...inputs], attrs };
  }
  return out;
}

/** Uploads host data as a new tensor on `backend` (default backend if omitted). */
export function upload(
  data: HostArray,
  shape: readonly number[],
  backend: Backend = getBackend(),
): Tensor {
  if (data.length !== sizeOf(shape)) {
    throw new RangeError(
      `Data has ${data.length} elements but shape [${shape}] needs ${sizeOf(shape)}`,
    );
  }
  const dtype: DType = data instanceof Int32Array ? "i32" : "f32";
  if (profiling) {
    const t0 = performance.now();
    const s = backend.upload(data);
    recordProfile("(upload)", performance.now() - t0, data.length);
    return new Tensor(s, shape, dtype);
  }
  return new Tensor(backend.upload(data), shape, dtype);
}
