import { assert, assertEquals } from "./_assert.ts";
import { parseCli } from "./cli_args.ts";

/** Runs parseCli in a child process (it exits on --help and on bad flags). */
async function child(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const mod = new URL("./cli_args.ts", import.meta.url).href;
  const code = `import { parseCli } from "${mod}";
    const { values } = parseCli("usage: deno task demo [--n N]", {
      args: ${JSON.stringify(args)}, options: { n: { type: "string" } } });
    console.log("n=" + values.n);`;
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: o.code, out: text(o.stdout), err: text(o.stderr) };
}

Deno.test("parseCli parses like parseArgs", () => {
  const { values } = parseCli("usage: demo", {
    args: ["--n", "3"],
    options: { n: { type: "string" } },
  });
  assertEquals(values.n, "3");
});

Deno.test("parseCli: --help prints the usage and exits 0; a bad flag names the command and exits 2", async () => {
  const help = await child(["-h"]);
  assertEquals([help.code, help.out.trim()], [0, "usage: deno task demo [--n N]"]);
  const bad = await child(["--m", "1"]);
  assertEquals(bad.code, 2);
  assert(bad.err.startsWith("demo: Unknown option '--m'"), bad.err);
  assert(bad.err.includes("usage: deno task demo [--n N]"), bad.err);
  assertEquals(bad.out, "");
  assertEquals((await child(["--n", "4"])).out.trim(), "n=4");
});
