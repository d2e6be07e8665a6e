import { assert, assertEquals } from "../runtime/assert.ts";
import { main as checkModel, SPEC as CHECK_MODEL } from "./check_model.ts";
import { main as infer, SPEC as INFER } from "./infer.ts";
import { PROXY_ONNX, runTask } from "./_testing.ts";

Deno.test("check-model passes on a committed model and infer writes raw float32", async () => {
  const ok = await runTask(CHECK_MODEL, checkModel, [PROXY_ONNX, "--shape", "2,1,28,28"]);
  assertEquals(ok.code, 0, ok.err);
  assert(/^ {2}ok {3}\S+ \[2,10\]: max abs diff/m.test(ok.out), ok.out);
  const dir = await Deno.makeTempDir({ prefix: "ptq_cli_infer_" });
  try {
    const n = 2 * 28 * 28;
    await Deno.writeFile(`${dir}/x.f32`, new Uint8Array(new Float32Array(n).fill(0.5).buffer));
    const args = ["--model", PROXY_ONNX, "--input", `${dir}/x.f32`, "--output", `${dir}/y.f32`];
    const r = await runTask(INFER, infer, [...args, "--shape", "2,1,28,28"]);
    assertEquals(r.code, 0, r.err);
    assertEquals((await Deno.stat(`${dir}/y.f32`)).size, 2 * 10 * 4);
    // The input's size must match the shape; the message names the file.
    const short = await runTask(INFER, infer, [...args, "--shape", "3,1,28,28"]);
    assertEquals(
      [short.code, short.err],
      [
        1,
        `infer: input ${dir}/x.f32 has ${4 * n} bytes; the shape needs 2352 float32 = 9408 bytes\n`,
      ],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check-model and infer name a missing, empty or corrupt file and refuse bad shapes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ptq_cli_check_" });
  try {
    await Deno.writeFile(`${dir}/empty.onnx`, new Uint8Array());
    await Deno.writeTextFile(`${dir}/bad.onnx`, "not a model");
    const cases: [string[], number, string][] = [
      [[`${dir}/none.onnx`], 1, `check-model: cannot read model ${dir}/none.onnx: no such file\n`],
      [[`${dir}/empty.onnx`], 1, `check-model: model ${dir}/empty.onnx is empty\n`],
      [[`${dir}/bad.onnx`], 1, `check-model: Cannot parse ONNX model ${dir}/bad.onnx`],
      [[], 2, "check-model: missing <FILE.onnx>\n(see deno task check-model --help)\n"],
      [[PROXY_ONNX, "--shape", "2,x"], 2, "check-model: --shape: expected positive integers"],
      [[PROXY_ONNX, "--seed", "1.5"], 2, 'check-model: --seed: expected an integer, got "1.5"'],
    ];
    for (const [args, code, err] of cases) {
      const r = await runTask(CHECK_MODEL, checkModel, args);
      assertEquals(r.code, code, `${args}: ${r.err}`);
      assert(r.err.startsWith(err), r.err);
    }
    const r = await runTask(INFER, infer, ["--model", PROXY_ONNX, "--input", `${dir}/x.f32`]);
    assertEquals([r.code, r.err.split("\n")[0]], [2, "infer: missing --shape N,C,H,W"]);
    const gone = await runTask(INFER, infer, [
      "--model",
      PROXY_ONNX,
      "--input",
      `${dir}/none.f32`,
      "--shape",
      "1,1,28,28",
      "--output",
      `${dir}/y.f32`,
    ]);
    assertEquals([gone.code, gone.err], [
      1,
      `infer: cannot read input ${dir}/none.f32: no such file\n`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
