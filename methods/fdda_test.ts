import { assert, assertEquals, assertRejects } from "../runtime/assert.ts";
import { Random, type Tensor, upload } from "../runtime/mod.ts";
import { foldBatchNorm } from "../models/fold_bn.ts";
import { evaluate } from "./_quant/eval.ts";
import { cosineAnnealing, drawClass, fdda, fddaSchedule, OFFICIAL_TOTAL_ITERS } from "./fdda.ts";
import { METHODS } from "./mod.ts";
import { bnGraph } from "./_fdda/fixtures.ts";
import { tinyGraph, tinyInputs } from "./testing.ts";

const DEFAULTS = {
  earlyEpochs: 4,
  unfreezeEpochs: 4,
  warmupEpochs: 50,
  genDecayEpochs: [100, 200, 300],
  cosineEpochs: 100,
};

Deno.test("FDDA's paper budget is the official 400 × 200 schedule", () => {
  assertEquals(fddaSchedule({ ...DEFAULTS, iters: OFFICIAL_TOTAL_ITERS }), {
    epochs: 400,
    itersPerEpoch: 200,
    early: 4,
    unfreeze: 4,
    warmup: 50,
    genDecay: [100, 200, 300],
    cosineSteps: 20000,
    evalFrom: 49,
  });
  // Smaller budgets keep the structure in proportion; the student always trains.
  const quick = fddaSchedule({ ...DEFAULTS, iters: 2000 });
  assertEquals([quick.epochs, quick.itersPerEpoch, quick.warmup, quick.evalFrom], [10, 200, 1, 0]);
  const smoke = fddaSchedule({ ...DEFAULTS, iters: 20 });
  assertEquals([smoke.epochs, smoke.itersPerEpoch, smoke.unfreeze, smoke.warmup], [4, 5, 1, 1]);
  // The smoke recipes' 6 iterations: a warm-up epoch, then two student epochs, all evaluated.
  const six = fddaSchedule({ ...DEFAULTS, iters: 6 });
  assertEquals([six.epochs, six.itersPerEpoch, six.early, six.warmup, six.evalFrom], [
    3,
    2,
    0,
    1,
    0,
  ]);
  const one = fddaSchedule({ ...DEFAULTS, iters: 1 });
  assertEquals([one.epochs, one.itersPerEpoch, one.warmup], [2, 1, 1]);
  assertEquals(fdda.calibration, { perClass: 1 });
  assertEquals(METHODS.fdda, fdda);
});

Deno.test("FDDA's student lr is torch's CosineAnnealingLR, periodic past T_max", () => {
  const lr = cosineAnnealing(1e-6, 100);
  assertEquals(lr(0), 1e-6);
  assert(Math.abs(lr(100)) < 1e-20);
  assert(Math.abs(lr(200) - 1e-6) < 1e-18);
  assert(Math.abs(lr(50) - 0.5e-6) < 1e-18);
});

Deno.test("FDDA draws any class early and only correct-set classes after the early epochs", () => {
  const c = { classes: [0, 1, 2, 3], correct: new Set([2]) };
  const r = new Random(0);
  const early = new Set(Array.from({ length: 60 }, () => drawClass(c, 4, 4, true, r)));
  assertEquals([...early].sort(), [0, 1, 2, 3]);
  const late = new Set(Array.from({ length: 30 }, () => drawClass(c, 5, 4, true, r)));
  assertEquals([...late], [2]);
  // Without the rule every class stays eligible.
  const off = new Set(Array.from({ length: 60 }, () => drawClass(c, 9, 4, false, r)));
  assertEquals(off.size, 4);
});

/** A tiny run: 3 classes, 2 images each, evaluation on 12 random images. */
async function tinyRun(seed: number, calib?: Tensor, raw: Record<string, unknown> = {}) {
  const { graph, bn } = foldBatchNorm(bnGraph(0, 3));
  const images = calib ?? new Random(1).randn([6, 1, 8, 8]);
  const evalX = new Random(2).randn([12, 1, 8, 8]);
  const evalY = Array.from({ length: 12 }, (_, i) => i % 3);
  const res = await fdda.run({
    graph,
    bn,
    calib: images,
    calibLabels: [0, 1, 2, 0, 1, 2],
    modelName: "tiny",
    evaluate: (m) => evaluate(m, [{ images: evalX, labels: evalY }]),
  }, { iters: 12, batch: 4, seed, ...raw });
  const acc = await evaluate(res.model, [{ images: evalX, labels: evalY }]);
  const logits = res.model.forward(evalX).dataSync();
  res.model.dispose();
  return { res, acc, logits: Array.from(logits as Float32Array) };
}

Deno.test("FDDA runs end to end on a tiny BN model, seeded, with both selection protocols", async () => {
  const a = await tinyRun(3);
  const s = a.res.selection!;
  assertEquals(s.perEpoch.map((e) => e.epoch), [0, 1, 2, 3]);
  assertEquals(s.testFree.epoch, 3);
  assert(s.official && s.official.top1 === Math.max(...s.perEpoch.map((e) => e.top1)));
  // The returned model is the last epoch's.
  assertEquals(a.acc.top1, s.perEpoch.at(-1)!.top1);
  assertEquals(a.res.config.bnSites, 2);
  assertEquals(a.res.config.recoveredBnTargets, false);
  assertEquals(a.res.config.firstLastBits, 4);
  // Same seed, same model; another seed, another one.
  const b = await tinyRun(3);
  assertEquals(b.logits, a.logits);
  const c = await tinyRun(4);
  assert(c.logits.some((x, i) => x !== a.logits[i]));
});

Deno.test("FDDA runs on a model without BN (recovered targets) with F8L8", async () => {
  const graph = tinyGraph(0);
  const res = await fdda.run({
    graph,
    calib: tinyInputs(10, 1),
    calibLabels: Array.from({ length: 10 }, (_, i) => i),
    modelName: "tiny",
  }, { iters: 8, batch: 4, seed: 1, firstLast8bit: true, wBits: 5, aBits: 5 });
  assertEquals(res.config.recoveredBnTargets, true);
  const bits = [...res.model.weights.values()].map((q) => q.site.bits);
  assertEquals([bits[0], bits.at(-1), bits[1]], [8, 8, 5]);
  // No evaluation hook: no official pick, only the test-free one.
  assertEquals(res.selection!.official, undefined);
  res.model.dispose();
});

Deno.test("A FDDA run that dies fails instead of reporting a number", async () => {
  // Non-finite real images give non-finite centres, hence a non-finite C-BNS (every class
  // eligible without the correct-set rule): the run fails.
  const bad = upload(new Float32Array(6 * 64).fill(NaN), [6, 1, 8, 8]);
  await assertRejects(() => tinyRun(3, bad, { correctSet: false }), Error, "training died");
  const { graph } = foldBatchNorm(bnGraph(0, 3));
  await assertRejects(
    () => fdda.run({ graph, calib: new Random(1).randn([3, 1, 8, 8]), modelName: "t" }, {}),
    Error,
    "labels",
  );
});
