/**
 * onnxruntime's C API through Deno FFI, for the `cpu` backend's heavy kernels: inputs and the
 * output are `OrtValue`s over the runtime's own arrays, so nothing is copied (onnxruntime-node's
 * binding copies every output into a fresh ArrayBuffer, whose page faults cost more than many
 * of the kernels), and every session shares one process-wide thread pool (per-session pools
 * whose workers spin after a run steal the cores from the next session; per-session pools that
 * sleep pay a wake-up per parallel section).
 *
 * The library is the one onnxruntime-node ships (`bin/napi-v6/<os>/<arch>/`). The environment is
 * process-wide: when the binding created it first (without global pools), sessions fall back to
 * their own pools with spinning off. Function-pointer slots of `OrtApi` are listed in {@linkcode SLOT}
 * (counted in the API-version-22 header; the struct is append-only, so they hold for 1.30; slots
 * 0–2 are checked at load by a status round trip); where anything
 * here fails to load, `ortFfi()` returns null and the backend uses the binding.
 *
 * @module
 */
/** 0-based slots in `struct OrtApi` (onnxruntime_c_api.h). */
const SLOT = {
  CreateStatus: 0,
  GetErrorCode: 1,
  GetErrorMessage: 2,
  CreateSessionFromArray: 8,
  Run: 9,
  CreateSessionOptions: 10,
  SetSessionExecutionMode: 13,
  SetSessionGraphOptimizationLevel: 23,
  SetIntraOpNumThreads: 24,
  SetInterOpNumThreads: 25,
  CreateTensorWithDataAsOrtValue: 49,
  CreateCpuMemoryInfo: 69,
  ReleaseStatus: 93,
  ReleaseSession: 95,
  ReleaseValue: 96,
  ReleaseSessionOptions: 100,
  CreateThreadingOptions: 121,
  SetGlobalIntraOpNumThreads: 147,
  SetGlobalInterOpNumThreads: 148,
  SetGlobalSpinControl: 149,
  ReleaseThreadingOptions: 122,
  CreateEnvWithGlobalThreadPools: 119,
  DisablePerSessionThreads: 120,
  AddSessionConfigEntry: 130,
} as const;

const P = "pointer" as const, B = "buffer" as const;
const DEFS = {
  CreateStatus: { parameters: ["i32", B], result: P },
  GetErrorCode: { parameters: [P], result: "i32" },
  GetErrorMessage: { parameters: [P], result: P },
  CreateSessionFromArray: { parameters: [P, B, "usize", P, B], result: P },
  Run: { parameters: [P, P, B, B, "usize", B, "usize", B], result: P },
  CreateSessionOptions: { parameters: [B], result: P },
  SetSessionExecutionMode: { parameters: [P, "i32"], result: P },
  SetSessionGraphOptimizationLevel: { parameters: [P, "i32"], result: P },
  SetIntraOpNumThreads: { parameters: [P, "i32"], result: P },
  SetInterOpNumThreads: { parameters: [P, "i32"], result: P },
  CreateTensorWithDataAsOrtValue: { parameters: [P, B, "usize", B, "usize", "i32", B], result: P },
  CreateCpuMemoryInfo: { parameters: ["i32", "i32", B], result: P },
  ReleaseStatus: { parameters: [P], result: "void" },
  ReleaseSession: { parameters: [P], result: "void" },
  ReleaseValue: { parameters: [P], result: "void" },
  ReleaseSessionOptions: { parameters: [P], result: "void" },
  CreateThreadingOptions: { parameters: [B], result: P },
  SetGlobalIntraOpNumThreads: { parameters: [P, "i32"], result: P },
  SetGlobalInterOpNumThreads: { parameters: [P, "i32"], result: P },
  SetGlobalSpinControl: { parameters: [P, "i32"], result: P },
  ReleaseThreadingOptions: { parameters: [P], result: "void" },
  CreateEnvWithGlobalThreadPools: { parameters: ["i32", B, P, B], result: P },
  DisablePerSessionThreads: { parameters: [P], result: P },
  AddSessionConfigEntry: { parameters: [P, B, B], result: P },
} as const;

type Fns = { [K in keyof typeof DEFS]: Deno.UnsafeFnPointer<(typeof DEFS)[K]> };

