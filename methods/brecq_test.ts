import { assert, assertEquals } from "../runtime/assert.ts";
import { noGrad, tidy, upload } from "../runtime/mod.ts";
import type { Graph } from "../models/graph.ts";
import { ActivationObserver, shrinkSearch, weightQParams } from "./_quant/observers.ts";
import { placeQuantizers } from "./_quant/placement.ts";
import { QuantModel } from "./_quant/quantized_model.ts";
import {
  initActQuantizers,
  RECON_DEFAULTS,
  reconLoss,
  type ReconOptions,
  reconstruct,
} from "./_quant/recon.ts";
import { blockUnits } from "./_quant/units.ts";
import type { MethodResult } from "./_quant/config.ts";
import { methodConfigFromRecipe, METHODS } from "./mod.ts";
import { tinyGraph, tinyInputs } from "./testing.ts";

/**
 * 1,000 copies each of 0, 1, 2, 3 and one outlier 4. At 2 bits the factor 0.75 (i = 25) puts the
 * grid on the integers: only the outlier is off, clipped to 3 (|4 − 3|^2.4 = 1). Any wider range
 * (i < 25) moves every level k by k·(4·f − 3)/3 (at i = 24: 1000·Σ_k (k·0.04/3)^2.4 + 0.96^2.4
 * ≈ 1.55); any narrower one clips the outlier by more than 1 (at i = 26: 1.04^2.4 ≈ 1.10) and
 * moves the levels as well.
 */
function outlierTensor(): Float32Array {
  const x = new Float32Array(4001);
  for (let i = 0; i < 4000; i++) x[i] = i % 4;
  x[4000] = 4;
  return x;
}
const TWO_BITS = { bits: 2, symmetric: false };

Deno.test("brecq's 80-range init picks the shrink factor 0.75 on a tensor with one outlier", () => {
  const x = outlierTensor();
  const r = shrinkSearch(Float64Array.from(x).sort(), null, TWO_BITS);
  assertEquals([r.scale, r.zeroPoint], [1, 0]);
  assert(Math.abs(r.score - 1) < 1e-6, `score ${r.score}`);
  // Per channel, each on its own range: the mirrored channel gets the mirrored grid [−3, 0].
  const qp = weightQParams(Float32Array.from([...x, ...x.map((v) => -v)]), 2, TWO_BITS, "shrink");
  assertEquals([...qp.scale, ...qp.zeroPoint], [1, 1, 0, 3]);
  // Without the outlier the full range is exact and, on ties, the widest range wins.
  const exact = shrinkSearch(Float64Array.from([0, 1, 2, 3]), null, TWO_BITS);
  assertEquals([exact.scale, exact.zeroPoint, exact.score], [1, 0, 0]);
  // The activation observer searches the same ranges on a histogram of the values.
  const obs = new ActivationObserver(TWO_BITS, { kind: "shrink" });
  obs.observe([x]);
  const aq = obs.qparams();
  assert(Math.abs(aq.scale[0] - 1) < 1e-6 && aq.zeroPoint[0] === 0, `${aq.scale} ${aq.zeroPoint}`);
});

Deno.test("the reconstruction loss takes BRECQ's exponent: |ŷ − y|^p summed over channels", () => {
  const [pred, tgt] = [
    upload(Float32Array.from([1, -2]), [1, 2]),
    upload(new Float32Array(2), [1, 2]),
  ];
  const at = (p?: number) =>
    tidy(() => noGrad(() => reconLoss(pred, tgt, "official", p)).dataSync()[0]);
  assertEquals(at(), 5);
  assert(Math.abs(at(2.4) - (1 + 2 ** 2.4)) < 1e-5, `${at(2.4)}`);
});

Deno.test("headStemActs brecq: 8-bit stem output and second-to-last layer output, as set_first_last_layer_to_8bit", () => {
  const bits = (g: Graph, headStemActs?: "brecq") =>
    placeQuantizers(g, { wBits: 4, aBits: 4, headStemActs }).acts.map((a) =>
      `${a.value}:${a.bits}:${a.role}`
    );
  assertEquals(bits(tinyGraph(), "brecq"), [
    "r1.y:8:stem",
    "r2.y:4:layer",
    "r3.y:4:residual",
    "r4.y:4:layer",
    "r5.y:4:layer",
    "c6.y:8:head",
  ]);
  // A ResNet-like end: the second-to-last layer closes a residual branch and has no output
  // quantizer of its own, so the classifier input keeps 4 bits (the default makes it 8).
  const g = tinyGraph();
  const body = new Set(["c1", "r1", "c2", "r2", "c3", "add", "r3"]);
  const resnet: Graph = {
    ...g,
    nodes: [
      ...g.nodes.filter((n) => body.has(n.name)),
      ...g.nodes.filter((n) => ["gap", "flat", "fc"].includes(n.name))
        .map((n) => (n.name === "gap" ? { ...n, inputs: ["r3.y"] } : n)),
    ],
  };
  assertEquals(bits(resnet, "brecq"), ["r1.y:8:stem", "r2.y:4:layer", "r3.y:4:residual"]);
  assertEquals(bits(resnet), ["r1.y:4:layer", "r2.y:4:layer", "r3.y:8:head"]);
});

