/**
 * Error propagation along a quantized network: for every reconstruction unit's output, the
 * signal-to-quantization-noise ratio (SQNR, dB) of one or more exported QDQ models against the FP
 * model they were quantized from, on the same images, through onnxruntime.
 *
 * Reconstruction losses say how well each unit fitted its own calibration targets; this says how
 * much error each method's finished model carries at each depth, which is what decides its
 * accuracy. A method can have the lower per-unit losses and still pass on more error (session 4's
 * BRECQ against QDrop, docs/reproduce.md).
 *
 * The FP reference is the BN-folded graph the methods quantize, exported with `toOnnx`, so its
 * value names are the ones `toQdqOnnx` keeps: an activation quantizer's site `v` is the dequantized
 * value in the QDQ model (what the next unit reads), `v` in the FP model.
 *
 * @example
 * ```ts
 * const { graph } = foldBatchNorm(loadOnnx("model.onnx"));
 * const p = await errorProfile(graph, [{ label: "rtn", bytes }], batches);
 * console.log(p.units.map((u) => `${u.unit} ${u.sqnr[0].toFixed(1)} dB`));
 * ```
 *
 * @module
 */
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import type { Graph } from "../models/graph.ts";
import { reconstructionUnits } from "../models/units.ts";
import { toOnnx } from "../models/export.ts";
import { decodeModel } from "../models/onnx.ts";

// deno-lint-ignore no-explicit-any
const onnx = (onnxProto as any).onnx;

/** A QDQ model to profile. */
export interface ProfiledModel {
  label: string;
  bytes: Uint8Array;
}

/** A batch of preprocessed images on the host, NCHW. */
export interface HostBatch {
  host: Float32Array;
  shape: number[];
}

/**
 * One unit's (or node's) row: the FP output's RMS (per element) and each model's SQNR there (dB,
 * `Infinity` if exact).
 */
export interface UnitError {
  /** The unit's name (or the node's). */
  unit: string;
  /** The unit's kind (or the node's op type). */
  kind: string;
  /** The value compared (the unit's output). */
  value: string;
  fpRms: number;
  sqnr: number[];
}

/** The profile of every model, units in network order. */
export interface ErrorProfile {
  labels: string[];
  images: number;
  units: UnitError[];
  /** Per model: share of images whose top-1 class equals the FP model's (percent). */
  agreement: number[];
  /** Per model: mean KL(FP ‖ quantized) of the softmax predictions (nats). */
  kl: number[];
  /** With `opts.channels`: that value's error split by channel. */
  channels?: ChannelError;
}

/**
 * One value's error split by channel (axis 1): which channels carry it, and, when a Conv produces
 * the value, each output channel's kernel sum in the FP model and as each QDQ model
 * dequantizes it. A kernel that sums to ~0 passes no local mean; rounding it to a coarse grid can
 * break that, and the channel then leaks its input's mean times the rounding error of the sum.
 */
export interface ChannelError {
  value: string;
  /** Per channel: Σ of the FP value squared. */
  fpEnergy: number[];
  /** Per model, per channel: Σ of the error squared. */
  noise: number[][];
  /** The producing node, when it is a Conv with a constant weight. */
  producer?: {
    node: string;
    /** Per output channel: Σ of the FP (BN-folded) kernel. */
    fpKernelSum: number[];
    /** Per model: Σ of the dequantized kernel per output channel (null: weight not quantized). */
    kernelSum: (number[] | null)[];
    /** Per output channel: the FP bias (zeros without one). */
    bias: number[];
  };
}

/** SQNR in dB from the signal and noise energies. */
export function sqnrDb(signal: number, noise: number): number {
  if (noise === 0) return Infinity;
  return 10 * Math.log10(signal / noise);
}

