import { assert, assertEquals, assertThrows } from "../../runtime/assert.ts";
import { noGrad, Random } from "../../runtime/mod.ts";
import { Generator } from "./generator.ts";

const images = (seed: number, labels: number[], size = 28, channels = 1) => {
  const g = Generator.create({ latent: 100, classes: 10, channels, size }, new Random(seed));
  try {
    const z = new Random(seed + 100).randn([labels.length, 100]);
    const x = noGrad(() => g.forward(z, labels));
    return { shape: x.shape, data: Array.from(x.dataSync() as Float32Array) };
  } finally {
    g.dispose();
  }
};

Deno.test("FDDA's generator makes [B, C, size, size] images from init size size/4", () => {
  const a = images(1, [0, 3, 3, 9]);
  assertEquals(a.shape, [4, 1, 28, 28]);
  // The last BN (affine-free, batch statistics): every channel has mean 0 over the batch.
  const m = a.data.reduce((s, x) => s + x, 0) / a.data.length;
  assert(Math.abs(m) < 1e-4, `mean ${m}`);
  const g = Generator.create({ latent: 100, classes: 10, channels: 3, size: 32 }, new Random(0));
  assertEquals(g.p.l1w.shape, [128 * 8 * 8, 100]);
  assertEquals(noGrad(() => g.forward(new Random(1).randn([2, 100]), [1, 2])).shape, [
    2,
    3,
    32,
    32,
  ]);
  g.dispose();
  assertThrows(
    () => Generator.create({ latent: 100, classes: 10, channels: 1, size: 30 }, new Random(0)),
    RangeError,
    "divisible by 4",
  );
});

Deno.test("FDDA's generator is deterministic given the seed, and conditioned on the labels", () => {
  const a = images(7, [1, 2]), b = images(7, [1, 2]), c = images(8, [1, 2]);
  assertEquals(a.data, b.data);
  assert(a.data.some((x, i) => x !== c.data[i]));
  // Class embeddings start at 1 / 0 (all classes alike): with distinct per-class scales, the
  // labels reach the images.
  const g = Generator.create({ latent: 100, classes: 10, channels: 1, size: 8 }, new Random(3));
  g.p.bn2w.assign(new Random(4).rand([10, 64], 0.5, 1.5));
  const z = new Random(5).randn([2, 100]);
  const x1 = noGrad(() => g.forward(z, [1, 2])).dataSync();
  const x2 = noGrad(() => g.forward(z, [1, 3])).dataSync();
  assert(x1.some((v, i) => v !== x2[i]));
  g.dispose();
});
