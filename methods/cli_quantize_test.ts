import { assert, assertEquals } from "../papers/_testing.ts";

/** Runs `deno task quantize`'s script with `args`: exit code, stdout and stderr. */
async function quantizeCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./cli_quantize.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: o.code, out: text(o.stdout), err: text(o.stderr) };
}

Deno.test("quantize --help prints the usage and exits 0", async () => {
  const { code, out } = await quantizeCli(["--help"]);
  assertEquals(code, 0);
  assert(out.startsWith("usage: deno task quantize --model"), out);
  assert(out.includes("--calib-preprocess model|plain"), out);
});

Deno.test("quantize refuses unknown flags, missing ones and bad values with exit 2 and a reason", async () => {
  const cases: [string[], string][] = [
    [
      ["--model", "mobilenet_v2_tf2ptq", "--method", "rtn", "--bogus", "1"],
      "Unknown option '--bogus'",
    ],
    [["--method", "rtn"], "usage: deno task quantize"],
    [
      ["--model", "mobilenet_v2_tf2ptq", "--method", "rtn", "--calib-preprocess", "crop"],
      '--calib-preprocess must be model or plain, not "crop"',
    ],
  ];
  for (const [args, text] of cases) {
    const { code, out, err } = await quantizeCli(args);
    assertEquals(code, 2, `${args.join(" ")}: ${err}`);
    assert(err.includes(text), `${args.join(" ")}: ${err}`);
    assertEquals(out, "", "no output before the refusal");
  }
});