/** Adds graph outputs (float tensors) for `names` to ONNX bytes; throws naming a missing value. */
export function withOutputs(bytes: Uint8Array, names: string[], file: string): Uint8Array {
  const m = decodeModel(bytes, file);
  const produced = new Set<string>(m.graph.node.flatMap((n: { output: string[] }) => n.output));
  const outs = new Set<string>(m.graph.output.map((o: { name: string }) => o.name));
  for (const name of names) {
    if (outs.has(name)) continue;
    if (!produced.has(name)) {
      throw new RangeError(
        `${file} has no value "${name}": was it exported by ptq-bench from this model?`,
      );
    }
    m.graph.output.push({ name, type: { tensorType: { elemType: 1 } } });
  }
  return onnx.ModelProto.encode(m).finish();
}

/**
 * Runs the FP graph and each QDQ model on `batches` and accumulates, per unit output, the FP
 * signal energy and each model's error energy; on the logits also top-1 agreement and KL.
 */
export async function errorProfile(
  graph: Graph,
  models: ProfiledModel[],
  batches: AsyncIterable<HostBatch> | Iterable<HostBatch>,
  opts: {
    threads?: number;
    /** Compare each reconstruction unit's output (default) or every node's output. */
    at?: "units" | "nodes";
    /** A value (N × C × …) whose error to split by channel (`ErrorProfile.channels`). */
    channels?: string;
  } = {},
): Promise<ErrorProfile> {
  const logits = graph.outputs[0].name;
  const rows = [
    ...(opts.at === "nodes"
      ? graph.nodes.flatMap((n) =>
        n.outputs.map((v) => ({ unit: n.name, kind: n.opType, value: v }))
      )
      : reconstructionUnits(graph).map((u) => ({ unit: u.name, kind: u.kind, value: u.output })))
      .filter((r) => r.value !== logits),
    { unit: "logits", kind: "output", value: logits },
  ];
  const names = rows.map((r) => r.value);
  const ch = opts.channels === undefined
    ? undefined
    : await channelSetup(graph, models, opts.channels);
  if (ch && !names.includes(ch.value)) names.push(ch.value);
  const input = graph.inputs[0].name;
  const session = (bytes: Uint8Array) =>
    ort.InferenceSession.create(bytes, {
      intraOpNumThreads: opts.threads ?? navigator.hardwareConcurrency,
      graphOptimizationLevel: "disabled",
    });
  const fp = await session(withOutputs(toOnnx(graph), names, "the FP reference"));
  const qs = [];
  for (const [k, m] of models.entries()) {
    const extra = ch?.weightValues[k] ? [ch.weightValues[k]!] : [];
    qs.push(await session(withOutputs(m.bytes, [...names, ...extra], m.label)));
  }

  const signal = new Float64Array(names.length), count = new Float64Array(names.length);
  const noise = models.map(() => new Float64Array(names.length));
  const agree = models.map(() => 0), kl = models.map(() => 0);
  let images = 0;
  try {
    for await (const b of batches) {
      const feeds = { [input]: new ort.Tensor("float32", b.host, b.shape) };
      const ref = await fp.run(feeds);
      names.forEach((n, i) => {
        signal[i] += energy(ref[n].data as Float32Array);
        count[i] += ref[n].data.length;
      });
      if (ch) ch.addSignal(ref[ch.value]);
      for (let k = 0; k < qs.length; k++) {
        const out = await qs[k].run(feeds);
        names.forEach((n, i) =>
          noise[k][i] += energy(ref[n].data as Float32Array, out[n].data as Float32Array)
        );
        if (ch) ch.addNoise(k, ref[ch.value], out);
        const p = logitStats(
          ref[logits].data as Float32Array,
          out[logits].data as Float32Array,
          b.shape[0],
        );
        agree[k] += p.agree;
        kl[k] += p.kl;
      }
      images += b.shape[0];
    }
  } finally {
    await fp.release();
    for (const q of qs) await q.release();
  }
  const n = Math.max(images, 1);
  return {
    labels: models.map((m) => m.label),
    images,
    ...(ch ? { channels: ch.result() } : {}),
    units: rows.map((r, i) => ({
      ...r,
      fpRms: Math.sqrt(signal[i] / Math.max(1, count[i])),
      sqnr: noise.map((z) => sqnrDb(signal[i], z[i])),
    })),
    agreement: agree.map((a) => (100 * a) / n),
    kl: kl.map((x) => x / n),
  };
}

