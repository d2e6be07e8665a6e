/**
 * A paper and a method are plug-ins: a toy method (one object, as a method file exports) and a
 * toy paper (a table, recipes, stand-ins and claims, as a paper folder holds) run end to end
 * through `reproduce` and into a report without touching any other file of the harness — the
 * registries are literals, and `reproduce` takes a paper module and a method registry directly.
 */
import { z } from "zod";
import { assert, assertEquals, assertThrows } from "../runtime/assert.ts";
import { COMMON_KEYS, ignored, type Method, METHODS, parseConfig } from "../methods/mod.ts";
import { definePaper, readRecords, reproduce } from "../papers/mod.ts";
import { buildView } from "../reports/view.ts";
import { renderHtml } from "../reports/html.ts";

const toyConfig = z.object({
  wBits: z.number().int().default(4),
  aBits: z.number().int().default(4),
  calibSize: z.number().int().optional(),
  headStem8bit: z.boolean().default(true),
  seed: z.number().int().default(0),
}).strict();

/** What a method file exports: citation, config schema, deviations, recipe keys and `run`. */
const toy: Method<typeof toyConfig> = {
  id: "toy",
  paper: {
    title: "A toy method",
    authors: "ptq-bench",
    venue: "tests",
    url: "https://example.org",
  },
  config: toyConfig,
  deviations: ["toy: round-to-nearest under another name, for the plug-in test"],
  recipeKeys: {
    ...COMMON_KEYS,
    iters: ignored("the toy optimises nothing"),
    batch: ignored("the toy optimises nothing"),
  },
  run(ctx, raw) {
    const c = parseConfig(toyConfig, raw, "toy");
    return METHODS.rtn.run(ctx, { wBits: c.wBits, aBits: c.aBits, seed: c.seed });
  },
};

const row = (method: string, value: number) => ({
  paper: "toypaper",
  table: "T1",
  model: "TinyNet",
  arch: "tinynet",
  w_bits: 8,
  a_bits: 8,
  method,
  method_printed: method === "toy" ? "Toy" : "RTN",
  origin: method === "toy" ? "proposed" : "rerun",
  metric: "top1",
  value,
  fp32: 70,
  source: { paper: "toypaper", source_id: "S1", table: "Table 1", row: method, column: "TinyNet" },
  verified: true,
  primary: true,
});

const TABLE = {
  generated_by: "written by hand in tests/plugin_test.ts",
  from: ["S1: the test itself"],
  meta: {
    id: "toypaper",
    table_key: "toypaper",
    title: "A toy paper",
    short: "Toy",
    authors: "ptq-bench",
    arxiv: "0000.00000",
    venue: "tests",
    code: [{ repo: "example/toy", commit: "0000000" }],
    transcription_status: "complete",
    not_found: [],
    sources: { S1: { kind: "test", locator: "tests/plugin_test.ts" } },
    checkpoints: [],
    secondary_facts: [],
  },
  rows: [row("toy", 69.5), row("rtn", 69)],
};

const recipe = (method: string) => ({
  id: `toypaper/${method}@tinynet`,
  version: 1,
  paper: "toypaper",
  method,
  archs: ["tinynet"],
  fixed: {
    calibration: { n: 32, batch: 32, source: "test", augment: "none" },
    iters_per_unit: 1,
    seeds: [7],
    first_last_8bit: true,
    config: { lp: 2.4 },
    scaled_by_budget: [],
  },
  notes: ["a test recipe"],
});

const PARTS = {
  recipes: [recipe("toy"), recipe("rtn")],
  claims: [["toy", "rtn"]] as const,
  deviations: ["toy paper: a proxy stands in for TinyNet"],
  standIns: { proxy: { tinynet: "proxy_mbv2_w05" }, "imagenet-subset": {} },
};

Deno.test("a paper's recipes are checked against the method registry when it is defined", () => {
  const e = assertThrows(() => definePaper(TABLE, PARTS, "toy table"));
  assert(e.message.includes('Unknown method "toy"'), e.message);
  const r = recipe("rtn");
  const bad = { ...PARTS, recipes: [{ ...r, fixed: { ...r.fixed, config: { prob: 0.5 } } }] };
  const e2 = assertThrows(() => definePaper(TABLE, bad, "toy table", { ...METHODS, toy }));
  assert(e2.message.includes('Recipe key "prob" has no counterpart in the rtn config'), e2.message);
});

Deno.test("a toy paper and a toy method run end to end through reproduce and the report", async () => {
  const methods = { ...METHODS, toy };
  const paper = definePaper(TABLE, PARTS, "toy table", methods);
  assertEquals(paper.claims.map((c) => c.id), ["toypaper/tinynet/w8a8/toy>rtn"]);
  const dir = await Deno.makeTempDir();
  try {
    const s = await reproduce({
      paper,
      methods,
      budget: "smoke",
      resultsDir: dir,
      checkpointDir: `${dir}/ck`,
      log: () => {},
    });
    assertEquals([s.planned, s.ran, s.failed.length], [2, 2, 0], JSON.stringify(s.failed));
    const { records } = await readRecords(`${dir}/toypaper.jsonl`);
    assertEquals(records.map((r) => r.method).sort(), ["rtn", "toy"]);
    // The toy is RTN under another name: the same numbers.
    assertEquals(records[0].metrics.top1, records[1].metrics.top1);
    const view = buildView(paper, records, { generated: "2026-01-01T00:00:00Z" });
    const html = renderHtml(view);
    assert(html.includes("round-to-nearest under another name"), "the method's deviations");
    assert(html.includes("toy paper: a proxy stands in for TinyNet"), "the paper's deviations");
    // A second run resumes: nothing planned is run again.
    const again = await reproduce({
      paper,
      methods,
      budget: "smoke",
      resultsDir: dir,
      checkpointDir: `${dir}/ck`,
      log: () => {},
    });
    assertEquals([again.ran, again.alreadyRecorded], [0, 2]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
