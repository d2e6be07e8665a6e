/**
 * Unit lists for reconstruction: the graph-derived blocks of `models/units.ts`, a layer-wise
 * partition (AdaRound), the partition MRECG's official code reconstructs over (residual blocks,
 * other layers chained), and merging of consecutive units (MRECG's mixed granularity).
 *
 * @module
 */
import type { Graph, Node, Unit } from "../../models/graph.ts";
import { quantizableLayers, reconstructionUnits } from "../../models/units.ts";

/** Data values (not weights or constants) read by a node. */
function dataInputs(graph: Graph, n: Node): string[] {
  return n.inputs.filter((v) => v && !graph.initializers.has(v) && !graph.constants.has(v));
}

/** Builds a unit from a contiguous node list: external inputs and the escaping output. */
export function unitFromNodes(graph: Graph, name: string, kind: Unit["kind"], nodes: Node[]): Unit {
  const produced = new Set(nodes.flatMap((n) => n.outputs));
  const inside = new Set(nodes);
  const inputs: string[] = [];
  for (const n of nodes) {
    for (const v of dataInputs(graph, n)) {
      if (!produced.has(v) && !inputs.includes(v)) inputs.push(v);
    }
  }
  const graphOut = new Set(graph.outputs.map((o) => o.name));
  let output = nodes.at(-1)!.outputs[0];
  for (const n of nodes) {
    for (const o of n.outputs) {
      const later = graph.nodes.some((c) => !inside.has(c) && c.inputs.includes(o));
      if (later || graphOut.has(o)) output = o;
    }
  }
  const layers = new Set(quantizableLayers(graph).map((l) => l.name));
  return {
    name,
    kind,
    nodes,
    inputs,
    output,
    layers: nodes.filter((n) => layers.has(n.name)).map((n) => n.name),
  };
}

/**
 * Layer-wise units (AdaRound): one unit per quantizable layer, as contiguous ranges of the
 * topological order; the nodes after a layer (its activation, a residual `Add`, pooling) belong
 * to it, and the first unit also takes the nodes before the first layer.
 */
export function layerUnits(graph: Graph): Unit[] {
  const layers = new Set(quantizableLayers(graph).map((l) => l.name));
  const starts = graph.nodes.flatMap((n, i) => (layers.has(n.name) ? [i] : []));
  if (!starts.length) return [];
  starts[0] = 0;
  return starts.map((lo, k) => {
    const hi = k + 1 < starts.length ? starts[k + 1] : graph.nodes.length;
    return unitFromNodes(graph, `layer${k}`, "layer", graph.nodes.slice(lo, hi));
  });
}

/** Block units from the graph structure (`models/units.ts`). */
export function blockUnits(graph: Graph): Unit[] {
  return reconstructionUnits(graph);
}

/**
 * Merges consecutive units into one reconstruction unit per group (MRECG). `groups` lists, in
 * order, the unit indices of each merged unit, e.g. `[[0], [1], [2, 3], [4]]`; every unit must
 * appear once, groups must be consecutive runs.
 */
export function mergeUnits(graph: Graph, units: Unit[], groups: number[][]): Unit[] {
  const flat = groups.flat();
  if (flat.length !== units.length || flat.some((u, i) => u !== i)) {
    throw new RangeError(
      `mergeUnits: groups must cover units 0..${units.length - 1} in order, got ${
        JSON.stringify(groups)
      }`,
    );
  }
  return groups.map((g) =>
    g.length === 1 ? units[g[0]] : unitFromNodes(
      graph,
      g.map((i) => units[i].name).join("+"),
      "block",
      g.flatMap((i) => units[i].nodes),
    )
  );
}

/** Whether a unit holds a join: a node reading two or more data values (a residual `Add`, …). */
function hasJoin(graph: Graph, u: Unit): boolean {
  return u.nodes.some((n) => dataInputs(graph, n).length > 1);
}