/** Finds `value`'s producer (FP graph and each QDQ model) and accumulates per-channel energies. */
async function channelSetup(graph: Graph, models: ProfiledModel[], value: string) {
  const node = graph.nodes.find((n) => n.outputs.includes(value));
  if (!node) {
    const known = graph.nodes.flatMap((n) => n.outputs).slice(0, 8).join(", ");
    throw new RangeError(`--channels: the FP model has no value "${value}" (values: ${known}, …)`);
  }
  const conv = node.opType === "Conv" && graph.initializers.has(node.inputs[1]);
  // In each QDQ model, the producer's weight input is a DequantizeLinear output when quantized.
  const weightValues = models.map((m) => {
    if (!conv) return null;
    const g = decodeModel(m.bytes, m.label).graph;
    const q = g.node.find((n: { output: string[] }) => n.output.includes(value));
    const w: string | undefined = q?.input[1];
    const produced = w !== undefined &&
      g.node.some((n: { output: string[] }) => n.output.includes(w));
    return produced ? w : null;
  });
  let fpKernelSum: number[] = [], bias: number[] = [];
  if (conv) {
    const w = graph.initializers.get(node.inputs[1])!;
    fpKernelSum = kernelSums(await w.data() as Float32Array, w.shape[0]);
    const b = node.inputs[2] ? graph.initializers.get(node.inputs[2]) : undefined;
    bias = b ? Array.from(await b.data() as Float32Array) : fpKernelSum.map(() => 0);
  }
  const fpEnergy: number[] = [];
  const noise: number[][] = models.map(() => []);
  const kernelSum: (number[] | null)[] = models.map(() => null);
  const add = (acc: number[], t: ort.Tensor, b?: ort.Tensor) => {
    const c = t.dims[1] ?? 1, inner = t.data.length / ((t.dims[0] ?? 1) * c);
    const x = t.data as Float32Array, y = b?.data as Float32Array | undefined;
    while (acc.length < c) acc.push(0);
    // Contiguous runs of `inner` elements belong to one channel: sum each with `energy`.
    for (let o = 0, k = 0; o < x.length; o += inner, k = (k + 1) % c) {
      acc[k] += energy(x.subarray(o, o + inner), y?.subarray(o, o + inner));
    }
  };
  return {
    value,
    weightValues,
    addSignal: (t: ort.Tensor) => add(fpEnergy, t),
    addNoise: (k: number, ref: ort.Tensor, out: Record<string, ort.Tensor>) => {
      add(noise[k], ref, out[value]);
      const w = weightValues[k];
      if (w && kernelSum[k] === null) {
        kernelSum[k] = kernelSums(out[w].data as Float32Array, out[w].dims[0]);
      }
    },
    result: (): ChannelError => ({
      value,
      fpEnergy,
      noise,
      ...(conv ? { producer: { node: node.name, fpKernelSum, kernelSum, bias } } : {}),
    }),
  };
}

/** Σ of each of `rows` equal slices of a weight (per output channel). */
function kernelSums(w: Float32Array, rows: number): number[] {
  const k = w.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    let s = 0;
    for (let j = 0; j < k; j++) s += w[r * k + j];
    return s;
  });
}

/** Σx² or, with `b`, Σ(x − b)². */
function energy(a: Float32Array, b?: Float32Array): number {
  let s = 0;
  if (!b) {
    for (let i = 0; i < a.length; i++) s += a[i] * a[i];
    return s;
  }
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return s;
}

