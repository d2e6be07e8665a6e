import { assert, assertEquals } from "../runtime/assert.ts";
import { noGrad, Random, tidy } from "../runtime/mod.ts";
import { loadOnnx } from "../models/mod.ts";
import { compare, ortRun } from "../models/testing.ts";
import { toQdqOnnx } from "./_quant/qdq.ts";
import { placeQuantizers } from "./_quant/placement.ts";
import { METHODS } from "./mod.ts";

const VIT = new URL("../models/proxy/proxy_vit.onnx", import.meta.url).pathname;
const images = (n: number, seed: number) => new Random(seed).randn([n, 1, 28, 28]);

Deno.test("transformer placement: operands of every MatMul/Gemm, the patch conv's output", () => {
  const p = placeQuantizers(loadOnnx(VIT), { wBits: 4, aBits: 8, headStem8bit: false });
  assertEquals(p.weights.length, 18);
  assert(p.weights.filter((w) => w.node.includes("qkv")).every((w) => w.axis === 1));
  const b0 = p.acts.filter((a) => a.value.startsWith("blocks.0.")).map((a) => a.value);
  assertEquals(b0, [
    "blocks.0.norm1.out",
    "blocks.0.attn.v.out",
    "blocks.0.attn.scale_q.out",
    "blocks.0.attn.transpose_k.out",
    "blocks.0.attn.softmax.out",
    "blocks.0.attn.merge_reshape.out",
    "blocks.0.norm2.out",
    "blocks.0.mlp.gelu.half.out",
  ]);
  assertEquals(p.acts.length, 1 + 4 * 8 + 1);
  assertEquals(p.acts[0].value, "patch_embed.proj.out");
  assertEquals(p.acts.at(-1)!.value, "cls.select.out");
});

Deno.test("rtn and evolq on the proxy ViT export QDQ graphs that onnxruntime runs as simulated", async () => {
  const g = loadOnnx(VIT);
  const x = images(16, 9);
  for (const [id, w] of [["rtn", 4], ["evolq", 3], ["rtn", 8]] as const) {
    const cfg = id === "evolq"
      ? { wBits: w, aBits: 8, passes: 1, calibBatch: 32, cycles: 1 }
      : { wBits: w, aBits: 8 as const };
    const r = await METHODS[id].run(
      { graph: g, calib: images(64, 1), modelName: "proxy_vit" },
      cfg,
    );
    const sim = tidy(() => noGrad(() => Float32Array.from(r.model.forward(x).dataSync())));
    const o = await ortRun(await toQdqOnnx(r.model), {
      input: { data: x.dataSync() as Float32Array, shape: x.shape },
    });
    const c = compare(o.logits.data, sim);
    assert(c.rel < 1e-4, `${id} W${w}A8: ${JSON.stringify(c)}`);
    r.model.dispose();
  }
});
