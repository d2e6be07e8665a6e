import { assert, assertEquals } from "../runtime/assert.ts";
import { noGrad, Random, tidy } from "../runtime/mod.ts";
import { loadOnnx } from "../models/mod.ts";
import { METHODS } from "./mod.ts";
import { attentionBlocks, infoNce, splitBatches, SuffixRunner } from "./_evolq/search.ts";
import { blockUnits } from "./_quant/units.ts";

const VIT = new URL("../models/proxy/proxy_vit.onnx", import.meta.url).pathname;
const images = (n: number, seed: number) => new Random(seed).randn([n, 1, 28, 28]);

Deno.test("infoNCE equals a hand computation (τ = 3, times 2τ)", () => {
  // q rows (3,4) and (1,0) normalise to (0.6,0.8) and (1,0); k rows (0,2) and (1,0) to (0,1), (1,0).
  const q = new Float32Array([3, 4, 1, 0]), k = new Float32Array([0, 2, 1, 0]);
  const t = 3;
  // similarities / t: row 0: [0.8, 0.6] / 3, row 1: [0, 1] / 3.
  const ce = (r: number[], i: number) => Math.log(r.reduce((a, x) => a + Math.exp(x), 0)) - r[i];
  const want = ((ce([0.8 / t, 0.6 / t], 0) + ce([0, 1 / t], 1)) / 2) * 2 * t;
  const got = infoNce(q, k, 2, 2, t);
  assert(Math.abs(got - want) < 1e-12, `${got} vs ${want}`);
});

Deno.test("the proxy ViT's attention blocks: qkv and proj of each transformer unit", () => {
  const g = loadOnnx(VIT);
  const blocks = attentionBlocks(g.nodes, blockUnits(g));
  assertEquals(blocks.length, 4);
  assertEquals(blocks[2].layers, ["blocks.2.attn.qkv.matmul", "blocks.2.attn.proj.matmul"]);
});

Deno.test("evolq: the suffix from a block equals the full network, and a seed repeats the search", async () => {
  const g = loadOnnx(VIT);
  const cfg = { wBits: 4, aBits: 8, passes: 1, calibBatch: 16, seed: 3 } as const;
  const run = () =>
    METHODS.evolq.run({ graph: g, calib: images(32, 1), modelName: "proxy_vit" }, cfg);
  const a = await run();
  const x = images(16, 2);
  const full = tidy(() => noGrad(() => Float32Array.from(a.model.forward(x).dataSync())));
  for (const b of attentionBlocks(g.nodes, blockUnits(g))) {
    const batches = splitBatches(x, 16);
    const r = new SuffixRunner(a.model, b.start, batches);
    r.prepare();
    assert(r.suffix.length < g.nodes.length);
    assertEquals(r.logits(0), full, `suffix from ${b.unit.name}`);
    r.dispose();
    batches.forEach((t) => t.dispose());
  }
  const search = a.config.search as { steps: { fitness: number[] }[] };
  assertEquals(search.steps.length, 4);
  assert(search.steps.every((s) => s.fitness.length === 4), "1 + 3 cycles per block");
  const b = await run();
  assertEquals((b.config.search as typeof search).steps, search.steps);
  for (const [name, q] of a.model.weights) {
    assertEquals(q.qparams.scale, b.model.weights.get(name)!.qparams.scale, name);
  }
  a.model.dispose();
  b.model.dispose();
});
