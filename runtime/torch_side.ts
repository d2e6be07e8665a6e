/**
 * PyTorch beside ptq-bench: spawns a Python script of this repository (`runtime/torch_bench.py`,
 * `methods/torch_recon_bench.py`) with a JSON spec on stdin and reads its JSON answer, so that
 * the benchmarks can time the same rows in PyTorch in the same invocation.
 *
 * - The interpreter is `PTQ_TORCH_PYTHON`, else `/usr/bin/python3` (Debian's `python3-torch`, the
 *   reference installation; not the first `python3` on `PATH`).
 * - The script answers one JSON object on stdout: `{"info": {...}, "rows": [...]}`, or
 *   `{"error": "..."}` (exit ≠ 0); progress lines go to stderr and are passed to `log`.
 * - PyTorch's OpenMP workers wait as ptq-bench's onnxruntime workers do: without spinning
 *   (`OMP_WAIT_POLICY=passive`), unless `PTQ_ORT_SPIN=1` (both spin: `active`) or
 *   `OMP_WAIT_POLICY` is set ({@linkcode torchEnv}). On a shared 2-core machine a spinning
 *   PyTorch is up to 2× slower than a passive one (docs/benchmarks.md).
 * - Nothing here throws: a missing interpreter, a failed `import torch`, a crash or a timeout is
 *   `{ ok: false, reason }`, and the benchmark rows say "PyTorch: not available (reason)".
 *
 * The ratio of the tables is ptq-bench's time divided by PyTorch's ({@linkcode timeRatio}): below
 * 1, ptq-bench is faster.
 *
 * @module
 */

/** The interpreter used when `PTQ_TORCH_PYTHON` is not set. */
export const DEFAULT_TORCH_PYTHON = "/usr/bin/python3";

/** What the PyTorch side ran with (from `runtime/torch_info.py`). */
export interface TorchInfo {
  python: string;
  version: string;
  threads: number;
  interop_threads: number;
  /** The BLAS in use, in words (e.g. "reference BLAS (Debian's libblas3, …)", "OpenBLAS"). */
  blas: string;
  /** `BLAS_INFO` of `torch.__config__.show()`. */
  blas_info: string | null;
  blas_library: string | null;
  mkl: boolean;
  mkldnn: boolean;
  mkldnn_version: string | null;
  openmp: boolean;
  cpu_capability: string | null;
  /** `OMP_WAIT_POLICY` as PyTorch saw it (null: unset, OpenMP's default: active spinning). */
  omp_wait_policy?: string | null;
}

/** One PyTorch run: its info and rows, or why there are none. */
export type TorchRun =
  | { ok: true; info: TorchInfo; rows: unknown[] }
  | { ok: false; reason: string; info?: TorchInfo };

/** Options of {@linkcode runTorch}. */
export interface TorchRunOptions {
  /** The interpreter (default: `PTQ_TORCH_PYTHON`, else {@linkcode DEFAULT_TORCH_PYTHON}). */
  python?: string;
  /** Progress lines of the script (its stderr). */
  log?: (line: string) => void;
  /** Kills the script after this many ms (default 30 min). */
  timeoutMs?: number;
  /** Extra environment of the script (default: {@linkcode torchEnv}). */
  env?: Record<string, string>;
}

/**
 * The script's environment beyond the inherited one: `OMP_WAIT_POLICY` as ptq-bench's own
 * workers wait: `passive` (no spinning, ptq-bench's default), `active` with `PTQ_ORT_SPIN=1`;
 * an `OMP_WAIT_POLICY` already set is kept.
 */
export function torchEnv(env: (k: string) => string | undefined = envGet): Record<string, string> {
  if (env("OMP_WAIT_POLICY")) return {};
  return { OMP_WAIT_POLICY: env("PTQ_ORT_SPIN") === "1" ? "active" : "passive" };
}

/** The interpreter to use: `PTQ_TORCH_PYTHON` when set and not empty, else `/usr/bin/python3`. */
export function torchPython(env: (k: string) => string | undefined = envGet): string {
  return env("PTQ_TORCH_PYTHON")?.trim() || DEFAULT_TORCH_PYTHON;
}

function envGet(k: string): string | undefined {
  try {
    return Deno.env.get(k);
  } catch {
    return undefined;
  }
}

