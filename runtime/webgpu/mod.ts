/**
 * The `webgpu` backend: tensors in GPU storage buffers, every op of the table as a WGSL kernel
 * (see `kernels.ts`), all dispatches of a step encoded into one command encoder and submitted
 * only when the host reads (`read`) or waits (`sync`).
 *
 * Memory: released buffers go to a pool bucketed by size (drain it with `drainPool`), or are
 * destroyed with `{ pool: false }`. Buffers released while their last use is still being encoded
 * are reused only by later dispatches of the same encoder (ordered after it), never by uploads.
 *
 * Matmul has two kernels: `register` (8x8 outputs per thread, vec4 loads, no shared memory; for
 * software adapters such as llvmpipe/lavapipe) and `shared` (workgroup-memory tiles; for real
 * GPUs). The adapter decides unless `gemm` is forced.
 *
 * @example
 * ```ts
 * import { createWebGpuBackend } from "./mod.ts";
 * import { add, tensor } from "../mod.ts";
 * const gpu = await createWebGpuBackend();
 * if (gpu) {
 *   const y = add(tensor([1, 2], undefined, { backend: gpu }), 1);
 *   console.log(await y.data()); // Float32Array [2, 3]
 * }
 * ```
 *
 * @module
 */
import type { Backend, HostArray, MemoryStats, Storage, View } from "../backend.ts";
import type { DType, Op, OpAttrs, OutInfo } from "../ops.ts";
import type { Ctx, DispatchSpec, GemmVariant, GpuIn, GpuKernel, GpuStorage } from "./_ctx.ts";
import { GPU_KERNELS } from "./kernels.ts";

export type { GemmVariant, GpuStorage } from "./_ctx.ts";
export { matmul as matmulVariant } from "./matmul.ts";

/** Options of {@linkcode createWebGpuBackend}. */
export interface WebGpuOptions {
  /** Matmul kernel: `auto` (default) picks `register` on software adapters, else `shared`. */
  gemm?: GemmVariant | "auto";
  /** Keep released buffers in a size-bucketed pool (default true). */
  pool?: boolean;
  powerPreference?: GPUPowerPreference;
}

/** True for adapters that run on the CPU (llvmpipe, lavapipe, SwiftShader, WARP). */
export function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  if (info.isFallbackAdapter || (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter) {
    return true;
  }
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  // 65541 = 0x10005, VK_VENDOR_ID_MESA: Mesa's software rasterizers report it.
  return /llvmpipe|lavapipe|swiftshader|software|microsoft basic render/i.test(text) ||
    info.vendor === "65541" || info.vendor === "0x10005";
}

function envBackend(): string {
  try {
    return Deno.env.get("DENO_WEBGPU_BACKEND") ?? "default";
  } catch {
    return "default";
  }
}

/**
 * Creates the WebGPU backend, or returns null (never throws) when `navigator.gpu`, an adapter or
 * a device is not available.
 */
export async function createWebGpuBackend(opts: WebGpuOptions = {}): Promise<WebGpuBackend | null> {
  try {
    const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
    if (!gpu) return null;
    const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference });
    if (!adapter) return null;
    const L = adapter.limits;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
        maxBufferSize: L.maxBufferSize,
        maxStorageBuffersPerShaderStage: L.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
      },
    });
    return new WebGpuBackend(adapter, device, opts);
  } catch {
    return null;
  }
}

interface ParamChunk {
  buffer: GPUBuffer;
  host: Int32Array;
}

interface Pooled {
  buffer: GPUBuffer;
  /** The batch (submit counter) in which it was released. */
  batch: number;
}

const CHUNK_WORDS = 16384;
const MAX_DISPATCHES = 4096;
const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

/** Pool bucket for a byte size: multiples of 16, then eight steps per power of two. */
function bucket(bytes: number): number {
  const b = Math.max(16, roundUp(bytes, 16));
  if (b <= 1024) return b;
  const step = 2 ** (Math.floor(Math.log2(b)) - 3);
  return roundUp(b, step);
}

