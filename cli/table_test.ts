import { assert, assertEquals } from "../runtime/assert.ts";
import { main, SPEC } from "./table.ts";
import { runTask } from "./_testing.ts";

const quantizeRecord = (method: string, w: number, top1: number) => ({
  schema: "ptq-bench/quantize@1",
  model: { name: "m" },
  method,
  bits: { w, a: 4 },
  seed: 1,
  config: { calibSize: 256, recon: { iters: 100 } },
  calibration: { n: 256 },
  eval: { n: 1300 },
  top1,
  fp32: { top1: 78 },
  quantize_s: 1,
  wall_s: 2,
  peak_rss_mb: 100,
});

/** Today's `quantize --json` record (a result record of suite `adhoc`), as far as tables read it. */
const resultRecord = {
  schema: 1,
  model: { name: "m" },
  method: "brecq",
  bits: { w: 2, a: 4 },
  seed: 2,
  config: { recipe: {}, method: { recon: { iters: 200, weightLr: 0.01 } } },
  calibration: { n: 1024, hash: "h" },
  metrics: { top1: 40, n: 1300 },
  exported: { top1: 39.5 },
  fp32: { top1: 78 },
  wall_s: 10,
  peak_mem_mb: 500,
  versions: { ptq_bench: "abc", deno: "2.9.6" },
  adhoc: { calib_preprocess: "plain" },
};

Deno.test("table prints the matrix and the per-run rows of both record schemas", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ptq_cli_table_" });
  try {
    await Deno.writeTextFile(`${dir}/a.json`, JSON.stringify(quantizeRecord("qdrop", 4, 31.25)));
    await Deno.writeTextFile(`${dir}/b.json`, JSON.stringify(quantizeRecord("rtn", 2, 0.5)));
    await Deno.writeTextFile(`${dir}/c.json`, JSON.stringify(resultRecord) + "\n");
    await Deno.writeTextFile(
      `${dir}/p.json`,
      JSON.stringify({ schema: "ptq-bench/error-profile@1" }),
    );
    const files = [`${dir}/a.json`, `${dir}/b.json`, `${dir}/c.json`];
    const matrix = await runTask(SPEC, main, ["--model", "m", ...files, `${dir}/p.json`]);
    assertEquals(matrix.code, 0, matrix.err);
    assert(
      matrix.out.includes("| W/A | rtn | brecq-joint | qdrop | paper (mobilenetv2) |"),
      matrix.out,
    );
    assert(
      matrix.out.includes("| W2A4 | 0.50 | 40.00 (200 it, 1e-2, 1024 calib) | not run |"),
      matrix.out,
    );
    const runs = await runTask(SPEC, main, ["--view", "runs", ...files]);
    assertEquals(runs.code, 0, runs.err);
    assertEquals(runs.out.trim().split("\n").length, 5, runs.out);
    assert(runs.out.includes(`| rtn | W2A4 | 0 | 1 | 256 | 1300 | 78.00 | 0.50 |`), runs.out);
    assert(
      runs.out.includes(
        `| brecq-joint | W2A4 | 200 | 2 | 1024 | 1300 | 78.00 | 40.00 | 39.50 | — | — | 10 | 500 | abc | \`${dir}/c.json\` |`,
      ),
      runs.out,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("table names a missing, empty or corrupt record file and refuses bad flags", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ptq_cli_table_" });
  try {
    await Deno.writeTextFile(`${dir}/empty.json`, "\n");
    await Deno.writeTextFile(`${dir}/bad.jsonl`, '{"model": {"name": "m"}}\n{oops\n');
    await Deno.writeTextFile(`${dir}/other.json`, JSON.stringify({ schema: "x", model: {} }));
    const cases: [string[], number, string][] = [
      [["--model", "m", `${dir}/none.json`], 1, `table: cannot read record file ${dir}/none.json`],
      [["--model", "m", `${dir}/empty.json`], 1, `table: record file ${dir}/empty.json is empty`],
      [["--model", "m", `${dir}/bad.jsonl`], 1, `table: ${dir}/bad.jsonl:2: not a JSON record`],
      [["--model", "m", `${dir}/other.json`], 1, `table: no record of model m in 1 files`],
      [["--view", "runs", `${dir}/other.json`], 1, `table: no run record in 1 files`],
      [[`${dir}/other.json`], 2, "table: missing --model NAME"],
      [["--model", "m"], 2, "table: missing <FILE.json|FILE.jsonl>"],
      [["--view", "grid", "x.json"], 2, 'table: --view: "grid" is not one of matrix, runs'],
      [["--x", "x.json"], 2, "table: unknown flag --x"],
    ];
    for (const [args, code, err] of cases) {
      const r = await runTask(SPEC, main, args);
      assertEquals(r.code, code, `${args}: ${r.err}`);
      assert(r.err.startsWith(err), r.err);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
