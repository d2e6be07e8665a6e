/**
 * `deno task bench:runtime`: op throughput of the runtime's backends beside onnxruntime on the same
 * shapes ({@linkcode runtimeBench}): GEMM, the convolutions of ResNet-18 and MobileNetV2 forward
 * and backward, and a whole MobileNetV2 training step; where `/usr/bin/python3` (or
 * `PTQ_TORCH_PYTHON`) imports torch, the same rows in PyTorch, with the ratio ptq-bench time /
 * PyTorch time. Progress goes to stderr; what PyTorch ran with (or why it did not) and the
 * markdown table to stdout.
 *
 * @module
 */
import { benchTable, runtimeBench } from "../runtime/bench.ts";
import { benchThreads, torchHeader } from "../runtime/torch_side.ts";
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
    { name: "no-torch", type: "boolean", help: "skip the PyTorch column" },
  ],
  notes: [
    "PTQ_CPU_THREADS=N sets onnxruntime's threads, and PyTorch's (default: all cores).",
    "PTQ_TORCH_PYTHON=PATH: the interpreter whose torch runs the PyTorch column " +
    "(default /usr/bin/python3); without torch the column says why. Its OpenMP workers do not " +
    "spin (OMP_WAIT_POLICY=passive), as ptq-bench's do not, unless PTQ_ORT_SPIN=1 or " +
    "OMP_WAIT_POLICY is set.",
  ],
} as const satisfies TaskSpec;

/** Runs the benchmark; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v } = parseFlags(SPEC, args);
  const { rows, torch } = await runtimeBench({
    iters: v.iters,
    webgpu: !v["no-webgpu"],
    mobilenet: !v["no-mobilenet"],
    torch: !v["no-torch"],
  });
  console.log(`ptq-bench: cpu backend, ${benchThreads()} threads (PTQ_CPU_THREADS)`);
  console.log(torchHeader(torch));
  console.log(
    "ptq-bench / PyTorch is ptq-bench's time over PyTorch's (below 1: ptq-bench faster); " +
      "vs onnxruntime is onnxruntime's time over the row's (a throughput ratio).\n",
  );
  console.log(benchTable(rows, torch));
  if (v.json) await Deno.writeTextFile(v.json, JSON.stringify(rows, null, 2) + "\n");
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
