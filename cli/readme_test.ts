import { assert, assertEquals, assertThrows } from "../runtime/assert.ts";
import { helpText } from "./_flags.ts";
import {
  ALL_TASKS,
  BEGIN,
  END,
  README_URL,
  renderReadme,
  replaceTable,
  tasksTable,
} from "./readme.ts";

Deno.test("README.md's task table is the one the task specs make (run `deno task readme`)", async () => {
  const text = await Deno.readTextFile(README_URL);
  const want = await renderReadme(text);
  assert(want === text, "README.md's task table is stale: run `deno task readme`");
});

Deno.test("the task table escapes pipes and keeps the text around the markers", () => {
  const spec = {
    name: "demo",
    summary: "does a|b",
    flags: [{ name: "at", type: "string", values: ["units", "nodes"], help: "" }],
  } as const;
  const table = tasksTable([spec]);
  assert(table.includes("| `deno task demo [--at units\\|nodes]` | does a\\|b |"), table);
  assertEquals(
    replaceTable(`a\n${BEGIN}\nold\n${END}\nb`, "T"),
    `a\n${BEGIN}\n\nT\n\n${END}\nb`,
  );
  assertThrows(() => replaceTable("no markers", "T"), RangeError, "tasks:begin");
});

Deno.test("every task is a deno.json task that runs its cli file, and --help lists every flag", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const names = new Set<string>();
  for (const spec of ALL_TASKS) {
    assert(!names.has(spec.name), `${spec.name} is listed twice`);
    names.add(spec.name);
    const cmd: string | undefined = config.tasks[spec.name];
    const file = cmd?.match(/^deno run -A (cli\/[a-z_]+\.ts)$/)?.[1];
    assert(file, `deno.json task ${spec.name}: ${cmd}`);
    const mod = await import(new URL(`../${file}`, import.meta.url).href);
    assertEquals(mod.SPEC, spec, file);
    assertEquals(typeof mod.main, "function", file);
    const flags = spec.flags.map((f) => f.name);
    assertEquals(new Set(flags).size, flags.length, `${spec.name}: a flag is declared twice`);
    const help = helpText(spec);
    for (const f of flags) assert(help.includes(`--${f}`), `${spec.name} --help lacks --${f}`);
    assert(help.split("\n").every((l) => l.length <= 100), `${spec.name} --help is too wide`);
  }
});
