/**
 * Checks a model against onnxruntime: a seeded random input through the runtime's cpu backend and
 * through onnxruntime-node, and per output the max abs difference and the max difference relative
 * to the largest output magnitude (`deno task check-model`).
 *
 * @example
 * ```ts ignore
 * import { checkModel } from "./check_model.ts";
 * import { loadOnnx } from "./onnx.ts";
 * const bytes = Deno.readFileSync("model.onnx");
 * const c = await checkModel(loadOnnx(bytes), bytes, { shape: [2, 3, 224, 224] });
 * console.log(c.ok, c.outputs.map((o) => o.rel)); // true [3.1e-7]
 * ```
 *
 * @module
 */
import { Random, upload } from "../runtime/mod.ts";
import type { Graph } from "./graph.ts";
import { execute } from "./execute.ts";
import { compare, ortRun } from "./testing.ts";

/** The largest relative difference an output may have. */
export const CHECK_TOLERANCE = 1e-4;

/** One output's comparison. */
export interface OutputCheck {
  name: string;
  shape: readonly number[];
  maxAbs: number;
  /** `maxAbs` over the largest |onnxruntime output|. */
  rel: number;
  /** The largest |onnxruntime output|. */
  scale: number;
  pass: boolean;
}

/** What {@linkcode checkModel} found. */
export interface ModelCheck {
  /** Milliseconds of the runtime's forward pass. */
  cpuMs: number;
  outputs: OutputCheck[];
  ok: boolean;
}

/**
 * Uniform(−1, 1) feeds for every graph input; `shape` replaces the first input's shape, and a
 * symbolic batch dimension of the others is 2. A RangeError names an input that still has a
 * symbolic dimension.
 */
export function randomFeeds(
  graph: Graph,
  opts: { shape?: readonly number[]; seed?: number } = {},
): Record<string, { data: Float32Array; shape: number[] }> {
  const rng = new Random(opts.seed ?? 0);
  const feeds: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (const [i, v] of graph.inputs.entries()) {
    const shape = i === 0 && opts.shape
      ? [...opts.shape]
      : v.shape.map((d, k) => (typeof d === "number" ? d : k === 0 ? 2 : NaN));
    if (shape.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new RangeError(`Input "${v.name}" has symbolic dims [${v.shape}]: pass its shape`);
    }
    feeds[v.name] = { data: rng.uniformArray(shape.reduce((p, d) => p * d, 1), -1, 1), shape };
  }
  return feeds;
}

/** Runs `graph` (decoded from `bytes`) on the cpu backend and in onnxruntime; compares outputs. */
export async function checkModel(
  graph: Graph,
  bytes: Uint8Array,
  opts: { shape?: readonly number[]; seed?: number; tolerance?: number } = {},
): Promise<ModelCheck> {
  const tolerance = opts.tolerance ?? CHECK_TOLERANCE;
  const feeds = randomFeeds(graph, opts);
  const t0 = performance.now();
  const out = execute(graph, {
    feeds: Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, upload(v.data, v.shape)])),
  });
  const cpuMs = performance.now() - t0;
  const ref = await ortRun(bytes, feeds);
  const outputs = graph.outputs.map((o) => {
    const c = compare(out[o.name].dataSync(), ref[o.name].data);
    return { name: o.name, shape: out[o.name].shape, ...c, pass: c.rel <= tolerance };
  });
  return { cpuMs, outputs, ok: outputs.every((o) => o.pass) };
}