const FLOAT = 1;
const enc = new TextEncoder();
const cstr = (s: string) => enc.encode(s + "\0");
const ptrOf = (p: Deno.PointerValue): bigint => BigInt(Deno.UnsafePointer.value(p));

/** A session over the C API; `run` writes the single output `out` into the given array. */
export interface FfiSession {
  run(inputs: Float32Array[], inputShapes: number[][], out: Float32Array, outShape: number[]): void;
}

/** The C API: makes sessions from ONNX bytes. */
export interface OrtFfi {
  version: string;
  /** Whether sessions share the global thread pool (false: per-session pools, no spinning). */
  readonly globalPools: boolean;
  session(model: Uint8Array): FfiSession;
}

let cached: OrtFfi | null | undefined;

/**
 * The C API with one global thread pool of `threads` intra-op threads (spinning on: the threads
 * are shared, so no other session's workers compete), or null where it cannot load.
 */
export function ortFfi(threads: number, spin = false): OrtFfi | null {
  if (cached !== undefined) return cached;
  try {
    cached = load(threads, spin ? 1 : 0);
  } catch {
    cached = null;
  }
  return cached;
}

/** The onnxruntime library beside onnxruntime-node's binding (the binding is not loaded here). */
function libraryPath(): string {
  const arch = { x86_64: "x64", aarch64: "arm64" }[Deno.build.arch as string] ?? Deno.build.arch;
  const file = { linux: "libonnxruntime.so.1", darwin: "libonnxruntime.1.dylib" }[
    Deno.build.os as string
  ];
  if (!file) throw new Error(`no onnxruntime library name for ${Deno.build.os}`);
  return new URL(
    `../bin/napi-v6/${Deno.build.os}/${arch}/${file}`,
    import.meta.resolve("onnxruntime-node/dist/binding.js"),
  ).pathname;
}

