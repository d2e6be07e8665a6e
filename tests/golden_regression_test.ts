/**
 * CI regression: a smoke-budget proxy run of PD-Quant and of its QDrop baseline, compared with
 * the committed golden records (tests/fixtures/golden_smoke.jsonl) within stated tolerances.
 *
 * Regenerate the goldens after an intended change with
 * `deno run -A tests/golden_regression_test.ts --update` and say why in the commit.
 *
 * @module
 */
import { executeRun, parseRecords, planPaper, type ResultRecord } from "../papers/mod.ts";

/** Whether the committed ResNet proxy model is present (the test skips without it). */
function haveProxyResnet(): boolean {
  try {
    return Deno.statSync(new URL("../models/proxy/proxy_resnet.onnx", import.meta.url)).isFile;
  } catch {
    return false;
  }
}

const GOLDEN = new URL("./fixtures/golden_smoke.jsonl", import.meta.url);
const CELLS = ["pdquant/resnet18/w4a4/pdquant", "pdquant/resnet18/w4a4/qdrop"];
/** Top-1 tolerance (pt) on the 500-image strided test subset. */
const TOP1_TOL = 1.0;
/** Relative tolerance of each unit's final reconstruction loss. */
const LOSS_TOL = 0.05;

async function runGoldenCells(): Promise<ResultRecord[]> {
  const { runs } = planPaper("pdquant", ["proxy"], "smoke", CELLS, 1);
  const out: ResultRecord[] = [];
  for (const run of runs) {
    out.push(await executeRun(run, { paths: {}, backend: "cpu", log: () => {} }));
  }
  return out;
}

Deno.test({
  name: "smoke reproduction of PD-Quant and QDrop on proxy_resnet matches the golden records",
  ignore: !haveProxyResnet(),
  async fn() {
    const golden = parseRecords(await Deno.readTextFile(GOLDEN), GOLDEN.pathname).records;
    const now = await runGoldenCells();
    if (now.length !== golden.length) {
      throw new Error(`expected ${golden.length} runs, got ${now.length}`);
    }
    for (const g of golden) {
      const r = now.find((x) =>
        x.method === g.method && x.bits.w === g.bits.w && x.bits.a === g.bits.a
      );
      if (!r) throw new Error(`no run for ${g.method}`);
      const d = Math.abs(r.metrics.top1! - g.metrics.top1!);
      if (d > TOP1_TOL) {
        throw new Error(
          `${g.method}: top-1 ${r.metrics.top1} vs golden ${g.metrics.top1} (|Δ| ${d} > ${TOP1_TOL})`,
        );
      }
      if (Math.abs(r.exported!.top1! - r.metrics.top1!) > 0.1) {
        throw new Error(
          `${g.method}: exported QDQ top-1 ${r.exported!.top1} != simulated ${r.metrics.top1}`,
        );
      }
      if (r.calibration.hash !== g.calibration.hash) {
        throw new Error(`${g.method}: calibration sample changed (${r.calibration.hash})`);
      }
      const gl = g.metrics.unit_losses ?? [], rl = r.metrics.unit_losses ?? [];
      if (gl.length !== rl.length) {
        throw new Error(`${g.method}: ${rl.length} units vs ${gl.length}`);
      }
      gl.forEach((u, i) => {
        const rel = Math.abs(rl[i].loss - u.loss) / Math.max(u.loss, 1e-6);
        if (rel > LOSS_TOL) {
          throw new Error(`${g.method}: unit ${u.unit} loss ${rl[i].loss} vs golden ${u.loss}`);
        }
      });
    }
  },
});

if (import.meta.main && Deno.args.includes("--update")) {
  const recs = await runGoldenCells();
  await Deno.writeTextFile(GOLDEN, recs.map((r) => JSON.stringify(r)).join("\n") + "\n");
  console.log(`wrote ${recs.length} golden records to ${GOLDEN.pathname}`);
}
