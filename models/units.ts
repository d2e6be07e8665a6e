/**
 * Quantizable layers and reconstruction units, derived from the graph's STRUCTURE (never from
 * node names):
 *
 * - a residual block is the region between a fork and the `Add` that joins it (torchvision
 *   BasicBlock / Bottleneck with or without a downsample branch); with a depthwise conv inside it
 *   is an inverted residual (MobileNetV2 with skip);
 * - two consecutive residual regions built of LayerNorm, MatMul attention (Softmax) and an MLP
 *   form one transformer block (LayerNorm … Add … LayerNorm … Add);
 * - a small `Concat` join (ShuffleNetV2's split → branch → concat) is a block;
 * - among the remaining layers, the depthwise-separable pattern (optional 1×1 expansion →
 *   depthwise → 1×1 projection) delimits inverted residuals without skip (MobileNetV2) and
 *   depthwise-separable blocks (MobileNetV1);
 * - every other quantizable layer (stem conv, classifier, detector heads) is a `layer` unit.
 *
 * Units are contiguous ranges of the graph's topological node order that partition it: the
 * nodes between two units (activations, pooling, reshapes) belong to the unit before them.
 *
 * @example
 * ```ts
 * import { execute, loadOnnx, reconstructionUnits } from "./mod.ts";
 * import { Random } from "../runtime/mod.ts";
 * const g = loadOnnx("resnet18.onnx");
 * for (const u of reconstructionUnits(g)) console.log(u.kind, u.layers);
 * ```
 *
 * @module
 */
import type { Tensor } from "../runtime/mod.ts";
import type { ExecuteOptions, Graph, Node, Unit } from "./graph.ts";
import { execute } from "./execute.ts";

const QUANTIZABLE = new Set(["Conv", "Gemm", "MatMul", "ConvTranspose"]);
const NORMS = new Set(["LayerNormalization", "ReduceMean"]);
/** Element-wise activations (and BatchNorm) that act on a layer's output. */
export const ACTIVATION_OPS: ReadonlySet<string> = new Set([
  "Relu",
  "Clip",
  "LeakyRelu",
  "HardSwish",
  "HardSigmoid",
  "Sigmoid",
  "Tanh",
  "Gelu",
  "BatchNormalization",
]);
/** Ops that stay with the unit before them (activations and normalisation of its output). */
const TRAILING = new Set([...ACTIVATION_OPS, "Identity", "Dropout"]);

/** Conv, ConvTranspose, Gemm and MatMul nodes whose weight (input 1) is an initializer. */
export function quantizableLayers(graph: Graph): Node[] {
  return graph.nodes.filter((n) =>
    QUANTIZABLE.has(n.opType) && graph.initializers.has(n.inputs[1])
  );
}

/** True for a depthwise convolution (one input channel per group, more than one group). */
export function isDepthwise(graph: Graph, n: Node): boolean {
  if (n.opType !== "Conv") return false;
  const w = graph.initializers.get(n.inputs[1]);
  const groups = (n.attrs.group as number | undefined) ?? 1;
  return !!w && groups > 1 && w.shape[1] === 1;
}

function isPointwise(graph: Graph, n: Node): boolean {
  if (n.opType !== "Conv") return false;
  const w = graph.initializers.get(n.inputs[1]);
  return !!w && ((n.attrs.group as number | undefined) ?? 1) === 1 && w.shape[2] === 1 &&
    w.shape[3] === 1;
}

interface Seed {
  lo: number;
  hi: number;
  kind: Unit["kind"];
}

/** Producer and consumer indices of every value. */
function edges(graph: Graph) {
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  graph.nodes.forEach((n, i) => {
    n.outputs.forEach((o) => producer.set(o, i));
    n.inputs.forEach((v) => {
      if (!v) return;
      const c = consumers.get(v) ?? [];
      c.push(i);
      consumers.set(v, c);
    });
  });
  return { producer, consumers };
}