function load(threads: number, spin: 0 | 1): OrtFfi {
  const lib = Deno.dlopen(
    libraryPath(),
    {
      OrtGetApiBase: { parameters: [], result: "pointer" },
    } as const,
  );
  const base = new Deno.UnsafePointerView(lib.symbols.OrtGetApiBase()!);
  const getApi = new Deno.UnsafeFnPointer(
    Deno.UnsafePointer.create(base.getBigUint64(0))!,
    {
      parameters: ["u32"],
      result: "pointer",
    } as const,
  );
  const getVersion = new Deno.UnsafeFnPointer(
    Deno.UnsafePointer.create(base.getBigUint64(8))!,
    {
      parameters: [],
      result: "pointer",
    } as const,
  );
  const version = Deno.UnsafePointerView.getCString(getVersion.call()!);
  const api = getApi.call(20);
  if (!api) throw new Error(`onnxruntime ${version}: no C API version 20`);
  const table = new Deno.UnsafePointerView(api);
  const fns = {} as Record<string, unknown>;
  for (const [name, slot] of Object.entries(SLOT)) {
    const p = Deno.UnsafePointer.create(table.getBigUint64(slot * 8));
    if (!p) throw new Error(`OrtApi.${name} is null`);
    // deno-lint-ignore no-explicit-any
    fns[name] = new Deno.UnsafeFnPointer(p as any, DEFS[name as keyof typeof DEFS]);
  }
  const f = fns as Fns;
  const probe = f.CreateStatus.call(2, cstr("probe"));
  const ok = probe && f.GetErrorCode.call(probe) === 2 &&
    Deno.UnsafePointerView.getCString(f.GetErrorMessage.call(probe)!) === "probe";
  if (probe) f.ReleaseStatus.call(probe);
  if (!ok) throw new Error("OrtApi table does not match the expected layout");

  const check = (status: Deno.PointerValue, what: string) => {
    if (!status) return;
    const msg = Deno.UnsafePointerView.getCString(f.GetErrorMessage.call(status)!);
    f.ReleaseStatus.call(status);
    throw new Error(`onnxruntime ${what}: ${msg}`);
  };
  const out1 = () => new BigUint64Array(1);
  const ptr = (a: BigUint64Array) => Deno.UnsafePointer.create(a[0]);

  // One environment with global thread pools; sessions disable their own pools.
  const tp = out1();
  check(f.CreateThreadingOptions.call(tp), "CreateThreadingOptions");
  check(f.SetGlobalIntraOpNumThreads.call(ptr(tp), threads), "SetGlobalIntraOpNumThreads");
  check(f.SetGlobalInterOpNumThreads.call(ptr(tp), 1), "SetGlobalInterOpNumThreads");
  check(f.SetGlobalSpinControl.call(ptr(tp), spin), "SetGlobalSpinControl");
  const env = out1();
  check(
    f.CreateEnvWithGlobalThreadPools.call(3, /* ERROR */ cstr("ptq-bench"), ptr(tp), env),
    "CreateEnvWithGlobalThreadPools",
  );
  f.ReleaseThreadingOptions.call(ptr(tp));
  const mem = out1();
  check(f.CreateCpuMemoryInfo.call(0, /* OrtDeviceAllocator */ 0, /* Default */ mem), "memory");
  const memInfo = ptr(mem);
  let globalPools = true;

  const value = (data: Float32Array, shape: number[]): bigint => {
    const dims = BigInt64Array.from(shape.map(BigInt));
    const o = out1();
    check(
      f.CreateTensorWithDataAsOrtValue.call(
        memInfo,
        data,
        BigInt(data.byteLength),
        dims,
        BigInt(dims.length),
        FLOAT,
        o,
      ),
      "CreateTensorWithDataAsOrtValue",
    );
    return o[0];
  };

  return {
    version,
    get globalPools() {
      return globalPools;
    },
    session(model: Uint8Array): FfiSession {
      const so = out1();
      check(f.CreateSessionOptions.call(so), "CreateSessionOptions");
      const opts = ptr(so);
      try {
        check(f.SetSessionGraphOptimizationLevel.call(opts, 99), "optimization level");
        check(f.SetSessionExecutionMode.call(opts, 0), "execution mode");
        if (globalPools) {
          check(f.DisablePerSessionThreads.call(opts), "DisablePerSessionThreads");
        } else {
          // The process's environment was created before ours (by onnxruntime-node's binding),
          // without global pools: per-session pools whose workers sleep between runs.
          check(f.SetIntraOpNumThreads.call(opts, threads), "SetIntraOpNumThreads");
          check(
            f.AddSessionConfigEntry.call(opts, cstr("session.intra_op.allow_spinning"), cstr("0")),
            "AddSessionConfigEntry",
          );
        }
        const s = out1();
        const status = f.CreateSessionFromArray.call(
          ptr(env),
          model,
          BigInt(model.byteLength),
          opts,
          s,
        );
        if (status && globalPools) {
          const msg = Deno.UnsafePointerView.getCString(f.GetErrorMessage.call(status)!);
          f.ReleaseStatus.call(status);
          if (!msg.includes("EnvCreatedWithGlobalThreadPools")) {
            throw new Error(`onnxruntime load: ${msg}`);
          }
          globalPools = false;
          return this.session(model);
        }
        check(status, "load");
        const session = ptr(s);
        const names: Uint8Array[] = [];
        const namePtrs = (list: string[]) => {
          const bufs = list.map(cstr);
          names.push(...bufs); // keep alive with the session
          return BigUint64Array.from(bufs.map((b) => ptrOf(Deno.UnsafePointer.of(b))));
        };
        let inNames: BigUint64Array | null = null;
        const outNames = namePtrs(["out"]);
        return {
          run(inputs, inputShapes, out, outShape) {
            inNames ??= namePtrs(inputs.map((_, i) => `in${i}`));
            const ins = BigUint64Array.from(inputs.map((x, i) => value(x, inputShapes[i])));
            const outs = BigUint64Array.of(value(out, outShape));
            try {
              check(
                f.Run.call(session, null, inNames, ins, BigInt(ins.length), outNames, 1n, outs),
                "Run",
              );
            } finally {
              for (const v of ins) f.ReleaseValue.call(Deno.UnsafePointer.create(v));
              f.ReleaseValue.call(Deno.UnsafePointer.create(outs[0]));
            }
          },
        };
      } finally {
        f.ReleaseSessionOptions.call(opts);
      }
    },
  };
}
