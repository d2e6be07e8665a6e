/**
 * `deno task bench:runtime`: op throughput of the runtime's backends beside onnxruntime on the same
 * shapes ({@linkcode runtimeBench}): GEMM, the convolutions of ResNet-18 and MobileNetV2 forward
 * and backward, and a whole MobileNetV2 training step. Progress goes to stderr, the markdown table
 * to stdout.
 *
 * @module
 */
import { benchTable, runtimeBench } from "../runtime/bench.ts";
import { parseFlags, run, type TaskSpec } from "./_flags.ts";

/** The flags of `deno task bench:runtime`. */
export const SPEC = {
  name: "bench:runtime",
  summary: "op throughput, cpu / webgpu beside onnxruntime " +
    "([docs/benchmarks.md](docs/benchmarks.md))",
  flags: [
    { name: "json", type: "path", placeholder: "FILE", help: "also write the rows as JSON" },
    { name: "iters", type: "int", min: 1, default: 5, help: "timed iterations per row (median)" },
    { name: "no-webgpu", type: "boolean", help: "skip the WebGPU backend" },
    { name: "no-mobilenet", type: "boolean", help: "skip the whole-MobileNetV2 rows" },
  ],
  notes: ["PTQ_CPU_THREADS=N sets onnxruntime's threads (default: all cores)."],
} as const satisfies TaskSpec;

/** Runs the benchmark; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v } = parseFlags(SPEC, args);
  const rows = await runtimeBench({
    iters: v.iters,
    webgpu: !v["no-webgpu"],
    mobilenet: !v["no-mobilenet"],
  });
  console.log(benchTable(rows));
  if (v.json) await Deno.writeTextFile(v.json, JSON.stringify(rows, null, 2) + "\n");
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
