import { assert, assertEquals, assertThrows } from "./_testing.ts";
import { mrecg, PAPERS, PaperTableFileSchema, parseOrThrow, pdquant } from "./mod.ts";
import { paperTablesDir } from "./convert_tables.ts";
import pdTable from "./pdquant/table.json" with { type: "json" };
import mcTable from "./mrecg/table.json" with { type: "json" };

// deno-lint-ignore no-explicit-any
type Json = any;

const DIR = paperTablesDir();
function readSource(name: string): Json | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(`${DIR}/${name}`));
  } catch {
    return undefined;
  }
}
const pdSrc = readSource("pdquant.json");
const mcSrc = readSource("modcap.json");
const noSources = pdSrc === undefined || mcSrc === undefined;

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
  const broken = structuredClone(pdTable) as Json;
  broken.rows[3].value = "69.3";
  delete broken.rows[5].source.source_id;
  const err = assertThrows(() => parseOrThrow(PaperTableFileSchema, broken, "broken table"));
  const msg = (err as Error).message;
  assert(msg.includes("rows.3.value"), msg);
  assert(msg.includes("rows.5.source.source_id"), msg);
});

Deno.test({
  name: "every PD-Quant number matches paper_tables/pdquant.json and modcap.json",
  ignore: noSources,
  fn() {
    let checked = 0;
    for (const row of pdquant.rows) {
      if (row.table === "pdquant-README") {
        const src = pdSrc.records.find((r: Json) =>
          r.source_id === "P1" && r.model === row.model && r.w_bits === row.w_bits &&
          r.a_bits === row.a_bits
        );
        assert(src, `no source for ${row.model} W${row.w_bits}A${row.a_bits}`);
        assertEquals(row.value, src.value);
        assertEquals(row.fp32, src.fp32_baseline);
        assertEquals(row.verified, src.verified);
        assertEquals(row.version_note, src.version_note);
        // The grid of the table agrees too.
        const grid = pdSrc.tables[0].rows.find((g: Json) =>
          g.w_bits === row.w_bits && g.a_bits === row.a_bits
        );
        assertEquals(grid.values[row.model], row.value);
        // A README cell with a known v3 value has the v3 row as its alternate.
        if (src.cvpr_v3_value !== null) {
          const v3 = pdquant.rows.find((r) =>
            r.table === "pdquant-abstract-v3" && r.model === row.model &&
            r.w_bits === row.w_bits && r.a_bits === row.a_bits
          );
          assertEquals(v3?.value, src.cvpr_v3_value);
        }
      } else if (row.table === "pdquant-abstract-v3") {
        const src = pdSrc.abstract_values.find((a: Json) =>
          a.source_id === "P2" && a.model === row.model && a.w_bits === row.w_bits &&
          a.a_bits === row.a_bits
        );
        assertEquals(row.value, src.value);
        assertEquals(row.version, src.version);
      } else if (row.table === "pdquant-M2-summary") {
        const src = pdSrc.records.find((r: Json) =>
          r.source_id === "M2" && r.model === row.model && r.w_bits === row.w_bits &&
          r.a_bits === row.a_bits
        );
        assertEquals(row.value, src.value);
        assertEquals(row.verified, false);
        assertEquals(row.printed_delta?.value, src.printed_delta);
      } else {
        assertEquals(row.paper, "mrecg");
        const src = mcSrc.records.find((r: Json) =>
          r.table_id === row.table && r.model === row.model && r.w_bits === row.w_bits &&
          r.a_bits === row.a_bits && r.method_printed === row.method_printed
        );
        assert(src, `no MRECG source for ${row.method_printed} ${row.model}`);
        assertEquals(row.value, src.value);
        assertEquals(row.fp32, src.fp32_baseline);
        assert(row.inferred);
      }
      checked++;
    }
    assertEquals(checked, pdquant.rows.length);
    // Coverage: every PD-Quant source number is stored.
    for (const r of pdSrc.records) {
      assert(
        pdquant.rows.some((row) =>
          row.model === r.model && row.w_bits === r.w_bits && row.a_bits === r.a_bits &&
          row.value === r.value && row.source.source_id === r.source_id
        ),
        `missing ${r.source_id} ${r.model} W${r.w_bits}A${r.a_bits}`,
      );
    }
    for (const fp of pdSrc.fp32_baselines) {
      assertEquals(pdquant.meta.checkpoints.find((c) => c.model === fp.model)?.fp32, fp.top1);
    }
  },
});

Deno.test({
  name: "every MRECG number matches paper_tables/modcap.json, record by record and cell by cell",
  ignore: noSources,
  fn() {
    assertEquals(mrecg.rows.length, mcSrc.records.length);
    mcSrc.records.forEach((src: Json, i: number) => {
      const row = mrecg.rows[i];
      assertEquals(
        [row.model, row.w_bits, row.a_bits, row.method_printed, row.table],
        [src.model, src.w_bits, src.a_bits, src.method_printed, src.table_id],
      );
      assertEquals(row.value, src.value);
      assertEquals(row.fp32, src.fp32_baseline);
      assertEquals(row.verified, src.verified);
      assertEquals(row.source.source_id, src.source_id);
      assertEquals(row.printed_delta?.value, src.printed_delta ?? undefined);
      // The printed grid holds the same number in the labelled row and column.
      const label = row.source.row.replace(/ W\dA\d$/, "");
      const grid = mcSrc.tables.find((t: Json) => t.table_id === row.table).rows.find((g: Json) =>
        g.method_printed === label && g.w_bits === row.w_bits && g.a_bits === row.a_bits
      );
      assert(grid, `no grid row ${label}`);
      assertEquals(grid.values[row.source.column], row.value);
    });
    // Every non-empty grid cell of Table 1 is a stored row (empty cells are not).
    const t1 = mcSrc.tables.find((t: Json) => t.table_id === "modcap-T1-submission");
    const filled = t1.rows.flatMap((g: Json) =>
      Object.values(g.values).filter((v) => v !== null)
    ).length;
    assertEquals(mrecg.rows.filter((r) => r.table === "modcap-T1-submission").length, filled);
    for (const fp of mcSrc.fp32_baselines) {
      assertEquals(mrecg.meta.checkpoints.find((c) => c.model === fp.model)?.fp32, fp.top1);
    }
  },
});
