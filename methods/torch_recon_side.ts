/**
 * PyTorch beside `deno task bench:recon`: the same reconstruction units, as JSON specs for
 * `methods/torch_recon_bench.py`, which runs an equivalent QDrop iteration on each in PyTorch
 * (spawned through `runtime/torch_side.ts`).
 *
 * A unit's spec ({@linkcode TorchUnitSpec}) is its node list in the terms PyTorch needs: each
 * Conv's weight shape, strides, pads, groups and weight bits, whether its bias goes on the int32
 * grid (as ptq-bench's `biasRounding: "int32"` does it), each Clip / Relu / Add, and which values
 * carry an activation quantizer with how many bits, from the same {@linkcode placeQuantizers} and
 * {@linkcode blockUnits} / {@linkcode layerUnits} as {@linkcode benchRecon}. The input shapes come
 * from one FP forward of a single image. What one iteration computes on both sides is listed in
 * {@linkcode RECON_EQUIVALENCE}.
 *
 * @module
 */
import { noGrad, Random, tidy } from "../runtime/mod.ts";
import { runTorch, scriptPath, timeRatio, type TorchRun } from "../runtime/torch_side.ts";
import { execute } from "../models/execute.ts";
import { foldBatchNorm } from "../models/fold_bn.ts";
import type { Graph, Node, Unit } from "../models/graph.ts";
import { type Placement, placeQuantizers } from "./_quant/placement.ts";
import { intBiasLayers } from "./_quant/quantized_model.ts";
import { blockUnits, layerUnits } from "./_quant/units.ts";
import { RECON_DEFAULTS } from "./_quant/recon.ts";
import { RECON_BENCH_DEFAULTS } from "./bench_recon.ts";

/** The PyTorch script of the reconstruction rows. */
export const TORCH_RECON_SCRIPT: string = scriptPath(
  new URL("./torch_recon_bench.py", import.meta.url),
);

/** What one iteration computes on both sides, and where the PyTorch side differs. */
export const RECON_EQUIVALENCE: readonly string[] = [
  "Same on both sides: the unit's shapes (batch 32), weight bits (first/last layer 8) and " +
  "activation bits and places, AdaRound (per-channel scale and zero point, h(V) = " +
  "clamp(sigmoid(V)·1.2 − 0.1, 0, 1), w_q = s·(clamp(floor(w/s) + h(V) + zp, 0, 2^b − 1) − zp)), " +
  "LSQ activations (learnable step, straight-through round, fixed zero point), QDrop's input mix " +
  "(prob. quantized input) and drop (prob. each fake-quantized element stays float), the loss " +
  "(Σ(out − target)² / (size / C)) plus λ·Σ(1 − |2h(V) − 1|^β) after the warm-up, backward, " +
  "Adam on V and Adam (cosine lr) on the steps, biases on the int32 grid s_x·s_w where " +
  "ptq-bench puts them, a batch gathered from the cached inputs by random indices, the loss read " +
  "back every iteration.",
  "Different: PyTorch's weights, inputs and quantizer ranges are random / min-max (ptq-bench: the " +
  "model's weights, random images through the model, MSE-searched ranges) - the timing does not " +
  "depend on the values; PyTorch uses symmetric padding where the ONNX pads are TF 'SAME' " +
  "asymmetric but give the same output shape (torchvision's layers); the masks come from " +
  "torch.rand_like, not ptq-bench's generator.",
];

/** One node of a unit, as the PyTorch side runs it. */
export type TorchNode =
  | {
    op: "conv";
    in: string;
    out: string;
    /** `[O, C/g, kh, kw]`. */
    w: number[];
    strides: number[];
    /** ONNX order: top, left, bottom, right. */
    pads: number[];
    dilations: number[];
    groups: number;
    bias: boolean;
    /** Weight bits (no weight quantizer: float weight). */
    wBits: number | null;
    /** The bias is rounded to the int32 grid `s_x · s_w[c]` (`s_x`: the step of `in`). */
    intBias: boolean;
  }
  | { op: "clip"; in: string; out: string; min: number; max: number }
  | { op: "add"; a: string; b: string; out: string };

