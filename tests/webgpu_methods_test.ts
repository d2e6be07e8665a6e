/**
 * Methods on the webgpu backend (`--backend webgpu`): the same run as on cpu, within float
 * tolerance, and the QDQ export reads its tensors back from the GPU. Skipped (ignored) where no
 * WebGPU adapter exists.
 *
 * @module
 */
import { assert } from "../runtime/assert.ts";
import { cpu, getBackend, noGrad, setBackend, tidy } from "../runtime/mod.ts";
import { backendByName } from "../runtime/select.ts";
import { tinyGraph, tinyInputs } from "../methods/testing.ts";
import { METHODS } from "../methods/mod.ts";
import { toQdqOnnx } from "../methods/mod.ts";
import type { MethodResult } from "../methods/mod.ts";

const gpu = await backendByName("webgpu").catch(() => null);
const opts = { ignore: !gpu, sanitizeResources: false, sanitizeOps: false };

/** Runs method `id` on the tiny graph with every tensor on the current default backend. */
async function runOn(id: "qdrop" | "pdquant", cfg: Record<string, unknown>) {
  const ctx = { graph: tinyGraph(), calib: tinyInputs(64, 1), modelName: "tiny" };
  const r = await (METHODS[id].run as (c: unknown, r: unknown) => Promise<MethodResult>)(ctx, cfg);
  const x = tinyInputs(16, 2);
  const y = tidy(() => noGrad(() => r.model.forward(x)));
  const logits = await y.data() as Float32Array;
  const backend = y.backend.name;
  y.dispose();
  const onnx = await toQdqOnnx(r.model);
  return { r, logits, backend, onnx };
}

for (const id of ["qdrop", "pdquant"] as const) {
  Deno.test({
    name: `${id} on webgpu gives cpu's unit losses and outputs, and exports QDQ`,
    ...opts,
    fn: async () => {
      const cfg = { wBits: 4, aBits: 4, iters: 4, seed: 7 };
      const c = await runOn(id, cfg);
      setBackend(gpu!);
      let g;
      try {
        g = await runOn(id, cfg);
      } finally {
        setBackend(cpu);
      }
      assert(g.backend === "webgpu" && c.backend === "cpu", `${g.backend} / ${c.backend}`);
      assert(getBackend() === cpu);
      for (const [i, u] of c.r.units.entries()) {
        const v = g.r.units[i];
        for (const k of ["lossBefore", "lossAfter"] as const) {
          const rel = Math.abs(u[k] - v[k]) / Math.max(Math.abs(u[k]), 1e-6);
          assert(rel < 2e-2, `${id} ${u.name} ${k}: cpu ${u[k]} webgpu ${v[k]}`);
        }
      }
      let num = 0, den = 0;
      for (let i = 0; i < c.logits.length; i++) {
        num += (c.logits[i] - g.logits[i]) ** 2;
        den += c.logits[i] ** 2;
      }
      assert(num / den < 1e-3, `${id}: relative squared difference of outputs ${num / den}`);
      assert(g.onnx.byteLength > 1000 && g.onnx.byteLength === c.onnx.byteLength, "QDQ export");
    },
  });
}