/** The WebGPU backend. Create it with {@linkcode createWebGpuBackend}. */
export class WebGpuBackend implements Backend {
  readonly name = "webgpu" as const;
  readonly deviceInfo: string;
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  /** True on software adapters (llvmpipe, lavapipe). */
  readonly software: boolean;
  /** The matmul kernel in use; may be changed at any time. */
  gemm: GemmVariant;
  readonly pooling: boolean;

  #stats: MemoryStats = { liveBuffers: 0, liveBytes: 0, peakBytes: 0 };
  #pipelines = new Map<string, GPUComputePipeline>();
  #layouts = new Map<number, [GPUBindGroupLayout, GPUPipelineLayout]>();
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #dispatches = 0;
  #chunks: ParamChunk[] = [];
  #chunk = 0;
  #chunkOff = 0;
  #pool = new Map<number, Pooled[]>();
  #pooledBytes = 0;
  #pooledCount = 0;
  #batch = 0;
  #destroyLater: GPUBuffer[] = [];
  #errors: string[] = [];
  #alignWords: number;
  #ctx: Ctx;

  constructor(adapter: GPUAdapter, device: GPUDevice, opts: WebGpuOptions = {}) {
    this.adapter = adapter;
    this.device = device;
    this.software = isSoftwareAdapter(adapter);
    this.gemm = !opts.gemm || opts.gemm === "auto"
      ? (this.software ? "register" : "shared")
      : opts.gemm;
    this.pooling = opts.pool ?? true;
    this.#alignWords = Math.max(16, device.limits.minStorageBufferOffsetAlignment) / 4;
    const info = adapter.info;
    const parts = [info.description, info.vendor && `vendor ${info.vendor}`];
    if (info.architecture) parts.push(`arch ${info.architecture}`);
    if (info.device && info.device !== "0") parts.push(`device ${info.device}`);
    this.deviceInfo =
      `webgpu (${parts.filter(Boolean).join(", ")}; DENO_WEBGPU_BACKEND=${envBackend()}` +
      `${this.software ? ", software adapter" : ""}; gemm ${this.gemm})`;
    device.onuncapturederror = (e: GPUUncapturedErrorEvent) => {
      this.#errors.push(e.error.message);
    };
    const gemm = () => this.gemm;
    this.#ctx = {
      alloc: (bytes) => this.#alloc(bytes),
      dispatch: (spec) => this.#dispatch(spec),
      get gemm() {
        return gemm();
      },
    };
  }

  // ----------------------------------------------------------------------------------------
  // Memory

  #track(s: GpuStorage): GpuStorage {
    this.#stats.liveBuffers++;
    this.#stats.liveBytes += s.bytes;
    this.#stats.peakBytes = Math.max(this.#stats.peakBytes, this.#stats.liveBytes);
    return s;
  }

  #newBuffer(capacity: number, mapped = false): GPUBuffer {
    if (capacity > this.device.limits.maxBufferSize) {
      throw new RangeError(
        `WebGPU: a buffer of ${capacity} bytes exceeds this adapter's maxBufferSize ` +
          `(${this.device.limits.maxBufferSize})`,
      );
    }
    return this.device.createBuffer({
      size: capacity,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      mappedAtCreation: mapped,
    });
  }

  /** A pooled buffer of `capacity`; `clean` ones were released before the last submit. */
  #fromPool(capacity: number, clean: boolean): GPUBuffer | null {
    const list = this.#pool.get(capacity);
    if (!list?.length) return null;
    let k = list.length - 1;
    if (clean) {
      while (k >= 0 && list[k].batch >= this.#batch) k--;
      if (k < 0) return null;
    }
    const [p] = list.splice(k, 1);
    this.#pooledBytes -= capacity;
    this.#pooledCount--;
    return p.buffer;
  }

  #alloc(bytes: number): GpuStorage {
    const capacity = bucket(bytes);
    const buffer = this.#fromPool(capacity, false) ?? this.#newBuffer(capacity);
    return this.#track({ backend: this, bytes, refs: 1, buffer, capacity });
  }

  upload(data: HostArray): Storage {
    const capacity = bucket(data.byteLength);
    let buffer = this.#fromPool(capacity, true);
    if (buffer) {
      if (data.byteLength) this.device.queue.writeBuffer(buffer, 0, data);
    } else {
      buffer = this.#newBuffer(capacity, true);
      new Uint8Array(buffer.getMappedRange()).set(
        new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      );
      buffer.unmap();
    }
    return this.#track({ backend: this, bytes: data.byteLength, refs: 1, buffer, capacity });
  }

  release(storage: Storage): void {
    const s = storage as GpuStorage & { released?: boolean };
    if (s.released) return;
    s.released = true;
    this.#stats.liveBuffers--;
    this.#stats.liveBytes -= s.bytes;
    if (this.pooling) {
      const list = this.#pool.get(s.capacity) ?? [];
      // Without pending work its last use is already submitted: uploads may reuse it at once.
      list.push({ buffer: s.buffer, batch: this.#encoder ? this.#batch : this.#batch - 1 });
      this.#pool.set(s.capacity, list);
      this.#pooledBytes += s.capacity;
      this.#pooledCount++;
    } else if (this.#encoder) this.#destroyLater.push(s.buffer);
    else s.buffer.destroy();
  }

  memory(): MemoryStats {
    return { ...this.#stats };
  }

  /** Buffers and bytes held by the pool (not counted as live). */
  poolStats(): { buffers: number; bytes: number } {
    return { buffers: this.#pooledCount, bytes: this.#pooledBytes };
  }

  /** Destroys every pooled buffer (after submitting pending work that may use them). */
  drainPool(): void {
    this.flush();
    for (const list of this.#pool.values()) for (const p of list) p.buffer.destroy();
    this.#pool.clear();
    this.#pooledBytes = 0;
    this.#pooledCount = 0;
  }

  /** Releases the pool and the device. The backend is unusable afterwards. */
  destroy(): void {
    this.drainPool();
    for (const c of this.#chunks) c.buffer.destroy();
    this.#chunks = [];
    this.device.destroy();
  }

  // ----------------------------------------------------------------------------------------
  // Encoding

  #layout(nInputs: number): [GPUBindGroupLayout, GPUPipelineLayout] {
    let pl = this.#layouts.get(nInputs);
    if (!pl) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      for (let i = 0; i < nInputs + 2; i++) {
        entries.push({
          binding: i,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: i === nInputs ? "storage" : "read-only-storage" },
        });
      }
      const bgl = this.device.createBindGroupLayout({ entries });
      pl = [bgl, this.device.createPipelineLayout({ bindGroupLayouts: [bgl] })];
      this.#layouts.set(nInputs, pl);
    }
    return pl;
  }

  #pipeline(spec: DispatchSpec): GPUComputePipeline {
    const key = `${spec.inputs.length}|${spec.key}`;
    let p = this.#pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: spec.code(), label: spec.key });
      p = this.device.createComputePipeline({
        label: spec.key,
        layout: this.#layout(spec.inputs.length)[1],
        compute: { module, entryPoint: "main" },
      });
      this.#pipelines.set(key, p);
    }
    return p;
  }

  /** Places params in the current chunk; returns [buffer, byte offset, byte size]. */
  #params(words: readonly number[]): [GPUBuffer, number, number] {
    const n = Math.max(4, roundUp(words.length, 4));
    if (this.#chunkOff + n > CHUNK_WORDS) {
      this.#chunk++;
      this.#chunkOff = 0;
    }
    if (this.#chunk === this.#chunks.length) {
      this.#chunks.push({
        buffer: this.device.createBuffer({
          size: CHUNK_WORDS * 4,
          usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
        }),
        host: new Int32Array(CHUNK_WORDS),
      });
    }
    const c = this.#chunks[this.#chunk];
    c.host.set(words, this.#chunkOff);
    const off = this.#chunkOff;
    this.#chunkOff += roundUp(n, this.#alignWords);
    return [c.buffer, off * 4, n * 4];
  }

  #binding(s: GpuStorage): GPUBufferBinding {
    const size = Math.max(16, roundUp(s.bytes, 16));
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (size > limit) {
      throw new RangeError(
        `WebGPU: a tensor of ${
          (s.bytes / 2 ** 20).toFixed(1)
        } MiB exceeds this adapter's storage ` +
          `binding limit of ${limit / 2 ** 20} MiB (maxStorageBufferBindingSize); split the batch`,
      );
    }
    return { buffer: s.buffer, offset: 0, size };
  }

  #dispatch(spec: DispatchSpec): void {
    const [x, y = 1, z = 1] = spec.groups;
    if (x > 65535 || y > 65535 || z > 65535) {
      throw new RangeError(`WebGPU: dispatch [${x}, ${y}, ${z}] of ${spec.key} exceeds 65535`);
    }
    const pipeline = this.#pipeline(spec);
    const entries: GPUBindGroupEntry[] = spec.inputs.map((s, i) => ({
      binding: i,
      resource: this.#binding(s),
    }));
    entries.push({ binding: spec.inputs.length, resource: this.#binding(spec.output) });
    const [pbuf, poff, psize] = this.#params(spec.params);
    entries.push({
      binding: spec.inputs.length + 1,
      resource: { buffer: pbuf, offset: poff, size: psize },
    });
    const group = this.device.createBindGroup({
      layout: this.#layout(spec.inputs.length)[0],
      entries,
    });
    if (!this.#encoder) this.#encoder = this.device.createCommandEncoder();
    if (!this.#pass) this.#pass = this.#encoder.beginComputePass();
    this.#pass.setPipeline(pipeline);
    this.#pass.setBindGroup(0, group);
    this.#pass.dispatchWorkgroups(x, y, z);
    if (++this.#dispatches >= MAX_DISPATCHES) this.flush();
  }

  run<O extends Op>(op: O, inputs: readonly View[], attrs: OpAttrs[O], out: OutInfo): Storage {
    const ins: GpuIn[] = inputs.map((v) => {
      if (v.storage.backend !== this) {
        throw new TypeError(`${op}: input is on the ${v.storage.backend.name} backend, not webgpu`);
      }
      return { storage: v.storage as GpuStorage, shape: v.shape, dtype: v.dtype };
    });
    return (GPU_KERNELS[op] as GpuKernel<O>)(this.#ctx, ins, attrs, out);
  }

  /** Submits everything encoded so far (without waiting). */
  flush(): void {
    if (!this.#encoder) return;
    this.#pass?.end();
    this.#pass = null;
    for (let i = 0; i <= this.#chunk && i < this.#chunks.length; i++) {
      const used = i < this.#chunk ? CHUNK_WORDS : this.#chunkOff;
      if (used) {
        this.device.queue.writeBuffer(this.#chunks[i].buffer, 0, this.#chunks[i].host, 0, used);
      }
    }
    this.device.queue.submit([this.#encoder.finish()]);
    this.#encoder = null;
    this.#dispatches = 0;
    this.#chunk = 0;
    this.#chunkOff = 0;
    this.#batch++;
    for (const b of this.#destroyLater) b.destroy();
    this.#destroyLater = [];
  }

  #check(): void {
    if (this.#errors.length) {
      const msg = this.#errors.join("\n");
      this.#errors = [];
      throw new Error(`WebGPU error: ${msg}`);
    }
  }

  async read(storage: Storage, dtype: DType, size: number): Promise<HostArray> {
    const s = storage as GpuStorage;
    if (size === 0) return dtype === "f32" ? new Float32Array(0) : new Int32Array(0);
    const bytes = size * 4;
    const staging = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.#pass?.end();
    this.#pass = null;
    if (!this.#encoder) this.#encoder = this.device.createCommandEncoder();
    this.#encoder.copyBufferToBuffer(s.buffer, 0, staging, 0, bytes);
    this.flush();
    await staging.mapAsync(GPUMapMode.READ);
    const raw = staging.getMappedRange().slice(0);
    staging.unmap();
    staging.destroy();
    this.#check();
    return dtype === "f32" ? new Float32Array(raw) : new Int32Array(raw);
  }

  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.#check();
  }
}
