import { noGrad, Random, upload } from "../../runtime/mod.ts";
import { execute } from "../execute.ts";
import { toOnnx } from "../export.ts";
import { loadOnnx } from "../onnx.ts";
import { assert, assertEquals } from "../../runtime/assert.ts";
import { compare, ortRun } from "../testing.ts";
import { buildProxy, countParams, makeDivisible, PROXY_NAMES } from "./architectures.ts";

/** Gives every BatchNorm non-trivial running statistics so the inference path is exercised. */
function randomizeRunningStats(g: ReturnType<typeof buildProxy>, seed: number): void {
  const r = new Random(seed);
  for (const [name, t] of g.initializers) {
    if (name.endsWith("running_mean")) t.assign(upload(r.normalArray(t.size, 0, 0.2), t.shape));
    if (name.endsWith("running_var")) t.assign(upload(r.uniformArray(t.size, 0.5, 1.5), t.shape));
  }
}

for (const name of PROXY_NAMES) {
  Deno.test(`${name} runs through execute and its ONNX export matches onnxruntime`, async () => {
    const g = buildProxy(name, 3);
    randomizeRunningStats(g, 4);
    const x = new Random(5).randn([3, 1, 28, 28]);
    const { logits } = noGrad(() => execute(g, { feeds: { input: x } }));
    assertEquals(logits.shape, [3, 10]);
    const bytes = toOnnx(g);
    assert(bytes.length < 1.5e6, `${name}: ${bytes.length} bytes`);
    const feed = { data: Float32Array.from(x.dataSync()), shape: x.shape };
    const out = await ortRun(bytes, { input: feed });
    assertEquals(out.logits.shape, [3, 10]);
    const c = compare(logits.dataSync(), out.logits.data);
    assert(c.rel < 1e-4, `${name}: execute vs onnxruntime rel ${c.rel} (max abs ${c.maxAbs})`);
    // The exported file loads back into the same graph. (A plain Uint8Array copy: toOnnx hands
    // back a protobufjs Buffer, whose views `loadOnnx` currently misreads.)
    const back = loadOnnx(new Uint8Array(bytes), { name });
    const again = noGrad(() => execute(back, { feeds: { input: x } })).logits;
    const c2 = compare(again.dataSync(), logits.dataSync());
    assert(c2.rel < 1e-6, `${name}: reloaded graph differs, rel ${c2.rel}`);
  });
}

Deno.test("proxy builders are seeded: the same seed gives the same weights, another differs", () => {
  const a = buildProxy("proxy_mbv2_w05", 7), b = buildProxy("proxy_mbv2_w05", 7);
  const c = buildProxy("proxy_mbv2_w05", 8);
  let same = true, differ = false;
  for (const [k, t] of a.initializers) {
    const u = b.initializers.get(k)!.dataSync(), v = c.initializers.get(k)!.dataSync();
    const w = t.dataSync();
    for (let i = 0; i < w.length; i++) {
      if (w[i] !== u[i]) same = false;
      if (w[i] !== v[i]) differ = true;
    }
  }
  assert(same, "same seed, different weights");
  assert(differ, "different seeds, same weights");
});

Deno.test("proxy models have the documented structure and sizes", () => {
  const counts = Object.fromEntries(PROXY_NAMES.map((n) => [n, countParams(buildProxy(n, 0))]));
  assert(
    counts.proxy_resnet > 100_000 && counts.proxy_resnet < 300_000,
    `resnet ${counts.proxy_resnet}`,
  );
  assert(
    counts.proxy_mbv2_w05 < counts.proxy_mbv2 / 2,
    `mbv2 ${counts.proxy_mbv2}, w05 ${counts.proxy_mbv2_w05}`,
  );
  assert(counts.proxy_vit > 100_000 && counts.proxy_vit < 300_000, `vit ${counts.proxy_vit}`);
  const ops = (n: (typeof PROXY_NAMES)[number]) => buildProxy(n, 0).nodes.map((x) => x.opType);
  const resnet = ops("proxy_resnet");
  assertEquals(resnet.filter((o) => o === "Add").length, 6);
  assertEquals(resnet.filter((o) => o === "Conv").length, 1 + 12 + 2);
  const mbv2 = buildProxy("proxy_mbv2", 0);
  assert(
    mbv2.nodes.some((n) => n.opType === "Conv" && (n.attrs.group as number) > 1),
    "no depthwise conv",
  );
  assertEquals(mbv2.nodes.filter((n) => n.opType === "Add").length, 3);
  // stem and last conv, one in the t = 1 block, two in each of the seven t = 6 blocks
  assertEquals(mbv2.nodes.filter((n) => n.opType === "Clip").length, 2 + 1 + 2 * 7);
  const vit = ops("proxy_vit");
  for (
    const op of ["LayerNormalization", "Softmax", "Erf", "MatMul", "Concat", "Gather", "Expand"]
  ) {
    assert(vit.includes(op), `ViT lacks ${op}`);
  }
  assertEquals(vit.filter((o) => o === "Softmax").length, 4);
  assertEquals([makeDivisible(8), makeDivisible(12), makeDivisible(4), makeDivisible(6)], [
    8,
    12,
    4,
    8,
  ]);
});