/** Data values (not weights or constants) read by a node. */
function dataInputs(graph: Graph, n: Node): string[] {
  return n.inputs.filter((v) => v && !graph.initializers.has(v) && !graph.constants.has(v));
}

/**
 * The region of a join: the nodes on paths from the closest common ancestor value of the join's
 * data inputs to the join. Returns the node indices, or undefined when the inputs share none.
 */
function joinRegion(
  graph: Graph,
  join: number,
  producer: Map<string, number>,
): Set<number> | undefined {
  const ins = dataInputs(graph, graph.nodes[join]);
  if (ins.length < 2) return undefined;
  const ancestors = (v: string) => {
    const seen = new Set<string>();
    const stack = [v];
    while (stack.length) {
      const x = stack.pop()!;
      if (seen.has(x)) continue;
      seen.add(x);
      const p = producer.get(x);
      if (p !== undefined) { for (const i of dataInputs(graph, graph.nodes[p])) stack.push(i); }
    }
    return seen;
  };
  const sets = ins.map(ancestors);
  const common = [...sets[0]].filter((v) => sets.every((s) => s.has(v)));
  if (!common.length) return undefined;
  const fork = common.reduce((
    a,
    b,
  ) => ((producer.get(a) ?? -1) >= (producer.get(b) ?? -1) ? a : b));
  const forkIdx = producer.get(fork) ?? -1;
  // Nodes after the fork that reach the join.
  const region = new Set<number>([join]);
  const stack = [...ins];
  const seen = new Set<string>();
  while (stack.length) {
    const v = stack.pop()!;
    if (v === fork || seen.has(v)) continue;
    seen.add(v);
    const p = producer.get(v);
    if (p === undefined || p <= forkIdx) continue;
    region.add(p);
    for (const i of dataInputs(graph, graph.nodes[p])) stack.push(i);
  }
  return region;
}

