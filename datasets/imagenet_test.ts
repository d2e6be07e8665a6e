import { assert, assertEquals, assertRejects, assertThrows } from "../runtime/assert.ts";
import jpeg from "jpeg-js";
import { ImageNetDataset, parseLabelList } from "./imagenet.ts";
import { plainResizeSpec, tfSlimSpec } from "./preprocess.ts";
import { sampleCalibration } from "./sampler.ts";
import { ASSETS_URL, HAVE_ASSETS } from "./testing.ts";

function tinyJpeg(value: number): Uint8Array {
  const data = new Uint8Array(12 * 10 * 4).fill(value);
  return new Uint8Array(jpeg.encode({ width: 12, height: 10, data }, 95).data);
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("label lists keep apostrophes and spaces in names and report bad lines", () => {
  assertEquals(parseLabelList("n03_potter's_wheel.JPEG 739\n\nmy file.JPEG 0\n", "l.txt"), [
    { file: "n03_potter's_wheel.JPEG", label: 739 },
    { file: "my file.JPEG", label: 0 },
  ]);
  assertThrows(() => parseLabelList("a.JPEG 1\nb.JPEG\n", "l.txt"), SyntaxError, "l.txt:2:");
  assertThrows(() => parseLabelList("a.JPEG 1\nb.JPEG x7\n", "l.txt"), SyntaxError, "l.txt:2:");
  assertThrows(() => parseLabelList("a.JPEG 1\n\nb.JPEG 1000\n", "l.txt"), RangeError, "l.txt:3:");
  assertThrows(() => parseLabelList("a.JPEG -1\n", "l.txt"), RangeError, "l.txt:1:");
});

Deno.test("a list dataset yields NCHW batches with labels and ids, honouring limit", async () => {
  await withTempDir(async (dir) => {
    for (let i = 0; i < 5; i++) await Deno.writeFile(`${dir}/im${i}.jpg`, tinyJpeg(50 * i));
    await Deno.writeTextFile(
      `${dir}/labels.txt`,
      [0, 1, 2, 3, 4].map((i) => `im${i}.jpg ${i * 10}`).join("\n"),
    );
    const ds = await ImageNetDataset.fromList(dir);
    assertEquals(ds.length, 5);
    const spec = plainResizeSpec(8, { kind: "unit" });
    const batches = [];
    for await (const b of ds.batches({ spec, batchSize: 2, limit: 3 })) batches.push(b);
    assertEquals(batches.map((b) => b.shape), [[2, 3, 8, 8], [1, 3, 8, 8]]);
    assertEquals(Array.from(batches[0].labels), [0, 10]);
    assertEquals(batches[1].ids, ["im2.jpg"]);
    // Flat grey images stay flat; value ≈ 100/255 for the third image.
    assert(batches[1].images.every((v) => Math.abs(v - 100 / 255) < 3 / 255));
    const picked = [];
    for await (const b of ds.batches({ spec, batchSize: 4, ids: ["im4.jpg", "im0.jpg"] })) {
      picked.push(...b.ids);
    }
    assertEquals(picked, ["im4.jpg", "im0.jpg"]);
  });
});

Deno.test("missing folders, lists and listed files are clear errors", async () => {
  await withTempDir(async (dir) => {
    await assertRejects(
      () => ImageNetDataset.fromList(`${dir}/nope`),
      Deno.errors.NotFound,
      "nope",
    );
    await assertRejects(() => ImageNetDataset.fromList(dir), Deno.errors.NotFound, "labels.txt");
    await Deno.writeFile(`${dir}/a.jpg`, tinyJpeg(10));
    await Deno.writeTextFile(`${dir}/labels.txt`, "a.jpg 1\nb.jpg 2\n");
    await assertRejects(() => ImageNetDataset.fromList(dir), Deno.errors.NotFound, "b.jpg");
    assertEquals((await ImageNetDataset.fromList(dir, { missing: "skip" })).ids, ["a.jpg"]);
    await Deno.writeTextFile(`${dir}/bad.txt`, "a.jpg 1\na.jpg\n");
    await assertRejects(
      () => ImageNetDataset.fromList(dir, { list: `${dir}/bad.txt` }),
      SyntaxError,
      "bad.txt:2:",
    );
  });
});

Deno.test("class folders take labels from the synset list order", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/synsets.txt`, "n00000001 a\nn00000002 b\nn00000003 c\n");
    for (const w of ["n00000003", "n00000001"]) {
      await Deno.mkdir(`${dir}/root/${w}`, { recursive: true });
      await Deno.writeFile(`${dir}/root/${w}/x.JPEG`, tinyJpeg(90));
    }
    const ds = await ImageNetDataset.fromClassFolders(`${dir}/root`, {
      synsets: `${dir}/synsets.txt`,
    });
    assertEquals(ds.entries.map((e) => [e.id, e.label]), [
      ["n00000001/x.JPEG", 0],
      ["n00000003/x.JPEG", 2],
    ]);
    const bare = await ImageNetDataset.fromClassFolders(`${dir}/root`);
    assertEquals(bare.entries.map((e) => e.label), [0, 1]);
    await Deno.mkdir(`${dir}/root/n99999999`);
    await assertRejects(
      () => ImageNetDataset.fromClassFolders(`${dir}/root`, { synsets: `${dir}/synsets.txt` }),
      RangeError,
      "n99999999",
    );
  });
});

Deno.test("calibration sampling is deterministic and recorded by a hash", () => {
  const ds = { ids: Array.from({ length: 100 }, (_, i) => `img${i}.JPEG`) };
  const a = sampleCalibration(ds, 10, 42), b = sampleCalibration(ds, 10, 42);
  assertEquals(a, b);
  assertEquals(new Set(a.ids).size, 10);
  assertEquals(a.hash.length, 64);
  const c = sampleCalibration(ds, 10, 43);
  assert(c.hash !== a.hash);
  // Golden: guards against silent changes of the generator or of the sampling rule.
  assertEquals(a.indices.slice(0, 5), GOLDEN_SEED42);
  assertThrows(() => sampleCalibration(ds, 101, 1), RangeError);
});
const GOLDEN_SEED42 = [83, 39, 92, 13, 87];

const SUBSET = new URL("imagenet/ilsvrc2012_val_subset1300_227px/", ASSETS_URL);

Deno.test({
  name: "the shared 1,300-image val subset loads and batches",
  ignore: !HAVE_ASSETS,
  fn: async () => {
    const ds = await ImageNetDataset.fromList(SUBSET);
    assertEquals(ds.length, 1300);
    let n = 0;
    for await (const b of ds.batches({ spec: tfSlimSpec(224), batchSize: 4, limit: 8 })) {
      assertEquals(b.shape, [4, 3, 224, 224]);
      assert(b.images.every((v) => v >= -1 && v <= 1));
      n += b.labels.length;
    }
    assertEquals(n, 8);
    const calib = await ImageNetDataset.fromList(
      new URL("imagenet/calib1000_one_per_class_256px/", ASSETS_URL),
    );
    assertEquals(calib.length, 1000);
    assertEquals(new Set(calib.entries.map((e) => e.label)).size, 1000);
  },
});
