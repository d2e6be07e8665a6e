/**
 * `deno task infer`: runs a model on raw little-endian float32 data and writes the first (or the
 * fetched) output as raw little-endian float32; prints its shape. For comparing with other
 * frameworks.
 *
 * @module
 */
import { BACKEND_FLAG } from "./_shared_flags.ts";
import { upload } from "../runtime/mod.ts";
import { backendByName } from "../runtime/select.ts";
import { execute } from "../models/execute.ts";
import { InputError, parseFlags, run, type TaskSpec } from "./_flags.ts";
import { loadOnnxInput, parseShape, readInputBytes } from "./_input.ts";

/** The flags of `deno task infer`. */
export const SPEC = {
  name: "infer",
  summary: "raw float32 in/out, to compare with other frameworks",
  flags: [
    { name: "model", type: "path", required: true, placeholder: "FILE.onnx", help: "the model" },
    {
      name: "input",
      type: "path",
      required: true,
      placeholder: "X.f32",
      help: "the first input: raw little-endian float32, N·C·H·W values",
    },
    {
      name: "shape",
      type: "string",
      required: true,
      placeholder: "N,C,H,W",
      help: "the input's shape",
    },
    {
      name: "output",
      type: "path",
      required: true,
      placeholder: "Y.f32",
      help: "where to write the output (raw little-endian float32)",
    },
    BACKEND_FLAG,
    {
      name: "fetch",
      type: "string",
      placeholder: "NAME",
      help: "write this value instead of the first output",
    },
  ],
} as const satisfies TaskSpec;

async function readF32(path: string, n: number): Promise<Float32Array> {
  const bytes = await readInputBytes(path, "input");
  if (bytes.byteLength !== 4 * n) {
    throw new InputError(
      `input ${path} has ${bytes.byteLength} bytes; the shape needs ${n} float32 = ${4 * n} bytes`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: n }, (_, i) => dv.getFloat32(4 * i, true));
}

function writeF32(path: string, data: ArrayLike<number>): void {
  const buf = new ArrayBuffer(4 * data.length);
  const dv = new DataView(buf);
  for (let i = 0; i < data.length; i++) dv.setFloat32(4 * i, data[i], true);
  Deno.writeFileSync(path, new Uint8Array(buf));
}

/** Runs inference; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v } = parseFlags(SPEC, args);
  const shape = parseShape("shape", v.shape);
  const backend = await backendByName(v.backend);
  const graph = await loadOnnxInput(v.model, { backend, inputShape: shape });
  const name = v.fetch ?? graph.outputs[0].name;
  const x = upload(await readF32(v.input, shape.reduce((p, d) => p * d, 1)), shape, backend);
  const y = execute(graph, { feeds: { [graph.inputs[0].name]: x }, fetch: [name] })[name];
  writeF32(v.output, await y.data());
  console.log(`${name} [${y.shape}] -> ${v.output} (${backend.name})`);
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