/** One unit as the PyTorch side builds it. */
export interface TorchUnitSpec {
  /** `model/unit`. */
  id: string;
  /** The unit's external inputs and their shapes less the batch (`[C, H, W]`). */
  inputs: Record<string, number[]>;
  /** Inputs that are quantized in ptq-bench's stream (the quantized model's cached values). */
  quantizedInputs: Record<string, number>;
  output: string;
  nodes: TorchNode[];
  /** Activation quantizer bits by value, inside the unit. */
  acts: Record<string, number>;
}

/** The iteration settings, the same for every unit of a run. */
export interface TorchReconSettings {
  batch: number;
  images: number;
  iters: number;
  dropProb: number;
  inputMixProb: number;
  weightLr: number;
  actLr: number;
  lambda: number;
  warmup: number;
  betaStart: number;
  betaEnd: number;
}

/** Options of {@linkcode torchReconSpecs} (as {@linkcode benchRecon}'s). */
export interface TorchSpecOptions {
  /** The name the ids start with (e.g. the registry name). */
  model: string;
  layers?: boolean;
  from?: number;
  units?: number;
  wBits?: number;
  aBits?: number;
}

/** A number out of a Clip bound: an attribute, a host constant or a float initializer. */
function scalar(graph: Graph, node: Node, slot: number, attr: "min" | "max"): number {
  const name = node.inputs[slot];
  if (name) {
    const c = graph.constants.get(name);
    if (c) return c.data[0];
    const t = graph.initializers.get(name);
    if (t) return (t.dataSync() as Float32Array)[0];
  }
  const a = node.attrs[attr];
  return typeof a === "number" ? a : attr === "min" ? -Infinity : Infinity;
}

/**
 * A unit as a {@linkcode TorchUnitSpec}; `shapes` holds its inputs' shapes (with the batch). A
 * RangeError names the first node the PyTorch side cannot run (only Conv, Clip, Relu and Add).
 */
export function unitSpec(
  graph: Graph,
  unit: Unit,
  placement: Placement,
  shapes: Record<string, readonly number[]>,
  id: string,
): TorchUnitSpec {
  const weights = new Map(placement.weights.map((w) => [w.node, w]));
  const actBits = new Map(placement.acts.map((a) => [a.value, a.bits]));
  const intBias = intBiasLayers(graph, placement);
  const nodes: TorchNode[] = unit.nodes.map((n) => {
    if (n.opType === "Conv") {
      const w = graph.initializers.get(n.inputs[1]);
      if (!w || w.rank !== 4) throw new RangeError(`${n.name}: Conv without a 4-D weight`);
      const k = w.shape.slice(2);
      return {
        op: "conv",
        in: n.inputs[0],
        out: n.outputs[0],
        w: [...w.shape],
        strides: (n.attrs.strides as number[] | undefined) ?? [1, 1],
        pads: (n.attrs.pads as number[] | undefined) ?? [0, 0, 0, 0],
        dilations: (n.attrs.dilations as number[] | undefined) ?? k.map(() => 1),
        groups: (n.attrs.group as number | undefined) ?? 1,
        bias: !!n.inputs[2],
        wBits: weights.get(n.name)?.bits ?? null,
        intBias: intBias.has(n.name),
      };
    }
    if (n.opType === "Clip" || n.opType === "Relu") {
      const relu = n.opType === "Relu";
      return {
        op: "clip",
        in: n.inputs[0],
        out: n.outputs[0],
        min: relu ? 0 : scalar(graph, n, 1, "min"),
        max: relu ? Infinity : scalar(graph, n, 2, "max"),
      };
    }
    if (n.opType === "Add" && n.inputs.length === 2) {
      return { op: "add", a: n.inputs[0], b: n.inputs[1], out: n.outputs[0] };
    }
    throw new RangeError(`${n.name}: ${n.opType} is not in the PyTorch side's ops`);
  });
  const acts: Record<string, number> = {};
  for (const n of unit.nodes) {
    for (const v of n.outputs) if (actBits.has(v)) acts[v] = actBits.get(v)!;
  }
  return {
    id,
    inputs: Object.fromEntries(unit.inputs.map((v) => [v, [...shapes[v]].slice(1)])),
    quantizedInputs: Object.fromEntries(
      unit.inputs.filter((v) => actBits.has(v)).map((v) => [v, actBits.get(v)!]),
    ),
    output: unit.output,
    nodes,
    acts,
  };
}

