/**
 * `deno task check-model FILE.onnx [--shape N,C,H,W] [--seed S]`: runs a random input through
 * the runtime's cpu backend and through onnxruntime-node, prints the max abs difference and the
 * max difference relative to the largest output magnitude per output, and lists unsupported ops.
 * Exit code 0 when every output is within 1e-4 relative, 1 otherwise.
 *
 * @module
 */
import { parseCli } from "../runtime/cli_args.ts";
import { Random, upload } from "../runtime/mod.ts";
import { execute } from "./execute.ts";
import { loadOnnx, UnsupportedOpError } from "./onnx.ts";
import { compare, ortRun } from "./_testing.ts";

const TOLERANCE = 1e-4;

const USAGE = "usage: deno task check-model FILE.onnx [--shape N,C,H,W] [--seed S]";

/** Runs the check; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(USAGE, {
    args,
    allowPositionals: true,
    options: { shape: { type: "string" }, seed: { type: "string", default: "0" } },
  });
  const file = positionals[0];
  if (!file) {
    console.error(USAGE);
    return 2;
  }
  let graph;
  try {
    graph = loadOnnx(file);
  } catch (e) {
    if (e instanceof UnsupportedOpError) {
      console.error(`FAIL ${file}: ${e.ops.length} unsupported op(s):`);
      for (const o of e.ops) console.error(`  ${o.opType}  (node "${o.node}")`);
      return 1;
    }
    console.error(`FAIL ${(e as Error).message}`);
    return 1;
  }
  const rng = new Random(Number(values.seed));
  const feeds: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (const [i, v] of graph.inputs.entries()) {
    const shape = i === 0 && values.shape
      ? values.shape.split(",").map(Number)
      : v.shape.map((d, k) => (typeof d === "number" ? d : k === 0 ? 2 : NaN));
    if (shape.some((d) => !Number.isInteger(d) || d <= 0)) {
      console.error(`Input "${v.name}" has symbolic dims [${v.shape}]: pass --shape N,C,H,W`);
      return 2;
    }
    feeds[v.name] = { data: rng.uniformArray(shape.reduce((p, d) => p * d, 1), -1, 1), shape };
  }
  const t0 = performance.now();
  const out = execute(graph, {
    feeds: Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, upload(v.data, v.shape)])),
  });
  const ms = performance.now() - t0;
  const ref = await ortRun(Deno.readFileSync(file), feeds);
  let ok = true;
  console.log(
    `${file}: ${graph.nodes.length} nodes, opset ${graph.opset}, cpu ${ms.toFixed(0)} ms`,
  );
  for (const o of graph.outputs) {
    const c = compare(out[o.name].dataSync(), ref[o.name].data);
    const pass = c.rel <= TOLERANCE;
    ok &&= pass;
    console.log(
      `  ${pass ? "ok  " : "FAIL"} ${o.name} [${out[o.name].shape}]: max abs diff ${
        c.maxAbs.toExponential(3)
      }, ` +
        `relative ${c.rel.toExponential(3)} (largest |output| ${
          c.scale.toPrecision(4)
        }, tolerance ${TOLERANCE})`,
    );
  }
  console.log("  unsupported ops: none");
  return ok ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
