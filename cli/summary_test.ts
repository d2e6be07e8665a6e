import { assert, assertEquals } from "../runtime/assert.ts";
import { main, SPEC } from "./summary.ts";
import { runTask } from "./_testing.ts";

const GOLDEN = new URL("../tests/fixtures/golden_smoke.jsonl", import.meta.url);

Deno.test("summary prints a paper's records as markdown and refuses what it cannot read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ptq_cli_summary_" });
  try {
    await Deno.copyFile(GOLDEN, `${dir}/pdquant.jsonl`);
    const ok = await runTask(SPEC, main, ["pdquant", "--results", dir]);
    assertEquals(ok.code, 0, ok.err);
    assert(ok.out.startsWith("### pdquant\n"), ok.out);
    assert(ok.out.includes("| method | W4A4 |"), ok.out);
    assert(/\| pdquant \| \d+\.\d\d \(n=1; QDQ /.test(ok.out), ok.out);

    const none = await runTask(SPEC, main, ["pdquant", "mrecg", "--results", dir]);
    assertEquals(none.code, 1);
    assertEquals(none.out, "", "nothing printed when a paper has no records");
    assert(none.err.includes(`no records for mrecg in ${dir}/mrecg.jsonl`), none.err);

    const missing = await runTask(SPEC, main, ["pdquant", "--results", `${dir}/nope`]);
    assertEquals(missing.code, 1);
    assert(missing.err.includes(`results folder (--results) ${dir}/nope does not exist`));
    assert(!missing.err.includes("    at "), "no stack trace for an input error");

    await Deno.writeTextFile(`${dir}/mrecg.jsonl`, "{not json}\n");
    const corrupt = await runTask(SPEC, main, ["mrecg", "--results", dir]);
    assertEquals(corrupt.code, 1);
    assert(corrupt.err.includes(`${dir}/mrecg.jsonl`), corrupt.err);

    const usage = await runTask(SPEC, main, ["nopaper"]);
    assertEquals(usage.code, 2);
    assert(usage.err.includes('"nopaper" is not one of'), usage.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