/** The file path of a `file:` URL (a script beside the module). */
export function scriptPath(url: URL): string {
  return decodeURIComponent(url.pathname);
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Parses a script's stdout (its last non-empty line is the JSON answer) and exit code into a
 * {@linkcode TorchRun}. `stderrTail` goes into the reason when there is no usable answer.
 */
export function parseTorchReply(stdout: string, code: number, stderrTail = ""): TorchRun {
  const last = stdout.trim().split("\n").filter((l) => l.trim()).at(-1);
  const tail = stderrTail.trim() ? `: ${stderrTail.trim().split("\n").slice(-3).join(" | ")}` : "";
  if (!last) return { ok: false, reason: `the script printed nothing (exit ${code})${tail}` };
  let v: unknown;
  try {
    v = JSON.parse(last);
  } catch {
    return { ok: false, reason: `the script's answer is not JSON (exit ${code})${tail}` };
  }
  if (!isObj(v)) return { ok: false, reason: "the script's answer is not a JSON object" };
  const info = isObj(v.info) && typeof v.info.version === "string"
    ? v.info as unknown as TorchInfo
    : undefined;
  if (typeof v.error === "string") {
    return info ? { ok: false, reason: v.error, info } : { ok: false, reason: v.error };
  }
  if (!info) return { ok: false, reason: "the script's answer has no torch info" };
  if (!Array.isArray(v.rows)) return { ok: false, reason: "the script's answer has no rows", info };
  if (code !== 0) return { ok: false, reason: `the script exited with ${code}${tail}`, info };
  return { ok: true, info, rows: v.rows };
}

/**
 * Runs `script` under the PyTorch interpreter with `spec` as JSON on stdin and returns its rows,
 * or why there are none. Never throws.
 */
export async function runTorch(
  script: string,
  spec: unknown,
  o: TorchRunOptions = {},
): Promise<TorchRun> {
  const python = o.python ?? torchPython();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(python, {
      args: [script],
      // No __pycache__ folders in the repository.
      env: { PYTHONDONTWRITEBYTECODE: "1", ...(o.env ?? torchEnv()) },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "no such interpreter"
      : e instanceof Error
      ? e.message
      : String(e);
    return { ok: false, reason: `cannot run ${python}: ${why}` };
  }
  const timeoutMs = o.timeoutMs ?? 30 * 60_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(spec)));
    await writer.close();
  } catch { /* the script exited early; its answer says why */ }
  const errLines: string[] = [];
  const stderr = (async () => {
    let buf = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) {
        errLines.push(l);
        o.log?.(l);
      }
    }
    if (buf) {
      errLines.push(buf);
      o.log?.(buf);
    }
  })();
  const stdout = new Response(child.stdout).text();
  const [status, out] = await Promise.all([child.status, stdout, stderr]).then((
    [s, t],
  ) => [s, t] as const);
  clearTimeout(timer);
  if (timedOut) {
    return { ok: false, reason: `the script ran past ${Math.round(timeoutMs / 1000)} s` };
  }
  return parseTorchReply(out, status.code, errLines.slice(-3).join("\n"));
}

/** `0.53×`: ptq-bench's time over PyTorch's (below 1: ptq-bench faster); "" where not defined. */
export function timeRatio(oursMs: number | undefined, torchMs: number | undefined): string {
  if (oursMs === undefined || torchMs === undefined) return "";
  if (!(oursMs > 0) || !(torchMs > 0) || !isFinite(oursMs) || !isFinite(torchMs)) return "";
  const r = oursMs / torchMs;
  return `${r < 10 ? r.toFixed(2) : r.toFixed(1)}×`;
}

/** The line saying what PyTorch ran with. */
export function describeTorch(info: TorchInfo): string {
  const dnn = info.mkldnn ? `mkldnn on (${info.mkldnn_version ?? "oneDNN"})` : "mkldnn off";
  return `PyTorch ${info.version} (${info.python}): ${info.threads} threads ` +
    `(${info.interop_threads} inter-op), BLAS: ${info.blas}` +
    `${info.blas_info ? ` [BLAS_INFO=${info.blas_info}]` : ""}, MKL ${info.mkl ? "on" : "off"}, ` +
    `${dnn}, OpenMP ${info.openmp ? "on" : "off"} (OMP_WAIT_POLICY ` +
    `${info.omp_wait_policy ?? "unset"}), CPU capability ${info.cpu_capability ?? "?"}`;
}

/** The line of a run without PyTorch rows: "PyTorch: not available (why)". */
export function notAvailable(reason: string): string {
  return `PyTorch: not available (${reason})`;
}

/** The header line of a PyTorch run: what it ran with, or why it did not. */
export function torchHeader(run: TorchRun | null): string {
  if (!run) return notAvailable("turned off with --no-torch");
  if (run.ok) return describeTorch(run.info);
  return notAvailable(run.reason);
}

/** The number of threads ptq-bench's cpu backend uses: `PTQ_CPU_THREADS`, else every core. */
export function benchThreads(env: (k: string) => string | undefined = envGet): number {
  return Number(env("PTQ_CPU_THREADS") ?? 0) || navigator.hardwareConcurrency || 2;
}
