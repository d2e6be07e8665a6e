/**
 * Unit lists for reconstruction: the graph-derived blocks of `models/units.ts`, a layer-wise
 * partition (AdaRound), and merging of consecutive units (MRECG's mixed granularity).
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