/**
 * The reconstruction units of MRECG's official code, the ones its merge schemes count
 * (`extract_block` and `extract_layer` in `MRECG.py` of bytedance/MRECG at 6e48c48, built on
 * MQBench; `ptq_reconstruction` calls `extract_block` once per scheme entry, at each weight layer
 * not yet reconstructed):
 *
 * - a block with a join (residual `Add`, `Concat`, attention) is one unit, as in
 *   {@linkcode blockUnits}: `extract_block` walks from the layer's input until its branches meet;
 * - any other layers are **chained**: `extract_block` recurses from the end of one layer to the
 *   next (`depth + 1`, at most depth 2: up to three layers) and stops early where a layer's output
 *   forks (`is_next_block`: it feeds two consumers, e.g. a residual block's branch and skip), or
 *   where it reaches a join or the graph output.
 *
 * So MobileNetV2 has 18 units (stem + the first inverted residual, which has no expansion and no
 * skip, as one; the other 16 inverted residuals; last 1×1 conv + classifier as one) where
 * {@linkcode blockUnits} gives 20; ResNet-18 10, ResNet-50 and RegNetX-600MF 18 each (stem,
 * residual blocks, classifier; the stem's output forks) are the same in both. Units keep the
 * node ranges of {@linkcode blockUnits} (pooling and reshapes sit with the unit after them); a
 * chain that splits a block-unit (MobileNetV1's depthwise-separable pairs) cuts it at the
 * layer. A chained unit of several block-units has kind `block` and their joined names.
 *
 * @example
 * ```ts
 * import { mqbenchUnits } from "./units.ts";
 * import { loadOnnx } from "../../models/mod.ts";
 * const units = mqbenchUnits(loadOnnx("mobilenetv2.onnx"));
 * console.log(units.length); // 18 for a torchvision MobileNetV2
 * ```
 */
export function mqbenchUnits(graph: Graph): Unit[] {
  const base = blockUnits(graph);
  const out: Unit[] = [];
  for (let i = 0; i < base.length;) {
    if (hasJoin(graph, base[i])) {
      out.push(base[i++]);
      continue;
    }
    let j = i;
    while (j < base.length && !hasJoin(graph, base[j])) j++;
    out.push(...chain(graph, base.slice(i, j)));
    i = j;
  }
  return out;
}

/** Chains the layers of consecutive join-free units (see {@linkcode mqbenchUnits}). */
function chain(graph: Graph, run: Unit[]): Unit[] {
  const layerNames = new Set(quantizableLayers(graph).map((l) => l.name));
  const consumers = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    for (const v of n.inputs) if (v) consumers.set(v, [...(consumers.get(v) ?? []), n]);
  }
  const outputs = new Set(graph.outputs.map((o) => o.name));
  /** `extract_layer` from a layer: does the chain stop after it (fork, join or output)? */
  const stops = (layer: Node) => {
    let v = layer.outputs[0];
    for (;;) {
      const cs = consumers.get(v) ?? [];
      if (outputs.has(v) || cs.length !== 1) return true;
      if (layerNames.has(cs[0].name)) return false;
      if (dataInputs(graph, cs[0]).length > 1) return true;
      v = cs[0].outputs[0];
    }
  };
  const nodes = run.flatMap((u) => u.nodes);
  const layers = run.flatMap((u) => u.layers.map((l) => ({ name: l, unit: u })));
  // Chunks of at most three layers (depths 0, 1, 2), cut where `stops`.
  const starts: number[] = [];
  let depth = 0;
  layers.forEach((l, k) => {
    if (depth === 0) {
      // A chunk starts at its first block-unit's first node, or at the layer inside one.
      const at = l.unit.layers[0] === l.name
        ? l.unit.nodes[0]
        : nodes.find((n) => n.name === l.name)!;
      starts.push(k === 0 ? 0 : nodes.indexOf(at));
    }
    const node = nodes.find((n) => n.name === l.name)!;
    depth = depth === 2 || stops(node) ? 0 : depth + 1;
  });
  if (!starts.length) return run;
  return starts.map((lo, k) => {
    const hi = k + 1 < starts.length ? starts[k + 1] : nodes.length;
    const part = nodes.slice(lo, hi);
    const members = run.filter((u) => u.nodes.some((n) => part.includes(n)));
    if (members.length === 1 && members[0].nodes.length === part.length) return members[0];
    return unitFromNodes(graph, members.map((u) => u.name).join("+"), "block", part);
  });
}
