/**
 * Heavy CPU kernels routed to onnxruntime's own kernels through cached single-op sessions,
 * called synchronously through the native binding of onnxruntime-node.
 *
 * Each distinct (op, shapes, attributes) builds one tiny ONNX graph whose inputs are all graph
 * inputs (weights included), so one session serves every call with those shapes.
 *
 * @module
 */
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";
import { binding, initOrt } from "onnxruntime-node/dist/binding.js";
import { type FfiSession, ortFfi } from "./ort_ffi.ts";
import { take } from "./pool.ts";

// deno-lint-ignore no-explicit-any
const onnx = (onnxProto as any).onnx;
const FLOAT = 1;

interface NativeSession {
  loadModel(buf: ArrayBufferLike, off: number, len: number, opts: unknown): void;
  run(
    feeds: Record<string, ort.Tensor>,
    fetches: Record<string, null>,
    opts: unknown,
  ): Record<
    string,
    ort.Tensor
  >;
}

/** One node of a small graph: op type, inputs, outputs and attributes. */
export interface MiniNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, number | number[]>;
}

/** A graph of one or a few nodes with float inputs named `in0…`, output `out`. */
export interface MiniGraph {
  inputs: number[][];
  nodes: MiniNode[];
  /** Initializers: int64 constant tensors (e.g. shapes for Reshape). */
  constants?: Record<string, number[]>;
  /** Float initializers (weights), for whole-network graphs such as the benchmark's. */
  weights?: Record<string, { dims: number[]; data: Float32Array }>;
  /** Graph outputs; default `["out"]`. */
  outputs?: string[];
}

const sessions = new Map<string, NativeSession>();
const ffiSessions = new Map<string, FfiSession>();
/** An environment variable, or undefined (also without --allow-env). */
function envVar(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}
/** `PTQ_ORT_FFI=0` forces the binding path (for measuring). */
const useFfi = envVar("PTQ_ORT_FFI") !== "0";
const spinOverride = envVar("PTQ_ORT_SPIN");
let threads = Number(envVar("PTQ_CPU_THREADS") ?? 0) || navigator.hardwareConcurrency || 2;

/**
 * Sets the number of intra-op threads of new binding sessions. (The C API's global pool is sized
 * once, when it loads: `PTQ_CPU_THREADS`.)
 */
export function setOrtThreads(n: number): void {
  threads = n;
  sessions.clear();
  ffiSessions.clear();
}

/** Attributes that ONNX types as FLOAT even when the value is a whole number (e.g. beta = 1). */
const FLOAT_ATTRS = new Set(["alpha", "beta", "epsilon", "momentum", "gamma", "bias", "lambd"]);

function attr(name: string, v: number | number[]) {
  const T = onnx.AttributeProto.AttributeType;
  return Array.isArray(v)
    ? { name, type: T.INTS, ints: v }
    : Number.isInteger(v) && !FLOAT_ATTRS.has(name)
    ? { name, type: T.INT, i: v }
    : { name, type: T.FLOAT, f: v };
}

/** Encodes a {@linkcode MiniGraph} as an ONNX model (opset 17). */
export function buildModel(g: MiniGraph): Uint8Array {
  const vi = (name: string, shape?: number[]) => ({
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: shape ? { dim: shape.map((d) => ({ dimValue: d })) } : undefined,
      },
    },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "op",
      node: g.nodes.map((n) => ({
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attr(k, v)),
      })),
      initializer: [
        ...Object.entries(g.constants ?? {}).map(([name, v]) => ({
          name,
          dataType: 7,
          dims: [v.length],
          int64Data: v,
        })),
        ...Object.entries(g.weights ?? {}).map(([name, w]) => ({
          name,
          dataType: FLOAT,
          dims: w.dims,
          rawData: new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength),
        })),
      ],
      input: g.inputs.map((s, i) => vi(`in${i}`, s)),
      output: (g.outputs ?? ["out"]).map((o) => vi(o)),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The C API (global pool spinning only with `PTQ_ORT_SPIN=1`), or null: off or not loadable. */
function cApi() {
  return useFfi ? ortFfi(threads, spinOverride === "1") : null;
}

/**
 * Runs a small float graph synchronously; the session is cached by the graph's description. With
 * `outShape` (a single output `out`), the output is written into a pooled array through the C API
 * (`ort_ffi.ts`) where it loads; otherwise through the binding, which copies the output.
 */
export function runGraph(
  g: MiniGraph,
  inputs: Float32Array[],
  outShape?: readonly number[],
): { data: Float32Array; dims: number[] } {
  const key = JSON.stringify(g);
  const ffi = outShape && (g.outputs ?? ["out"]).length === 1 ? cApi() : null;
  if (ffi) {
    let s = ffiSessions.get(key);
    if (!s) ffiSessions.set(key, s = ffi.session(buildModel(g)));
    const out = take("f32", outShape!.reduce((a, b) => a * b, 1));
    s.run(inputs, g.inputs, out, [...outShape!]);
    return { data: out, dims: [...outShape!] };
  }
  let s = sessions.get(key);
  if (!s) {
    initOrt();
    s = new binding.InferenceSession() as NativeSession;
    const bytes = buildModel(g);
    s.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      // Every distinct op shape has its own session and thread pool, and a reconstruction step
      // alternates between dozens of them. Workers that spin after a run steal the cores from
      // the next session: on 2 cores a PD-Quant proxy run took 90 s with spinning and 22 s
      // without, GEMM backward 32 ms and 16 ms (docs/benchmarks.md). `PTQ_ORT_SPIN=1` restores it.
      extra: { session: { intra_op: { allow_spinning: spinOverride ?? "0" } } },
    });
    sessions.set(key, s);
  }
  const feeds: Record<string, ort.Tensor> = {};
  inputs.forEach((x, i) => (feeds[`in${i}`] = new ort.Tensor("float32", x, g.inputs[i])));
  const r = s.run(feeds, { out: null }, {}).out;
  return { data: r.data as Float32Array, dims: [...r.dims] };
}

/** Whether onnxruntime's native binding loaded (it does wherever onnxruntime-node installs). */
export function ortAvailable(): boolean {
  // The C API first: the process-wide environment must be created with global thread pools
  // before the binding creates its own.
  cApi();
  try {
    initOrt();
    return true;
  } catch {
    return false;
  }
}
