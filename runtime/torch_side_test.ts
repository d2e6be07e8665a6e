import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import {
  benchThreads,
  DEFAULT_TORCH_PYTHON,
  describeTorch,
  parseTorchReply,
  runTorch,
  scriptPath,
  timeRatio,
  torchEnv,
  torchHeader,
  type TorchInfo,
  torchPython,
} from "./torch_side.ts";

const INFO: TorchInfo = {
  python: "/usr/bin/python3",
  version: "1.13.0",
  threads: 2,
  interop_threads: 1,
  blas: "OpenBLAS",
  blas_info: "open",
  blas_library: "/usr/lib/libopenblas.so.0",
  mkl: false,
  mkldnn: true,
  mkldnn_version: "oneDNN v2.6.3",
  openmp: true,
  cpu_capability: "AVX2",
};

/** Whether the default interpreter imports torch (the tests that need it skip otherwise). */
export function torchImports(): boolean {
  try {
    const r = new Deno.Command(torchPython(), {
      args: ["-c", "import torch"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return r.success;
  } catch {
    return false;
  }
}

Deno.test("parseTorchReply reads the last JSON line and says why when there is no answer", () => {
  const ok = parseTorchReply(`noise\n${JSON.stringify({ info: INFO, rows: [{ id: "a" }] })}\n`, 0);
  assert(ok.ok);
  assertEquals(ok.rows, [{ id: "a" }]);
  assertEquals(ok.info.threads, 2);
  const err = parseTorchReply(JSON.stringify({ error: "import torch failed: No module" }), 3);
  assert(!err.ok);
  assertEquals(err.reason, "import torch failed: No module");
  const withInfo = parseTorchReply(JSON.stringify({ info: INFO, error: "boom" }), 1);
  assert(!withInfo.ok && withInfo.info?.version === "1.13.0");
  const empty = parseTorchReply("", 139, "Segmentation fault");
  assert(!empty.ok);
  assertStringIncludes(empty.reason, "printed nothing (exit 139): Segmentation fault");
  const garbage = parseTorchReply("Traceback (most recent call last):", 1);
  assert(!garbage.ok && garbage.reason.includes("not JSON"));
  const noRows = parseTorchReply(JSON.stringify({ info: INFO }), 0);
  assert(!noRows.ok && noRows.reason.includes("no rows"));
  const noInfo = parseTorchReply(JSON.stringify({ rows: [] }), 0);
  assert(!noInfo.ok && noInfo.reason.includes("no torch info"));
  const failed = parseTorchReply(JSON.stringify({ info: INFO, rows: [] }), 2);
  assert(!failed.ok && failed.reason.includes("exited with 2"));
});

Deno.test("timeRatio is ptq-bench's time over PyTorch's, blank where undefined", () => {
  assertEquals(timeRatio(50, 100), "0.50×");
  assertEquals(timeRatio(300, 100), "3.00×");
  assertEquals(timeRatio(1234, 10), "123.4×");
  assertEquals(timeRatio(undefined, 10), "");
  assertEquals(timeRatio(10, 0), "");
  assertEquals(timeRatio(NaN, 1), "");
});

Deno.test("the interpreter and threads follow the environment", () => {
  assertEquals(torchPython(() => undefined), DEFAULT_TORCH_PYTHON);
  assertEquals(torchPython(() => "  "), DEFAULT_TORCH_PYTHON);
  assertEquals(torchPython((k) => (k === "PTQ_TORCH_PYTHON" ? "/opt/py" : undefined)), "/opt/py");
  assertEquals(benchThreads((k) => (k === "PTQ_CPU_THREADS" ? "3" : undefined)), 3);
  // PyTorch's workers wait as ptq-bench's: no spinning unless PTQ_ORT_SPIN=1; a set policy stays.
  assertEquals(torchEnv(() => undefined), { OMP_WAIT_POLICY: "passive" });
  assertEquals(torchEnv((k) => (k === "PTQ_ORT_SPIN" ? "1" : undefined)), {
    OMP_WAIT_POLICY: "active",
  });
  assertEquals(torchEnv((k) => (k === "OMP_WAIT_POLICY" ? "ACTIVE" : undefined)), {});
  assert(benchThreads(() => undefined) >= 1);
});

Deno.test("the header says what PyTorch ran with, or why it did not", () => {
  const line = describeTorch(INFO);
  for (const s of ["PyTorch 1.13.0", "2 threads", "BLAS: OpenBLAS", "mkldnn on", "AVX2"]) {
    assertStringIncludes(line, s);
  }
  assertEquals(torchHeader({ ok: false, reason: "no torch" }), "PyTorch: not available (no torch)");
  assertStringIncludes(torchHeader(null), "not available (turned off with --no-torch)");
  assertEquals(torchHeader({ ok: true, info: INFO, rows: [] }), line);
});

Deno.test("runTorch never throws: a missing interpreter or a silent one is a reason", async () => {
  const script = scriptPath(new URL("./torch_bench.py", import.meta.url));
  const missing = await runTorch(script, {}, { python: "/nonexistent/python3" });
  assert(!missing.ok);
  assertStringIncludes(missing.reason, "cannot run /nonexistent/python3: no such interpreter");
  const silent = await runTorch(script, {}, { python: "true" });
  assert(!silent.ok);
  assertStringIncludes(silent.reason, "printed nothing (exit 0)");
});

Deno.test({
  name: "runTorch runs the runtime rows in PyTorch (skipped without torch)",
  ignore: !torchImports(),
  fn: async () => {
    const lines: string[] = [];
    const r = await runTorch(
      scriptPath(new URL("./torch_bench.py", import.meta.url)),
      {
        threads: 1,
        iters: 1,
        rows: [
          { id: "g", kind: "gemm", n: 16 },
          {
            id: "c",
            kind: "conv",
            x: [2, 4, 9, 9],
            w: [4, 1, 3, 3],
            strides: [2, 2],
            pads: [0, 0, 1, 1],
            dilations: [1, 1],
            groups: 4,
          },
        ],
      },
      { log: (l) => lines.push(l) },
    );
    assert(r.ok, r.ok ? "" : r.reason);
    assertEquals(r.info.threads, 1);
    assertEquals(r.info.omp_wait_policy, Deno.env.get("OMP_WAIT_POLICY") ?? "passive");
    assertEquals(
      r.rows.map((x) => `${(x as { id: string }).id} ${(x as { pass: string }).pass}`),
      ["g forward", "g backward", "c forward", "c backward"],
    );
    assert(r.rows.every((x) => (x as { ms: number }).ms > 0));
    assert(lines.some((l) => l.startsWith("pytorch ")), lines.join("\n"));
  },
});

Deno.test("runTorch: a Python without torch answers 'import torch failed'", async () => {
  // A wrapper interpreter in which `import torch` fails, whatever is installed.
  const dir = await Deno.makeTempDir();
  const wrapper = `${dir}/python-without-torch`;
  const python = torchImports() ? torchPython() : "python3";
  await Deno.writeTextFile(
    wrapper,
    `#!/bin/sh\nexec ${python} -c 'import sys; sys.modules["torch"] = None; p = sys.argv[1]; ` +
      `sys.argv = sys.argv[1:]; exec(compile(open(p).read(), p, "exec"), ` +
      `{"__file__": p, "__name__": "__main__"})' "$@"\n`,
  );
  await Deno.chmod(wrapper, 0o755);
  try {
    const r = await runTorch(scriptPath(new URL("./torch_bench.py", import.meta.url)), {}, {
      python: wrapper,
    });
    assert(!r.ok);
    // No Python at all here: the shell's 127 is the reason.
    if (!r.reason.includes("exit 127")) assertStringIncludes(r.reason, "import torch failed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
