/**
 * Every entry point is a module: importing a `cli/` file runs nothing (no output, no exit, no
 * file written), every task in deno.json points at `cli/`, and every task file has a spec the
 * README's table is made from.
 */
import { assert, assertEquals } from "../runtime/assert.ts";
import { TASKS } from "../cli/tasks.ts";

const ROOT = new URL("../", import.meta.url);

Deno.test("every deno task but check and test runs a cli/ file, and every cli file is importable without side effects", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).tasks as Record<
    string,
    string
  >;
  const files = new Set<string>();
  for (const [name, cmd] of Object.entries(tasks)) {
    if (name === "check" || name === "test") continue;
    const m = /^deno run -A (cli\/[a-z_]+\.ts)$/.exec(cmd);
    assert(m, `task ${name} runs "${cmd}", not a cli/ file`);
    files.add(m[1]);
  }
  const log = console.log, error = console.error, exit = Deno.exit;
  const said: string[] = [];
  console.log = (...a: unknown[]) => said.push(a.join(" "));
  console.error = (...a: unknown[]) => said.push(a.join(" "));
  // deno-lint-ignore no-explicit-any
  (Deno as any).exit = (code?: number) => {
    throw new Error(`exit(${code}) on import`);
  };
  try {
    for (const f of files) {
      const mod = await import(new URL(f, ROOT).href);
      assertEquals(typeof mod.main, "function", `${f} exports main`);
      assertEquals(typeof mod.SPEC?.name, "string", `${f} exports SPEC`);
    }
  } finally {
    console.log = log;
    console.error = error;
    // deno-lint-ignore no-explicit-any
    (Deno as any).exit = exit;
  }
  assertEquals(said, [], "nothing printed on import");
  // The README's table covers every task.
  const specNames = new Set([...TASKS.map((t) => t.name), "readme"]);
  for (const name of Object.keys(tasks)) {
    if (name !== "check" && name !== "test") assert(specNames.has(name), `${name} in cli/tasks.ts`);
  }
});
