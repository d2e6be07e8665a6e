import { assert, assertEquals } from "../runtime/assert.ts";
import { validateRecord } from "../papers/mod.ts";

/** Runs `deno task quantize`'s script with `args`: exit code, stdout and stderr. */
async function quantizeCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli/quantize.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: o.code, out: text(o.stdout), err: text(o.stderr) };
}

Deno.test("quantize --help lists every flag with its values and default", async () => {
  const { code, out } = await quantizeCli(["--help"]);
  assertEquals(code, 0);
  assert(out.includes("deno task quantize"), out);
  for (const flag of ["--model", "--method", "--calib-n", "--calib-preprocess", "--assets"]) {
    assert(out.includes(flag), `${flag} in ${out}`);
  }
  assert(out.includes("rtn") && out.includes("pdquant"), "the methods are listed");
});

Deno.test("quantize refuses unknown flags, missing ones and bad values with exit 2 and a reason", async () => {
  const m = ["--model", "mobilenet_v2_tf2ptq"];
  const cases: [string[], string][] = [
    [[...m, "--method", "rtn", "--bogus", "1"], "--bogus"],
    [["--method", "rtn"], "missing --model"],
    [[...m, "--method", "foo"], '--method: "foo" is not one of rtn'],
    [[...m, "--method", "rtn", "--w", "abc"], '--w: expected an integer, got "abc"'],
    [[...m, "--method", "rtn", "--calib-preprocess", "crop"], '"crop" is not one of model'],
    [[...m, "--method", "qdrop", "--budget", "quick", "--iters", "5"], "drop --budget quick"],
    [[...m, "--method", "qdrop", "--config", "{"], "--config: not valid JSON"],
    [[...m, "--method", "qdrop", "--config", '{"wBits": 3}'], "set wBits with --w"],
    [[...m, "--method", "qdrop", "--config", '{"nope": 3}'], "nope"],
    [["--model", "no_such_model", "--method", "rtn"], "no_such_model"],
  ];
  for (const [args, text] of cases) {
    const { code, out, err } = await quantizeCli(args);
    assertEquals(code, 2, `${args.join(" ")}: ${err}`);
    assert(err.includes(text), `${args.join(" ")}: ${err}`);
    assert(!err.includes("    at "), `no stack trace: ${err}`);
    assertEquals(out, "", "no output before the refusal");
  }
});

Deno.test("quantize names a missing file or folder and exits 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string[], string][] = [
      [["--model", `${dir}/missing.onnx`, "--calib", dir, "--data", dir], "missing.onnx"],
      [["--model", "mobilenet_v2_tf2ptq", "--calib", `${dir}/nope`], `${dir}/nope`],
    ];
    for (const [args, text] of cases) {
      const { code, err } = await quantizeCli([...args, "--method", "rtn"]);
      assertEquals(code, 1, `${args.join(" ")}: ${err}`);
      assert(err.includes(text), `${args.join(" ")}: ${err}`);
      assert(!err.includes("    at "), `no stack trace: ${err}`);
    }
    assertEquals([...Deno.readDirSync(dir)].length, 0, "nothing written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const ASSETS = new URL("../../shared/assets/", import.meta.url).pathname;
const hasAssets = (() => {
  try {
    return Deno.statSync(`${ASSETS}imagenet/calib1000_one_per_class_256px`).isDirectory;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "quantize runs one ad-hoc run through the reproduce pipeline and writes its record",
  ignore: !hasAssets,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const { code, out, err } = await quantizeCli([
        "--model",
        "mobilenet_v1_025_128",
        "--method",
        "rtn",
        "--w",
        "8",
        "--a",
        "8",
        "--budget",
        "smoke",
        "--limit",
        "32",
        "--out",
        `${dir}/m.qdq.onnx`,
        "--json",
        `${dir}/r.json`,
        "--checkpoints",
        `${dir}/ck`,
      ]);
      assertEquals(code, 0, err);
      const rec = validateRecord(JSON.parse(await Deno.readTextFile(`${dir}/r.json`)));
      assertEquals([rec.suite, rec.paper, rec.method, rec.budget], [
        "adhoc",
        "adhoc",
        "rtn",
        "smoke",
      ]);
      assertEquals([rec.metrics.n, rec.calibration.n], [32, 64]);
      assertEquals(rec.exported?.top1, rec.metrics.top1, "exported QDQ = simulated");
      assertEquals(rec.adhoc?.model, "mobilenet_v1_025_128");
      assert(Deno.statSync(`${dir}/m.qdq.onnx`).size > 0);
      assert(out.includes("top-1"), out);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
