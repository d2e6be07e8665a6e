import { assert, assertEquals } from "../runtime/assert.ts";
import { HAVE_FASHION_MNIST } from "../datasets/testing.ts";
import { main, SPEC } from "./eval.ts";
import { runTask } from "./_testing.ts";

Deno.test({
  name: "eval writes the summary and the result as JSON",
  ignore: !HAVE_FASHION_MNIST,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "ptq_cli_eval_" });
    try {
      const json = `${dir}/r.json`;
      const r = await runTask(SPEC, main, [
        "--model",
        "proxy_resnet",
        "--limit",
        "20",
        "--quiet",
        "--json",
        json,
      ]);
      assertEquals(r.code, 0, r.err);
      assert(/^proxy_resnet: top-1 [\d.]+, top-5 [\d.]+; 20 images/.test(r.out), r.out);
      const rec = JSON.parse(await Deno.readTextFile(json));
      assertEquals([rec.model, rec.n, rec.dataset], ["proxy_resnet", 20, "fashion-mnist"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("eval refuses bad flags (exit 2) and names what it cannot find (exit 1)", async () => {
  const usage = async (args: string[], message: string) => {
    const r = await runTask(SPEC, main, args);
    assertEquals(r.code, 2, r.err);
    assert(r.err.startsWith(`eval: ${message}`), r.err);
    assert(r.err.includes("(see deno task eval --help)"), r.err);
  };
  await usage([], "missing --model NAME|FILE.onnx");
  await usage(["--model", "x", "--limit", "0"], "--limit: expected at least 1, got 0");
  await usage(["--model", "x", "--backend", "tpu"], '--backend: "tpu" is not one of cpu, webgpu');
  await usage(["--model", "x", "--batch", "many"], '--batch: expected an integer, got "many"');
  const unknown = await runTask(SPEC, main, ["--model", "no_such_model", "--quiet"]);
  assertEquals(unknown.code, 1);
  assert(unknown.err.startsWith('eval: Unknown model "no_such_model"'), unknown.err);
  const missing = await runTask(SPEC, main, ["--model", "/nonexistent/m.onnx", "--quiet"]);
  assertEquals([missing.code, missing.err], [
    1,
    "eval: Model file not found: /nonexistent/m.onnx\n",
  ]);
  const dir = await Deno.makeTempDir({ prefix: "ptq_cli_eval_" });
  try {
    await Deno.writeTextFile(`${dir}/bad.onnx`, "not a model");
    const corrupt = await runTask(SPEC, main, ["--model", `${dir}/bad.onnx`, "--quiet"]);
    assertEquals(corrupt.code, 1);
    assert(corrupt.err.startsWith(`eval: Cannot parse ONNX model ${dir}/bad.onnx`), corrupt.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const help = await runTask(SPEC, main, ["--help"]);
  assertEquals(help.code, 0);
  for (const f of SPEC.flags) assert(help.out.includes(`--${f.name}`), f.name);
});