/** A tiny model with BRECQ's placement and its stage options. */
async function tinyBrecq() {
  const g = tinyGraph();
  const model = await QuantModel.create(
    g,
    placeQuantizers(g, { wBits: 4, aBits: 4, headStemActs: "brecq" }),
    { weightObserver: "minmax", actObserver: "shrink" },
  );
  const base: ReconOptions = {
    ...RECON_DEFAULTS,
    iters: 30,
    evalSamples: 32,
    skipUnits: ["layer0"],
  };
  return {
    model,
    images: tinyInputs(64, 1),
    units: blockUnits(g),
    weights: { ...base, stage: "weights", lsq: false, weightLr: 0.05 } satisfies ReconOptions,
    acts: {
      ...base,
      stage: "acts",
      adaround: false,
      actLr: 0.01,
      lossP: 2.4,
      inputMixProb: 0,
    } satisfies ReconOptions,
  };
}

const host = (t: { dataSync(): ArrayLike<number> } | null) => Array.from(t!.dataSync());

Deno.test("brecq's weight stage leaves activations unquantized and changes only the rounding", async () => {
  const { model, images, units, weights } = await tinyBrecq();
  const grids = [...model.weights.values()].map((
    q,
  ) => [...q.qparams.scale, ...q.qparams.zeroPoint]);
  await reconstruct(model, images, units, weights);
  for (const q of model.acts.values()) {
    assert(!q.inited && !q.enabled && q.scale === null, `${q.site.value} was quantized`);
  }
  let flipped = 0;
  for (const [i, q] of [...model.weights.values()].entries()) {
    assertEquals([...q.qparams.scale, ...q.qparams.zeroPoint], grids[i], `${q.site.node} grid`);
    const w = host(model.graph.initializers.get(q.site.weight)!), f = host(q.frozen);
    const inner = f.length / q.site.channels;
    for (let k = 0; k < w.length; k++) {
      const c = Math.floor(k / inner), s = q.qparams.scale[c], z = q.qparams.zeroPoint[c];
      const clamp = (v: number) => Math.min(Math.max(v + z, q.qmin), q.qmax) - z;
      const got = Math.round(f[k] / s), down = clamp(Math.floor(w[k] / s));
      assert(got === down || got === clamp(Math.floor(w[k] / s) + 1), `${q.site.node}[${k}]`);
      if (got !== clamp(Math.round(w[k] / s))) {
        assertEquals(q.site.role === "first", false, "the stem is not reconstructed");
        flipped++;
      }
    }
  }
  assert(flipped > 0, "no weight left its nearest rounding");
});

Deno.test("brecq's activation stage changes only the activation steps", async () => {
  const { model, images, units, weights, acts } = await tinyBrecq();
  await reconstruct(model, images, units, weights);
  model.setQuantState(true, false);
  await initActQuantizers(model, model.graph.nodes, [...model.acts.values()], { input: images }, {
    ...acts,
    actInitSamples: 64,
    actInitBatch: 64,
  });
  const frozen = [...model.weights.values()].map((q) => host(q.frozen));
  const before = new Map([...model.acts].map(([k, q]) => [k, [host(q.scale)[0], q.zeroPoint]]));
  await reconstruct(model, images, units, acts);
  assertEquals([...model.weights.values()].map((q) => host(q.frozen)), frozen);
  let moved = 0;
  for (const [k, q] of model.acts) {
    const [scale, zp] = before.get(k)!;
    assertEquals(q.zeroPoint, zp, k);
    if (host(q.scale)[0] !== scale) moved++;
    if (q.site.role === "stem") {
      assertEquals(host(q.scale)[0], scale, "the stem is not reconstructed");
    }
  }
  assert(moved >= 3, `${moved} steps moved`);
});

const run = (id: "brecq" | "brecq-joint", cfg: Record<string, unknown>) =>
  (METHODS[id].run as (c: unknown, r: unknown) => Promise<MethodResult>)(
    { graph: tinyGraph(), calib: tinyInputs(64, 1), modelName: "tiny" },
    cfg,
  );