/** One unit's spec, or why the PyTorch side cannot run it. */
export type TorchUnitEntry = { id: string; spec: TorchUnitSpec } | { id: string; reason: string };

/**
 * The specs of the units {@linkcode benchRecon} times with the same options (BN folded, the same
 * unit list and quantizer placement); the input shapes from one FP forward of a random image.
 */
export function torchReconSpecs(graph: Graph, o: TorchSpecOptions): TorchUnitEntry[] {
  const d = RECON_BENCH_DEFAULTS;
  const folded = foldBatchNorm(graph).graph;
  const all = (o.layers ?? d.layers) ? layerUnits(folded) : blockUnits(folded);
  const from = o.from ?? d.from;
  const units = all.slice(from, from + (o.units ?? d.units));
  const placement = placeQuantizers(folded, {
    wBits: o.wBits ?? d.wBits,
    aBits: o.aBits ?? d.aBits,
  });
  const input = folded.inputs[0];
  const shape = input.shape.map((v) => (typeof v === "number" && v > 0 ? v : 1));
  shape[0] = 1;
  const fetch = [...new Set(units.flatMap((u) => u.inputs))];
  const shapes: Record<string, number[]> = { [input.name]: shape };
  tidy(() => {
    const x = new Random(2).randn(shape);
    const need = fetch.filter((v) => v !== input.name);
    if (!need.length) return;
    const out = noGrad(() => execute(folded, { feeds: { [input.name]: x }, fetch: need }));
    for (const v of need) shapes[v] = [...out[v].shape];
  });
  return units.map((u) => {
    const id = `${o.model}/${u.name}`;
    try {
      return { id, spec: unitSpec(folded, u, placement, shapes, id) };
    } catch (e) {
      return { id, reason: e instanceof Error ? e.message : String(e) };
    }
  });
}

/** The settings of a run from {@linkcode benchRecon}'s options (the same defaults). */
export function torchReconSettings(o: {
  iters?: number;
  images?: number;
  dropProb?: number;
  inputMixProb?: number;
  weightLr?: number;
}): TorchReconSettings {
  const d = RECON_BENCH_DEFAULTS;
  return {
    batch: RECON_DEFAULTS.batch,
    images: o.images ?? d.images,
    iters: o.iters ?? d.iters,
    dropProb: o.dropProb ?? d.dropProb,
    inputMixProb: o.inputMixProb ?? d.inputMixProb,
    weightLr: o.weightLr ?? d.weightLr,
    actLr: RECON_DEFAULTS.actLr,
    // benchRecon's λ (MobileNetV2's), warm-up and β schedule.
    lambda: 0.1,
    warmup: RECON_DEFAULTS.warmup,
    betaStart: RECON_DEFAULTS.betaStart,
    betaEnd: RECON_DEFAULTS.betaEnd,
  };
}

/** One PyTorch unit's timing. */
export interface TorchReconRow {
  id: string;
  /** The median seconds per iteration (over iterations 2..iters, as ptq-bench's). */
  median_s: number;
  iterations_s: number[];
}