/** Over a batch of logits rows: how many top-1 classes agree, and Σ KL(softmax p ‖ softmax q). */
function logitStats(
  p: Float32Array,
  q: Float32Array,
  rows: number,
): { agree: number; kl: number } {
  const k = p.length / rows;
  let agree = 0, kl = 0;
  for (let r = 0; r < rows; r++) {
    const a = p.subarray(r * k, (r + 1) * k), b = q.subarray(r * k, (r + 1) * k);
    if (argmax(a) === argmax(b)) agree++;
    const la = logSoftmax(a), lb = logSoftmax(b);
    for (let j = 0; j < k; j++) kl += Math.exp(la[j]) * (la[j] - lb[j]);
  }
  return { agree, kl };
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let j = 1; j < a.length; j++) if (a[j] > a[best]) best = j;
  return best;
}

function logSoftmax(a: Float32Array): Float64Array {
  let m = -Infinity;
  for (const v of a) m = Math.max(m, v);
  let s = 0;
  for (const v of a) s += Math.exp(v - m);
  const lse = m + Math.log(s);
  return Float64Array.from(a, (v) => v - lse);
}

// ---------------------------------------------------------------------------------------------
// Text tables (`deno task error-profile`)

/** The SQNR table of a profile: a row per unit (or node), a column per model, then agreement and KL. */
export function profileTable(p: ErrorProfile, at: "units" | "nodes" = "units"): string {
  const w = Math.max(8, ...p.units.map((u) => u.unit.length));
  const cols = p.labels.map((l) => Math.max(8, l.length));
  const head = [
    "unit".padEnd(w),
    "FP RMS".padStart(8),
    ...p.labels.map((l, i) => l.padStart(cols[i])),
  ];
  const lines = [head.join("  "), head.map((h) => "-".repeat(h.length)).join("  ")];
  for (const u of p.units) {
    lines.push([
      u.unit.padEnd(w),
      u.fpRms.toPrecision(3).padStart(8),
      ...u.sqnr.map((x, i) => (isFinite(x) ? x.toFixed(2) : "exact").padStart(cols[i])),
    ].join("  "));
  }
  const foot = (title: string, xs: number[], d: number) =>
    [title.padEnd(w), "".padStart(8), ...xs.map((x, i) => x.toFixed(d).padStart(cols[i]))].join(
      "  ",
    );
  lines.push(foot("top-1 = FP (%)", p.agreement, 2), foot("KL(FP‖Q)", p.kl, 4));
  return `SQNR (dB) of each ${at === "nodes" ? "node" : "unit"}'s output against the FP model\n` +
    lines.join("\n");
}

/** The `top` channels by the last model's share of the value's error. */
export function channelTable(labels: string[], c: ChannelError, top: number): string {
  const total = c.noise.map((z) => z.reduce((s, x) => s + x, 0));
  const last = c.noise.length - 1;
  const order = c.fpEnergy.map((_, i) => i).sort((i, j) => c.noise[last][j] - c.noise[last][i]);
  const k = c.producer;
  const head = [
    "channel",
    ...labels.map((l) => `${l} share %`),
    ...(k ? ["Σw FP", ...labels.map((l) => `Σw ${l}`), "bias"] : []),
  ];
  const rows = order.slice(0, top).map((i) => [
    String(i),
    ...c.noise.map((z, m) => (total[m] > 0 ? (100 * z[i]) / total[m] : 0).toFixed(1)),
    ...(k
      ? [
        k.fpKernelSum[i].toFixed(4),
        ...k.kernelSum.map((s) => (s ? s[i].toFixed(4) : "—")),
        k.bias[i].toFixed(3),
      ]
      : []),
  ]);
  const w = head.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (r: string[]) => r.map((x, j) => x.padStart(w[j])).join("  ");
  return [
    `${c.value}: the ${Math.min(top, order.length)} of ${order.length} channels with most of ` +
    `${labels[last]}'s error${
      k ? ` (produced by ${k.node}; Σw: kernel sum per output channel)` : ""
    }`,
    line(head),
    w.map((n) => "-".repeat(n)).join("  "),
    ...rows.map(line),
  ].join("\n");
}
