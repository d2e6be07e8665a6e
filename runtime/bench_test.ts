import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { type BenchRow, benchTable, torchBenchRows, type TorchTarget } from "./bench.ts";

const row = (backend: BenchRow["backend"], ms: number, pass: BenchRow["pass"] = "forward") => ({
  op: "gemm",
  shape: "8x8x8",
  pass,
  backend,
  ms,
  gflops: 1,
});

Deno.test("torchBenchRows maps PyTorch's answers onto the queued rows", () => {
  const targets = new Map<string, TorchTarget>([["m", {
    shape: "32x3x224x224",
    ops: { forward: "mobilenetv2", backward: "mobilenetv2 train step" },
    flops: { forward: 2e9, backward: 6e9 },
  }]]);
  const rows = torchBenchRows([
    { id: "m", pass: "forward", ms: 1000 },
    { id: "m", pass: "backward", ms: 3000 },
    { id: "m", error: "no torchvision" },
    { id: "other", pass: "forward", ms: 1 },
    { id: "m", pass: "sideways", ms: 1 },
    null,
  ], targets);
  assertEquals(rows.map((r) => [r.op, r.pass, r.backend, r.ms, r.gflops]), [
    ["mobilenetv2", "forward", "pytorch", 1000, 2],
    ["mobilenetv2 train step", "backward", "pytorch", 3000, 2],
  ]);
});

Deno.test("benchTable puts PyTorch's time and the time ratio beside ptq-bench's rows", () => {
  const rows: BenchRow[] = [row("cpu", 50), row("onnxruntime", 40), row("pytorch", 100)];
  const table = benchTable(rows, { ok: true, info: {} as never, rows: [] }).split("\n");
  assertStringIncludes(table[0], "| PyTorch ms | ptq-bench / PyTorch (time) |");
  assertEquals(table.length, 4, "PyTorch's own rows are not listed apart");
  assertStringIncludes(table[2], "| cpu | 50.0 | 1.00 | 80 % | 100.0 | 0.50× |");
  assertStringIncludes(table[3], "| onnxruntime | 40.0 | 1.00 |  |  |  |");
});

Deno.test("benchTable without PyTorch: 'not available', 'not run', or no columns", () => {
  const rows: BenchRow[] = [row("cpu", 50), row("onnxruntime", 40)];
  const absent = benchTable(rows, { ok: false, reason: "no torch" });
  assertStringIncludes(absent, "| cpu | 50.0 | 1.00 | 80 % | not available |  |");
  assertStringIncludes(benchTable(rows, null), "| not run |");
  assert(!benchTable(rows).includes("PyTorch"));
});
