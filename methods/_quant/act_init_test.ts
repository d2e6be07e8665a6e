import { assert, assertEquals } from "../../runtime/assert.ts";
import { tinyGraph, tinyInputs } from "../testing.ts";
import { placeQuantizers } from "./placement.ts";
import { QuantModel } from "./quantized_model.ts";
import { RECON_DEFAULTS, reconstruct } from "./recon.ts";
import { blockUnits } from "./units.ts";

/** Every activation step after a 0-iteration reconstruction at W2A4, by value name. */
async function steps(actInit?: "fp-model"): Promise<Map<string, number>> {
  const g = tinyGraph();
  const model = await QuantModel.create(g, placeQuantizers(g, { wBits: 2, aBits: 4 }), {
    weightObserver: "mse",
    actObserver: "mse",
    p: 2.4,
  });
  const calib = tinyInputs(64, 1);
  await reconstruct(model, calib, blockUnits(g), {
    ...RECON_DEFAULTS,
    iters: 0,
    ...(actInit ? { actInit } : {}),
  });
  const out = new Map<string, number>();
  for (const [v, q] of model.acts) out.set(v, (await q.scale!.data())[0]);
  calib.dispose();
  model.dispose();
  return out;
}

Deno.test("QDrop's activation init observes the FP model at once; the default observes each unit's quantized input", async () => {
  const unit = await steps();
  const fp = await steps("fp-model");
  const again = await steps("fp-model");
  assertEquals([...fp], [...again], "deterministic");
  const names = [...unit.keys()];
  assert(names.length > 1);
  // Per unit, a quantizer sees its unit's 2-bit weights' outputs; on the FP model, float ones.
  assert(names.some((v) => Math.abs(unit.get(v)! - fp.get(v)!) > 1e-4 * fp.get(v)!));
  assert(names.every((v) => fp.get(v)! > 0));
});
