/**
 * `deno task check-model`: runs a seeded random input through the runtime's cpu backend and
 * through onnxruntime-node ({@linkcode checkModel}); prints per output the max abs difference and
 * the max difference relative to the largest output magnitude, and lists unsupported ops.
 *
 * @module
 */
import { CHECK_TOLERANCE, checkModel } from "../models/check_model.ts";
import { UnsupportedOpError } from "../models/onnx.ts";
import { parseFlags, run, type TaskSpec, UsageError } from "./_flags.ts";
import { loadOnnxInput, parseShape, readInputBytes } from "./_input.ts";

/** The flags of `deno task check-model`. */
export const SPEC = {
  name: "check-model",
  summary:
    "run a model through ptq-bench and onnxruntime; max difference per output, unsupported ops",
  positionals: { name: "FILE.onnx", help: "the model to check", required: true },
  flags: [
    {
      name: "shape",
      type: "string",
      placeholder: "N,C,H,W",
      help: "the first input's shape (needed when it has symbolic dimensions other than the " +
        "batch, which is 2 by default)",
    },
    { name: "seed", type: "int", default: 0, help: "seed of the random input" },
  ],
  notes: [
    `Exit code 0 when every output is within ${CHECK_TOLERANCE} relative, 1 otherwise (or when ` +
    "the file cannot be read or has unsupported ops), 2 on bad arguments.",
  ],
} as const satisfies TaskSpec;

/** Runs the check; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals: [file] } = parseFlags(SPEC, args);
  const shape = values.shape === undefined ? undefined : parseShape("shape", values.shape);
  let graph;
  try {
    graph = await loadOnnxInput(file);
  } catch (e) {
    if (!(e instanceof UnsupportedOpError)) throw e;
    console.error(`FAIL ${file}: ${e.ops.length} unsupported op(s):`);
    for (const o of e.ops) console.error(`  ${o.opType}  (node "${o.node}")`);
    return 1;
  }
  let c;
  try {
    c = await checkModel(graph, await readInputBytes(file, "model"), { shape, seed: values.seed });
  } catch (e) {
    if (e instanceof RangeError && /symbolic dims/.test(e.message)) {
      throw new UsageError(e.message.replace("pass its shape", "pass --shape N,C,H,W"));
    }
    throw e;
  }
  console.log(
    `${file}: ${graph.nodes.length} nodes, opset ${graph.opset}, cpu ${c.cpuMs.toFixed(0)} ms`,
  );
  for (const o of c.outputs) {
    console.log(
      `  ${o.pass ? "ok  " : "FAIL"} ${o.name} [${o.shape}]: max abs diff ${
        o.maxAbs.toExponential(3)
      }, relative ${o.rel.toExponential(3)} (largest |output| ${
        o.scale.toPrecision(4)
      }, tolerance ${CHECK_TOLERANCE})`,
    );
  }
  console.log("  unsupported ops: none");
  return c.ok ? 0 : 1;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
