/**
 * `deno task bench:gemm`: GEMM throughput of the WebGPU backend per matmul kernel
 * ({@linkcode benchWebGpu}): the register-blocked and the shared-memory variant on the same
 * `size × k` by `k × n` operands, median milliseconds and GFLOP/s, and which variant the backend
 * picks by itself. Without a WebGPU adapter it says so and measures nothing.
 *
 * @module
 */
import { createWebGpuBackend } from "../runtime/webgpu/mod.ts";
import { benchWebGpu } from "../runtime/webgpu/bench_gemm.ts";
import { parseFlags, run, type TaskSpec } from "./_flags.ts";

/** The flags of `deno task bench:gemm`. */
export const SPEC = {
  name: "bench:gemm",
  summary: "WebGPU GEMM throughput per matmul kernel (register-blocked, shared-memory) " +
    "([docs/benchmarks.md](docs/benchmarks.md))",
  flags: [
    { name: "size", type: "int", min: 1, default: 1024, help: "rows of A (and k, n by default)" },
    { name: "k", type: "int", min: 1, help: "columns of A, rows of B (default: --size)" },
    { name: "n", type: "int", min: 1, help: "columns of B (default: --size)" },
    { name: "iters", type: "int", min: 1, default: 5, help: "timed calls per kernel (median)" },
  ],
  notes: [
    "Without a WebGPU adapter it prints `webgpu: no adapter, skipped` and exits 0 (as " +
    "`bench:runtime` skips its WebGPU rows).",
  ],
} as const satisfies TaskSpec;

/** Runs the benchmark; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v } = parseFlags(SPEC, args);
  const gpu = await createWebGpuBackend();
  if (!gpu) {
    console.log("webgpu: no adapter, skipped");
    return 0;
  }
  console.log(gpu.deviceInfo);
  const rows = await benchWebGpu({ m: v.size, k: v.k, n: v.n, iters: v.iters, backend: gpu });
  for (const row of rows) {
    console.log(
      `gemm ${row.m}x${row.k}x${row.n} ${row.variant.padEnd(8)} ` +
        `${(row.seconds * 1000).toFixed(1)} ms  ${row.gflops.toFixed(2)} GFLOP/s` +
        (row.variant === gpu.gemm ? "  (auto choice)" : ""),
    );
  }
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