Deno.test("brecq learns the rounding with float activations, then the steps alone (not jointly)", async () => {
  const r = await run("brecq", { wBits: 4, aBits: 4, iters: 40 });
  assertEquals(r.units.map((u) => [u.name, u.iters]), [
    ["layer0", 0],
    ["residual0", 40],
    ["inverted-residual0", 40],
    ["layer1", 40],
    ["layer0:acts", 0],
    ["residual0:acts", 10],
    ["inverted-residual0:acts", 10],
    ["layer1:acts", 0],
  ]);
  const recon = r.config.recon as ReconOptions, act = r.config.actRecon as ReconOptions;
  assertEquals([recon.stage, recon.lsq, recon.lossP, recon.weightLr], [
    "weights",
    false,
    undefined,
    1e-3,
  ]);
  assertEquals([
    act.stage,
    act.adaround,
    act.actLr,
    act.lossP,
    act.inputMixProb,
    act.actInitSamples,
  ], [
    "acts",
    false,
    4e-4,
    2.4,
    0,
    64,
  ]);
  // The rounding does not depend on the activation bits: activations are float while it is
  // learned. The joint variant learns it with quantized activations, so its rounding does.
  const frozen = (m: MethodResult) => [...m.model.weights.values()].map((q) => host(q.frozen));
  const w32 = await run("brecq", { wBits: 4, aBits: 32, iters: 40 });
  assertEquals(frozen(w32), frozen(r));
  const [j4, j32] = [
    await run("brecq-joint", { wBits: 4, aBits: 4, iters: 40 }),
    await run("brecq-joint", { wBits: 4, aBits: 32, iters: 40 }),
  ];
  assert(JSON.stringify(frozen(j4)) !== JSON.stringify(frozen(j32)));
});

Deno.test("brecq's recipe keys: the papers' BRECQ keys are accepted, the joint variant's lrs are not applied", () => {
  const recipe = {
    prob: 1,
    input_prob: 1,
    weight: 0.1,
    adaround_lr: 3e-3,
    act_lr: 4e-5,
    act_lr_schedule: "cosine",
    weight_init: "mse",
    act_observer: "ema_mse",
  };
  assertEquals(methodConfigFromRecipe(METHODS.brecq, recipe, 7), {
    seed: 7,
    lambda: 0.1,
    weightObserver: "shrink",
    actObserver: "shrink",
  });
  assertEquals(methodConfigFromRecipe(METHODS.brecq, { iters_a: 5000, lr: 4e-4, p: 2.4 }, 7), {
    seed: 7,
    actIters: 5000,
    actLr: 4e-4,
    actLossP: 2.4,
  });
  assertEquals(methodConfigFromRecipe(METHODS["brecq-joint"], recipe, 7), {
    seed: 7,
    lambda: 0.1,
    weightLr: 3e-3,
    actLr: 4e-5,
    weightObserver: "mse",
    actObserver: "mse",
  });
  const c = METHODS.brecq.config.parse({});
  assertEquals([c.iters, c.actIters, c.actLr, c.actLossP, c.weightLr, c.weightObserver], [
    20000,
    undefined,
    4e-4,
    2.4,
    1e-3,
    "shrink",
  ]);
});

class Killed extends Error {}

Deno.test("brecq killed in its activation stage resumes from the checkpoints, bit-identical", async () => {
  const dir = await Deno.makeTempDir();
  const checkpoints = () => [...Deno.readDirSync(dir)].filter((f) => f.name.endsWith(".json"));
  const withCtx = (ctx: Record<string, unknown>, cfg: Record<string, unknown>) =>
    (METHODS.brecq.run as (c: unknown, r: unknown) => Promise<MethodResult>)(
      { graph: tinyGraph(), calib: tinyInputs(64, 1), modelName: "tiny", ...ctx },
      cfg,
    );
  const outputs = (m: MethodResult) =>
    tidy(() => noGrad(() => Array.from(m.model.forward(tinyInputs(64, 1)).dataSync())));
  try {
    const cfg = { wBits: 4, aBits: 4, iters: 8, seed: 3 };
    const whole = await withCtx({}, cfg);
    const checkpoint = { dir, key: "brecq|tiny|test" };
    let inActs = false;
    const killed = await withCtx({
      checkpoint,
      log: (m: string) => {
        inActs ||= m.startsWith("BRECQ stage 2");
        if (inActs && m.startsWith("unit 3/")) throw new Killed();
      },
    }, cfg).then(() => false, (e) => e instanceof Killed);
    assert(killed, "the first attempt stops in the activation stage");
    assertEquals(checkpoints().length, 2, "one checkpoint per stage");
    const logs: string[] = [];
    const resumed = await withCtx({ checkpoint, log: (m: string) => logs.push(m) }, cfg);
    assert(
      !logs.some((m) => / iter /.test(m) && !m.includes("inverted-residual0")),
      logs.join("\n"),
    );
    assertEquals(outputs(resumed), outputs(whole));
    assertEquals(resumed.units.map((u) => u.lossAfter), whole.units.map((u) => u.lossAfter));
    // The weight stage's checkpoint is gone; the run's own is the caller's to remove.
    assertEquals(checkpoints().length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
