import { assert, assertEquals } from "../runtime/assert.ts";
import { argmax, noGrad, tidy } from "../runtime/mod.ts";
import * as ort from "onnxruntime-node";
import { compare } from "../models/testing.ts";
import { toQdqOnnx } from "./_quant/qdq.ts";
import { tinyGraph, tinyInputs } from "./testing.ts";
import { METHODS } from "./mod.ts";

/** Runs a method on the tiny graph and checks its QDQ export against the simulated model. */
async function exportAgrees(id: "multipoint" | "mixed-precision" | "ocs", config: object) {
  const r = await METHODS[id].run(
    { graph: tinyGraph(), calib: tinyInputs(64, 1), modelName: "tiny" },
    config as never,
  );
  const x = tinyInputs(16, 9);
  const [sim, am] = tidy(() =>
    noGrad(() => {
      const y = r.model.forward(x);
      return [Float32Array.from(y.dataSync()), Array.from(argmax(y, 1).dataSync())];
    })
  );
  const qdq = await toQdqOnnx(r.model);
  for (const level of ["disabled", "all"] as const) {
    const session = await ort.InferenceSession.create(qdq, {
      intraOpNumThreads: 1,
      graphOptimizationLevel: level,
    });
    const out = await session.run({
      input: new ort.Tensor("float32", x.dataSync() as Float32Array, [...x.shape]),
    });
    await session.release();
    const o = { logits: { data: out.logits.data as Float32Array } };
    const c = compare(o.logits.data, sim);
    assert(c.rel < 1e-4, `${id} ${JSON.stringify(config)} (${level}): ${JSON.stringify(c)}`);
    for (let i = 0; i < 16; i++) {
      const row = o.logits.data.subarray(i * 10, (i + 1) * 10);
      assertEquals(row.indexOf(Math.max(...row)), am[i], `${id} (${level}): argmax at ${i}`);
    }
  }
  r.model.dispose();
  return r;
}

Deno.test("multipoint: exported QDQ (a sum of DequantizeLinear points) agrees with the simulated model", async () => {
  for (const aBits of [32, 8]) {
    const r = await exportAgrees("multipoint", { wBits: 3, aBits, overhead: 0.5 });
    const cfg = r.config as { bitsPerWeight: number; budgetBits: number };
    assert(cfg.bitsPerWeight <= cfg.budgetBits + 1e-9, JSON.stringify(cfg));
    assert(cfg.bitsPerWeight > 3, "some channels got a second point");
    // Every budgeted layer's output error falls below the plain single-point quantizer's.
    for (const u of r.units) assert(u.lossAfter <= u.lossBefore + 1e-12, JSON.stringify(u));
    assert(r.units.some((u) => u.lossAfter < u.lossBefore));
  }
});

Deno.test("mixed precision and OCS export and agree at equal memory", async () => {
  for (const id of ["mixed-precision", "ocs"] as const) {
    for (const aBits of [32, 8]) {
      const r = await exportAgrees(id, { wBits: 3, aBits, overhead: 0.5 });
      const cfg = r.config as { bitsPerWeight: number; budgetBits: number };
      assert(cfg.bitsPerWeight <= cfg.budgetBits + 1e-9, `${id}: ${JSON.stringify(cfg)}`);
    }
  }
});