/** Reconstruction units in topological order; they partition the graph's nodes. */
export function reconstructionUnits(graph: Graph): Unit[] {
  const { producer, consumers } = edges(graph);
  const layers = quantizableLayers(graph);
  const layerIdx = new Set(layers.map((l) => graph.nodes.indexOf(l)));
  const countLayers = (lo: number, hi: number) => {
    let k = 0;
    for (let i = lo; i <= hi; i++) if (layerIdx.has(i)) k++;
    return k;
  };
  const has = (lo: number, hi: number, pred: (n: Node) => boolean) =>
    graph.nodes.slice(lo, hi + 1).some(pred);

  // 1. Residual (Add) and small Concat joins, as index ranges; the smallest win on overlap.
  const candidates: Seed[] = [];
  graph.nodes.forEach((n, i) => {
    if (n.opType !== "Add" && n.opType !== "Concat") return;
    const region = joinRegion(graph, i, producer);
    if (!region) return;
    const lo = Math.min(...region);
    const k = countLayers(lo, i);
    if (k === 0) return;
    if (n.opType === "Concat" && k > 4) return;
    const dw = [...region].some((r) => isDepthwise(graph, graph.nodes[r]));
    const kind: Unit["kind"] = n.opType === "Concat"
      ? "block"
      : dw
      ? "inverted-residual"
      : "residual";
    candidates.push({ lo, hi: i, kind });
  });
  candidates.sort((a, b) => a.hi - a.lo - (b.hi - b.lo));
  const seeds: Seed[] = [];
  for (const c of candidates) {
    if (seeds.some((s) => c.lo <= s.hi && s.lo <= c.hi)) continue;
    seeds.push(c);
  }
  seeds.sort((a, b) => a.lo - b.lo);

  // 2. Transformer blocks: an attention residual followed directly by an MLP residual.
  for (let i = 0; i + 1 < seeds.length; i++) {
    const a = seeds[i], b = seeds[i + 1];
    const normed = (s: Seed) =>
      has(s.lo, s.hi, (n) => NORMS.has(n.opType)) && !has(s.lo, s.hi, (n) => n.opType === "Conv");
    const attn = has(a.lo, a.hi, (n) => n.opType === "Softmax");
    const mlp = !has(b.lo, b.hi, (n) => n.opType === "Softmax");
    const between = graph.nodes.slice(a.hi + 1, b.lo);
    if (
      a.kind === "residual" && b.kind === "residual" && normed(a) && normed(b) && attn && mlp &&
      between.every((n) => !layerIdx.has(graph.nodes.indexOf(n)))
    ) {
      seeds.splice(i, 2, { lo: a.lo, hi: b.hi, kind: "transformer" });
    }
  }

  // 3. Depthwise-separable patterns and single layers among the remaining layers.
  const covered = (i: number) => seeds.some((s) => i >= s.lo && i <= s.hi);
  const free = [...layerIdx].filter((i) => !covered(i)).sort((a, b) => a - b);
  const used = new Set<number>();
  /** The next quantizable layer fed (through non-quantizable single-consumer ops) by node `i`. */
  const nextLayer = (i: number): number | undefined => {
    let cur = i;
    for (let steps = 0; steps < 8; steps++) {
      const outs = graph.nodes[cur].outputs.flatMap((o) => consumers.get(o) ?? []);
      if (outs.length !== 1) return undefined;
      cur = outs[0];
      if (layerIdx.has(cur)) return cur;
    }
    return undefined;
  };
  /** Whether node `i`'s output reaches the next layer without an activation (linear). */
  const linearAfter = (i: number, j: number) =>
    graph.nodes.slice(i + 1, j).every((n) =>
      !["Relu", "Clip", "HardSwish", "Sigmoid", "LeakyRelu", "Tanh"].includes(n.opType)
    );
  const dwSeeds: Seed[] = [];
  for (const d of free) {
    if (!isDepthwise(graph, graph.nodes[d]) || used.has(d)) continue;
    const prev = free.find((p) =>
      p < d && !used.has(p) && nextLayer(p) === d && isPointwise(graph, graph.nodes[p])
    );
    const next = nextLayer(d);
    const proj = next !== undefined && free.includes(next) && isPointwise(graph, graph.nodes[next])
      ? next
      : undefined;
    const lo = prev ?? d;
    const hi = proj ?? d;
    for (const x of [prev, d, proj]) if (x !== undefined) used.add(x);
    const after = proj !== undefined ? nextLayer(proj) : undefined;
    const linear = proj !== undefined &&
      (after === undefined
        ? !graph.nodes.slice(proj + 1).some((n, k) =>
          k < 2 && ["Relu", "Clip", "HardSwish"].includes(n.opType) &&
          n.inputs.includes(graph.nodes[proj].outputs[0])
        )
        : linearAfter(proj, after));
    dwSeeds.push({ lo, hi, kind: prev !== undefined || linear ? "inverted-residual" : "block" });
  }
  for (const i of free) if (!used.has(i)) dwSeeds.push({ lo: i, hi: i, kind: "layer" });
  seeds.push(...dwSeeds);
  seeds.sort((a, b) => a.lo - b.lo);

  // 4. Partition: activations right after a unit belong to it; the other nodes between two units
  // (pooling, reshapes, token assembly) belong to the next one; the first unit takes the prefix.
  if (!seeds.length) return [];
  seeds[0].lo = 0;
  for (let i = 0; i < seeds.length; i++) {
    if (i + 1 === seeds.length) {
      seeds[i].hi = graph.nodes.length - 1;
      break;
    }
    while (seeds[i].hi + 1 < seeds[i + 1].lo && TRAILING.has(graph.nodes[seeds[i].hi + 1].opType)) {
      seeds[i].hi++;
    }
    seeds[i + 1].lo = seeds[i].hi + 1;
  }
  const graphOut = new Set(graph.outputs.map((o) => o.name));
  const counts: Record<string, number> = {};
  return seeds.map((s) => {
    const nodes = graph.nodes.slice(s.lo, s.hi + 1);
    const produced = new Set(nodes.flatMap((n) => n.outputs));
    const inputs: string[] = [];
    for (const n of nodes) {
      for (const v of dataInputs(graph, n)) {
        if (!produced.has(v) && !inputs.includes(v)) inputs.push(v);
      }
    }
    // The value the rest of the network reads: the last one produced here that escapes.
    let output = nodes.at(-1)!.outputs[0];
    for (const n of nodes) {
      for (const o of n.outputs) {
        const later = (consumers.get(o) ?? []).some((c) => c > s.hi);
        if (later || graphOut.has(o)) output = o;
      }
    }
    const k = (counts[s.kind] = (counts[s.kind] ?? 0) + 1);
    return {
      name: `${s.kind}${k - 1}`,
      kind: s.kind,
      nodes,
      inputs,
      output,
      layers: nodes.filter((n) => layerIdx.has(graph.nodes.indexOf(n))).map((n) => n.name),
    };
  });
}

