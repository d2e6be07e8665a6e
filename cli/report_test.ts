import { assert, assertEquals } from "../runtime/assert.ts";
import { main, SPEC } from "./report.ts";
import { runTask } from "./_testing.ts";

const DOCS_RESULTS = decodeURIComponent(new URL("../docs/results", import.meta.url).pathname);

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test("report rebuilds a paper's page and the baselines page from the records", async () => {
  const out = await Deno.makeTempDir({ prefix: "ptq_cli_report_" });
  try {
    const r = await runTask(SPEC, main, ["pdquant", "--results", DOCS_RESULTS, "--out", out]);
    assertEquals(
      [r.code, r.out],
      [0, `wrote ${out}/pdquant.html\nwrote ${out}/baselines.html\n`],
      r.err,
    );
    assert((await Deno.readTextFile(`${out}/pdquant.html`)).startsWith("<!DOCTYPE html>"));
    const cross = await Deno.readTextFile(`${out}/baselines.html`);
    assert(cross.includes('data-baseline="brecq/resnet18/w4a4/top1"'));
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("report writes nothing without a results folder or without records", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ptq_cli_report_" });
  try {
    const out = `${dir}/reports`;
    const noFolder = await runTask(SPEC, main, ["--results", `${dir}/none`, "--out", out]);
    assertEquals(noFolder.code, 1);
    assert(
      noFolder.err.startsWith(`report: results folder ${dir}/none does not exist`),
      noFolder.err,
    );
    assert(!(await exists(out)), "the output folder was made");

    await Deno.mkdir(`${dir}/results`);
    await Deno.mkdir(out);
    await Deno.writeTextFile(`${out}/pdquant.html`, "the previous report");
    const named = await runTask(SPEC, main, [
      "pdquant",
      "--results",
      `${dir}/results`,
      "--out",
      out,
    ]);
    assertEquals(named.code, 1);
    assert(
      named.err.startsWith(`report: no records for pdquant in ${dir}/results/pdquant.jsonl`),
      named.err,
    );
    const all = await runTask(SPEC, main, ["--results", `${dir}/results`, "--out", out]);
    assertEquals(all.code, 1);
    assert(
      all.err.includes(`no records in ${dir}/results for any paper; nothing written`),
      all.err,
    );
    assertEquals(await Deno.readTextFile(`${out}/pdquant.html`), "the previous report");
    assertEquals([...Deno.readDirSync(out)].map((e) => e.name), ["pdquant.html"]);

    await Deno.writeTextFile(`${dir}/results/pdquant.jsonl`, "{broken\n{}\n");
    const corrupt = await runTask(SPEC, main, ["pdquant", "--results", `${dir}/results`]);
    assertEquals(corrupt.code, 1);
    assert(
      corrupt.err.startsWith(`report: ${dir}/results/pdquant.jsonl:1: not valid JSON`),
      corrupt.err,
    );

    await Deno.writeTextFile(`${dir}/dev.json`, "[1, 2]");
    const dev = await runTask(SPEC, main, [
      "--results",
      DOCS_RESULTS,
      "--deviations",
      `${dir}/dev.json`,
    ]);
    assertEquals([dev.code, dev.err.split("\n")[0]], [
      1,
      `report: deviations file ${dir}/dev.json: expected {"method": ["…", …]}`,
    ]);
    const unknown = await runTask(SPEC, main, ["cvpr"]);
    assertEquals(unknown.code, 2);
    assert(unknown.err.startsWith('report: <paper>: "cvpr" is not one of pdquant'), unknown.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
