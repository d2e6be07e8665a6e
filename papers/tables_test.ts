import { assert, assertEquals, assertThrows } from "../runtime/assert.ts";
import { mrecg, PAPERS, PaperTableFileSchema, parseOrThrow, pdquant } from "./mod.ts";
import pdTable from "./pdquant/table.json" with { type: "json" };
import mcTable from "./mrecg/table.json" with { type: "json" };

Deno.test("every stored paper table parses and every cell has one primary row", () => {
  for (const file of [pdTable, mcTable]) parseOrThrow(PaperTableFileSchema, file, "table");
  for (const paper of Object.values(PAPERS)) {
    assert(paper.cells.length > 0);
    for (const c of paper.cells) assert(c.row.primary);
  }
  assertEquals(mrecg.rows.length, 140);
  assertEquals(pdquant.rows.filter((r) => r.table === "pdquant-README").length, 24);
  assertEquals(pdquant.rows.filter((r) => r.table === "pdquant-abstract-v3").length, 2);
  assertEquals(pdquant.rows.filter((r) => !r.verified).length, 3);
});

Deno.test("a missing cell is absent, never 0", () => {
  for (const paper of Object.values(PAPERS)) {
    for (const r of paper.rows) assert(typeof r.value === "number" && Number.isFinite(r.value));
  }
  // MobileNetV2 x0.75 has no ACIQ-Mix value in Table 1: no row for it.
  assert(!mrecg.rows.some((r) => r.method === "aciq-mix" && r.arch === "mobilenetv2_x0.75"));
});

Deno.test("a broken table names the failing zod path", () => {
  // deno-lint-ignore no-explicit-any
  const broken = structuredClone(pdTable) as any;
  broken.rows[3].value = "69.3";
  delete broken.rows[5].source.source_id;
  const err = assertThrows(() => parseOrThrow(PaperTableFileSchema, broken, "broken table"));
  const msg = (err as Error).message;
  assert(msg.includes("rows.3.value"), msg);
  assert(msg.includes("rows.5.source.source_id"), msg);
});
