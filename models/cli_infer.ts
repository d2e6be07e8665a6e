/**
 * `deno task infer --model FILE.onnx --input X.f32 --shape N,C,H,W --output Y.f32
 * [--backend cpu|webgpu] [--fetch NAME]`: runs a model on raw little-endian float32 data and
 * writes the (first, or fetched) output as raw little-endian float32; prints its shape.
 *
 * @module
 */
import { parseCli } from "../runtime/cli_args.ts";
import { upload } from "../runtime/mod.ts";
import { backendByName } from "../runtime/select.ts";
import { execute } from "./execute.ts";
import { loadOnnx } from "./onnx.ts";

function readF32(path: string, n: number): Float32Array {
  const bytes = Deno.readFileSync(path);
  if (bytes.byteLength !== 4 * n) {
    throw new RangeError(
      `${path} has ${bytes.byteLength} bytes; shape needs ${n} float32 = ${4 * n} bytes`,
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

const USAGE = "usage: deno task infer --model FILE.onnx --input X.f32 --shape N,C,H,W " +
  "--output Y.f32 [--backend cpu|webgpu] [--fetch NAME]";

/** Runs inference; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseCli(USAGE, {
    args,
    options: {
      model: { type: "string" },
      input: { type: "string" },
      shape: { type: "string" },
      output: { type: "string" },
      backend: { type: "string", default: "cpu" },
      fetch: { type: "string" },
    },
  });
  if (!values.model || !values.input || !values.shape || !values.output) {
    console.error(USAGE);
    return 2;
  }
  if (values.backend !== "cpu" && values.backend !== "webgpu") {
    console.error(`Unknown backend "${values.backend}" (cpu or webgpu)`);
    return 2;
  }
  try {
    const backend = await backendByName(values.backend);
    const shape = values.shape.split(",").map(Number);
    const graph = loadOnnx(values.model, { backend, inputShape: shape });
    const x = upload(readF32(values.input, shape.reduce((p, d) => p * d, 1)), shape, backend);
    const name = values.fetch ?? graph.outputs[0].name;
    const y = execute(graph, { feeds: { [graph.inputs[0].name]: x }, fetch: [name] })[name];
    writeF32(values.output, await y.data());
    console.log(`${name} [${y.shape}] -> ${values.output} (${backend.name})`);
    return 0;
  } catch (e) {
    console.error(`infer failed: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
