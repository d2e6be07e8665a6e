/**
 * CI regression: a smoke-budget proxy run of PD-Quant, of its QDrop baseline and of FDDA
 * (ResNet proxy, W4A4), compared with the committed golden records
 * (tests/fixtures/golden_smoke.jsonl) within stated tolerances: top-1, the calibration sample,
 * each unit's reconstruction loss, and for FDDA the accuracy after each evaluated epoch and both
 * selection protocols' picks.
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
const CELLS: [string, string[]][] = [
  ["pdquant", ["pdquant/resnet18/w4a4/pdquant", "pdquant/resnet18/w4a4/qdrop"]],
  ["fdda", ["fdda/resnet18/w4a4/fdda"]],
];
/** Top-1 tolerance (pt) on the 500-image strided test subset. */
const TOP1_TOL = 1.0;
/** Relative tolerance of each unit's final reconstruction loss. */
const LOSS_TOL = 0.05;

async function runGoldenCells(): Promise<ResultRecord[]> {
  const out: ResultRecord[] = [];
  for (const [paper, cells] of CELLS) {
    // A cell filter matches by substring: keep only the cells named.
    const { runs } = planPaper(paper, ["proxy"], "smoke", cells, 1);
    for (const run of runs.filter((r) => cells.includes(r.cell))) {
      out.push(await executeRun(run, { paths: {}, backend: "cpu", log: () => {} }));
    }
  }
  return out;
}

Deno.test({
  name: "smoke reproduction of PD-Quant, QDrop and FDDA on proxy_resnet matches the golden records",
  ignore: !haveProxyResnet(),
  async fn() {
    const golden = parseRecords(await Deno.readTextFile(GOLDEN), GOLDEN.pathname).records;
    const now = await runGoldenCells();
    if (now.length !== golden.length) {
      throw new Error(`expected ${golden.length} runs, got ${now.length}`);
    }
    for (const g of golden) {
      const r = now.find((x) =>
        x.paper === g.paper && x.method === g.method && x.bits.w === g.bits.w &&
        x.bits.a === g.bits.a
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
      if (g.selection) {
        const gs = g.selection, rs = r.selection;
        if (!rs) throw new Error(`${g.method}: no selection recorded`);
        const ge = gs.per_epoch.map((e) => e.epoch), re = rs.per_epoch.map((e) => e.epoch);
        if (ge.join() !== re.join()) {
          throw new Error(`${g.method}: evaluated epochs ${re} vs golden ${ge}`);
        }
        gs.per_epoch.forEach((e, i) => {
          const d = Math.abs(rs.per_epoch[i].top1! - e.top1!);
          if (d > TOP1_TOL) {
            throw new Error(
              `${g.method}: epoch ${e.epoch} top-1 ${rs.per_epoch[i].top1} vs golden ${e.top1}`,
            );
          }
        });
        if (rs.test_free.epoch !== gs.test_free.epoch || !rs.official !== !gs.official) {
          throw new Error(`${g.method}: selection protocols changed`);
        }
        // At the smoke budget the W4A4 student may sit at chance: the last generator and student
        // losses are the finer check.
        const lossOf = (x: ResultRecord) =>
          (x.config.method as { finalLoss?: Record<string, number | null> }).finalLoss ?? {};
        const gLoss = lossOf(g), rLoss = lossOf(r);
        for (const [k, v] of Object.entries(gLoss)) {
          const now = rLoss[k];
          if (v === null || now === null || now === undefined) {
            if (v !== (now ?? null)) {
              throw new Error(`${g.method}: ${k} loss ${now} vs golden ${v}`);
            }
            continue;
          }
          if (Math.abs(now - v) / Math.max(Math.abs(v), 1e-6) > LOSS_TOL) {
            throw new Error(`${g.method}: final ${k} loss ${now} vs golden ${v}`);
          }
        }
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