/**
 * Runs the graph from its inputs up to a unit's inputs and returns them (the calibration
 * activations a unit reconstructs from). `opts` may carry hooks (e.g. the quantized model so far).
 */
export function unitInputs(
  graph: Graph,
  unit: Unit,
  feeds: Record<string, Tensor>,
  opts: Omit<ExecuteOptions, "feeds" | "fetch" | "nodes"> = {},
): Record<string, Tensor> {
  const pass: Record<string, Tensor> = {};
  const need: string[] = [];
  for (const v of unit.inputs) {
    if (feeds[v]) pass[v] = feeds[v];
    else need.push(v);
  }
  return need.length ? { ...pass, ...execute(graph, { ...opts, feeds, fetch: need }) } : pass;
}

/** Runs one unit on its input(s) and returns its output. */
export function runUnit(
  graph: Graph,
  unit: Unit,
  inputs: Record<string, Tensor>,
  opts: Omit<ExecuteOptions, "feeds" | "fetch" | "nodes"> = {},
): Tensor {
  return execute(graph, { ...opts, feeds: inputs, nodes: unit.nodes, fetch: [unit.output] })[
    unit.output
  ];
}

/**
 * Runs the graph from a unit's output to the graph outputs (the logits), e.g. for the
 * output-level losses of PD-Quant. Extra values the tail needs (other branches) go in `extra`.
 */
export function unitToOutputs(
  graph: Graph,
  unit: Unit,
  value: Tensor,
  opts: Omit<ExecuteOptions, "feeds" | "nodes"> & { extra?: Record<string, Tensor> } = {},
): Record<string, Tensor> {
  const { extra, ...rest } = opts;
  return execute(graph, { ...rest, feeds: { ...extra, [unit.output]: value } });
}

/**
 * Runs the units one after another, passing every value a later unit needs (a check that the
 * units reproduce the whole graph, and the skeleton of block-wise reconstruction).
 */
export function runUnits(
  graph: Graph,
  units: Unit[],
  feeds: Record<string, Tensor>,
  opts: Omit<ExecuteOptions, "feeds" | "fetch" | "nodes"> = {},
): Record<string, Tensor> {
  const env: Record<string, Tensor> = { ...feeds };
  const lastRead = new Map<string, number>();
  units.forEach((u, k) => u.inputs.forEach((v) => lastRead.set(v, k)));
  const outs = new Set(graph.outputs.map((o) => o.name));
  units.forEach((u, k) => {
    const produced = new Set(u.nodes.flatMap((n) => n.outputs));
    const fetch = [...produced].filter((v) => (lastRead.get(v) ?? -1) > k || outs.has(v));
    const ins = Object.fromEntries(u.inputs.map((v) => [v, env[v]]));
    Object.assign(env, execute(graph, { ...opts, feeds: ins, nodes: u.nodes, fetch }));
    for (const v of u.inputs) {
      if (lastRead.get(v) === k && !feeds[v] && !outs.has(v)) {
        env[v].dispose();
        delete env[v];
      }
    }
  });
  return Object.fromEntries(graph.outputs.map((o) => [o.name, env[o.name]]));
}
