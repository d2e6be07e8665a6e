/**
 * GEMM throughput of the WebGPU backend, per matmul variant ({@linkcode benchWebGpu}): the
 * register-blocked and the shared-memory kernel on the same operands, median seconds and GFLOP/s.
 *
 * The command is `deno task bench:gemm` (`cli/bench_gemm.ts`).
 *
 * @module
 */
import type { Backend } from "../backend.ts";
import { runOp, type Tensor, upload } from "../tensor.ts";
import { Random } from "../random.ts";
import { createWebGpuBackend, type GemmVariant, type WebGpuBackend } from "./mod.ts";

/**
 * Median seconds per call of `fn` over `iters` timed runs after one warm-up, each ended by
 * `backend.sync()` (so queued GPU work is counted). `fn`'s result is disposed.
 */
export async function timeOp(
  backend: Backend,
  fn: () => Tensor,
  iters = 5,
): Promise<number> {
  fn().dispose();
  await backend.sync();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    const y = fn();
    await backend.sync();
    times.push((performance.now() - t0) / 1000);
    y.dispose();
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** One result row of {@linkcode benchWebGpu}. */
export interface GemmBenchRow {
  variant: GemmVariant;
  m: number;
  k: number;
  n: number;
  seconds: number;
  gflops: number;
}

/**
 * Times an `m x k` by `k x n` matmul for each variant on `backend` (created if omitted).
 * Returns [] when no adapter exists.
 */
export async function benchWebGpu(
  opts: { m?: number; k?: number; n?: number; iters?: number; backend?: WebGpuBackend } = {},
): Promise<GemmBenchRow[]> {
  const gpu = opts.backend ?? await createWebGpuBackend();
  if (!gpu) return [];
  const m = opts.m ?? 1024, k = opts.k ?? m, n = opts.n ?? m;
  const r = new Random(0);
  const a = upload(r.uniformArray(m * k, -1, 1), [m, k], gpu);
  const b = upload(r.uniformArray(k * n, -1, 1), [k, n], gpu);
  const rows: GemmBenchRow[] = [];
  const before = gpu.gemm;
  for (const variant of ["register", "shared"] as const) {
    gpu.gemm = variant;
    const seconds = await timeOp(
      gpu,
      () => runOp("matmul", [a, b], { transA: false, transB: false }),
      opts.iters ?? 5,
    );
    rows.push({ variant, m, k, n, seconds, gflops: (2 * m * k * n) / seconds / 1e9 });
  }
  gpu.gemm = before;
  a.dispose();
  b.dispose();
  return rows;
}