/** A group of units with their settings (one model's, one `--iters`). */
export interface TorchReconGroup {
  settings: TorchReconSettings;
  units: TorchUnitSpec[];
}

/** PyTorch's answer rows, those that are well-formed. */
export function parseReconRows(rows: readonly unknown[]): TorchReconRow[] {
  const out: TorchReconRow[] = [];
  for (const r of rows) {
    if (typeof r !== "object" || r === null) continue;
    const { id, median_s, iterations_s } = r as Record<string, unknown>;
    if (typeof id !== "string" || typeof median_s !== "number" || !(median_s > 0)) continue;
    const its = Array.isArray(iterations_s)
      ? iterations_s.filter((x): x is number => typeof x === "number")
      : [];
    out.push({ id, median_s, iterations_s: its });
  }
  return out;
}

/**
 * Runs the groups' units in PyTorch (one process, `threads` threads); never throws. The run's
 * rows are {@linkcode TorchReconRow}s (see {@linkcode parseReconRows}).
 */
export async function runTorchRecon(
  groups: TorchReconGroup[],
  o: { threads: number; python?: string; log?: (line: string) => void },
): Promise<TorchRun> {
  return await runTorch(TORCH_RECON_SCRIPT, { threads: o.threads, groups }, {
    python: o.python,
    log: o.log,
  });
}

/** One model's timed units on the ptq-bench side, for {@linkcode reconTable}. */
export interface ReconTableModel {
  model: string;
  iters: number;
  units: { name: string; median_s: number }[];
  /** The units' PyTorch entries by unit name (absent: PyTorch was not asked). */
  torch?: TorchUnitEntry[];
}

const sec = (s: number) => s.toFixed(3);

/**
 * The side-by-side markdown table: each unit's median seconds per iteration in ptq-bench and in
 * PyTorch, and ptq-bench's time over PyTorch's (below 1: ptq-bench faster), then each model's
 * mean. PyTorch cells say "not run" (`torch` null), "not available" (the run failed; the header
 * line says why) or "not available (why)" for a unit the PyTorch side cannot build.
 */
export function reconTable(models: readonly ReconTableModel[], torch: TorchRun | null): string {
  const answers = new Map(torch?.ok ? parseReconRows(torch.rows).map((r) => [r.id, r]) : []);
  const head = [
    "model",
    "unit",
    "iterations",
    "ptq-bench s/it",
    "PyTorch s/it",
    "ptq-bench / PyTorch (time)",
  ];
  const body: string[][] = [];
  for (const m of models) {
    const torchS: (number | undefined)[] = [];
    m.units.forEach((u, i) => {
      const entry = m.torch?.[i];
      const t = entry && "spec" in entry ? answers.get(entry.id) : undefined;
      torchS.push(t?.median_s);
      const cell = t
        ? sec(t.median_s)
        : !torch
        ? "not run"
        : entry && "reason" in entry
        ? `not available (${entry.reason})`
        : !torch.ok
        ? "not available"
        : "no answer";
      const ratio = t ? timeRatioS(u.median_s, t.median_s) : "";
      body.push([m.model, u.name, String(m.iters), sec(u.median_s), cell, ratio]);
    });
    if (m.units.length > 1) {
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const ours = mean(m.units.map((u) => u.median_s));
      const all = torchS.every((x) => x !== undefined);
      const theirs = all ? mean(torchS as number[]) : undefined;
      body.push([
        m.model,
        `mean of ${m.units.length} units`,
        String(m.iters),
        sec(ours),
        theirs !== undefined ? sec(theirs) : "",
        theirs !== undefined ? timeRatioS(ours, theirs) : "",
      ]);
    }
  }
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`]
    .concat(body.map((b) => `| ${b.join(" | ")} |`))
    .join("\n");
}

/** {@linkcode timeRatio} of two times in seconds. */
const timeRatioS = (ours: number, theirs: number) => timeRatio(ours * 1000, theirs * 1000);
