import { assert } from "../runtime/assert.ts";
import { argmax, noGrad, tidy } from "../runtime/mod.ts";
import { compare, ortRun } from "../models/testing.ts";
import { toQdqOnnx } from "./_quant/qdq.ts";
import { tinyGraph, tinyInputs } from "./testing.ts";
import { METHODS } from "./mod.ts";

Deno.test("QDQ export runs in onnxruntime and matches the simulated model", async () => {
  for (const [w, a] of [[4, 4], [8, 8], [3, 32]]) {
    const r = await METHODS.brecq.run(
      { graph: tinyGraph(), calib: tinyInputs(64, 1), modelName: "tiny" },
      { wBits: w, aBits: a as 4, iters: 5 },
    );
    const x = tinyInputs(16, 9);
    const [sim, am] = tidy(() =>
      noGrad(() => {
        const y = r.model.forward(x);
        return [Float32Array.from(y.dataSync()), Array.from(argmax(y, 1).dataSync())];
      })
    );
    const o = await ortRun(await toQdqOnnx(r.model), {
      input: { data: x.dataSync() as Float32Array, shape: x.shape },
    });
    const c = compare(o.logits.data, sim);
    assert(c.rel < 1e-4, `W${w}A${a}: ${JSON.stringify(c)}`);
    const n = 16, k = 10;
    for (let i = 0; i < n; i++) {
      const row = o.logits.data.subarray(i * k, (i + 1) * k);
      assert(row.indexOf(Math.max(...row)) === am[i], `argmax differs at ${i}`);
    }
  }
});
