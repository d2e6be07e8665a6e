import { assert, assertEquals } from "../runtime/assert.ts";
import { HAVE_ASSETS } from "../datasets/testing.ts";
import { resolveModel } from "../models/registry.ts";
import { main, SPEC } from "./error_profile.ts";
import { PROXY_ONNX, runTask } from "./_testing.ts";

Deno.test({
  name: "error-profile prints the SQNR table and writes the record",
  ignore: !HAVE_ASSETS,
  fn: async () => {
    const { path } = resolveModel("mobilenet_v1_025_128");
    const dir = await Deno.makeTempDir({ prefix: "ptq_cli_errprof_" });
    try {
      const r = await runTask(SPEC, main, [
        "--model",
        "mobilenet_v1_025_128",
        "--qdq",
        `self=${path}`,
        "--limit",
        "2",
        "--json",
        `${dir}/p.json`,
      ]);
      assertEquals(r.code, 0, r.err);
      assert(r.out.includes("top-1 = FP (%)"), r.out);
      const rec = JSON.parse(await Deno.readTextFile(`${dir}/p.json`));
      assertEquals([rec.images, rec.models[0].label], [2, "self"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("error-profile names a missing QDQ model or data folder and refuses bad flags", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ptq_cli_errprof_" });
  try {
    const base = ["--model", PROXY_ONNX];
    const cases: [string[], number, string][] = [
      [
        [...base, "--qdq", `Q=${dir}/q.onnx`],
        1,
        `error-profile: cannot read QDQ model ${dir}/q.onnx`,
      ],
      [
        [...base, "--qdq", PROXY_ONNX, "--data", `${dir}/none`],
        1,
        `error-profile: data folder ${dir}/none does not exist`,
      ],
      [[...base, "--qdq", PROXY_ONNX, "--data", dir], 1, `error-profile: Label list not found`],
      [base, 2, "error-profile: missing --qdq [LABEL=]FILE.onnx"],
      [[...base, "--qdq", "q.onnx", "--at", "edges"], 2, 'error-profile: --at: "edges" is not one'],
      [[...base, "--qdq", "q.onnx", "--top", "0"], 2, "error-profile: --top: expected at least 1"],
      [[...base, "--qdq", "q.onnx", "--images", "9"], 2, "error-profile: unknown flag --images"],
    ];
    for (const [args, code, err] of cases) {
      const r = await runTask(SPEC, main, args);
      assertEquals(r.code, code, `${args}: ${r.err}`);
      assert(r.err.startsWith(err), r.err);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
