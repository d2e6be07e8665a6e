import { assert, assertEquals } from "../runtime/assert.ts";
import {
  crc32,
  displayBytes,
  encodePng,
  readSamples,
  sampleSet,
  SampleSetSchema,
  samplesPath,
} from "./samples.ts";
import { appendSamples } from "./samples.ts";

async function inflate(b: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([b as BlobPart]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

Deno.test("crc32 is PNG's CRC-32", () => {
  assertEquals(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assertEquals(crc32(new TextEncoder().encode("IEND")), 0xae426082);
});

Deno.test("encodePng writes a valid PNG whose IDAT inflates to the filtered rows", async () => {
  const px = Uint8Array.from([0, 64, 128, 255, 1, 2]);
  const png = await encodePng(px, 3, 2, 1);
  assertEquals([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  const v = new DataView(png.buffer);
  assertEquals(v.getUint32(8), 13);
  assertEquals(new TextDecoder().decode(png.subarray(12, 16)), "IHDR");
  assertEquals([v.getUint32(16), v.getUint32(20), png[24], png[25]], [3, 2, 8, 0]);
  assertEquals(v.getUint32(29), crc32(png.subarray(12, 29)));
  const idatLen = v.getUint32(33);
  assertEquals(new TextDecoder().decode(png.subarray(37, 41)), "IDAT");
  const raw = await inflate(png.subarray(41, 41 + idatLen));
  assertEquals([...raw], [0, 0, 64, 128, 0, 255, 1, 2]);
  assertEquals(new TextDecoder().decode(png.subarray(png.length - 8, png.length - 4)), "IEND");
});

Deno.test("displayBytes stretches each image and box-averages large ones", () => {
  const pixels = Float32Array.from([-1, 0, 0, 1, 5, 5, 5, 5]);
  const d = displayBytes({ pixels, shape: [2, 1, 2, 2] }, 0);
  assertEquals([d.width, d.height, d.channels, [...d.bytes]], [2, 2, 1, [0, 128, 128, 255]]);
  assertEquals([...displayBytes({ pixels, shape: [2, 1, 2, 2] }, 1).bytes], [0, 0, 0, 0]);
  const big = displayBytes({ pixels: new Float32Array(3 * 130 * 130), shape: [1, 3, 130, 130] }, 0);
  assertEquals([big.width, big.channels, big.bytes.length], [43, 3, 43 * 43 * 3]);
});

Deno.test("sample sets go to the results file's sidecar and back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/fdda.jsonl`;
    assertEquals(samplesPath(file), `${dir}/fdda.samples.jsonl`);
    assertEquals(
      samplesPath(`${dir}/fdda.shard-1-of-2.jsonl`),
      `${dir}/fdda.shard-1-of-2.samples.jsonl`,
    );
    const set = await sampleSet("run-a", "proxy", {
      pixels: new Float32Array(2 * 28 * 28).map((_, i) => i % 7),
      shape: [2, 1, 28, 28],
      labels: [3, 7],
      note: "n",
    });
    assertEquals(set.images.map((i) => i.name), ["Dress", "Sneaker"]);
    assert(SampleSetSchema.safeParse(set).success);
    // Small: two 28×28 images in well under a kilobyte each.
    assert(JSON.stringify(set).length < 2000);
    await appendSamples(samplesPath(file), set);
    await appendSamples(samplesPath(file), { ...set, run: "run-b" });
    await Deno.writeTextFile(samplesPath(file), "{torn", { append: true });
    const back = await readSamples([file, `${dir}/missing.jsonl`]);
    assertEquals(back.map((s) => s.run), ["run-a", "run-b"]);
    assertEquals(back[0], set);
    // A data URL that is not a base64 PNG is refused (the report embeds it as an image source).
    assert(
      !SampleSetSchema.safeParse({ ...set, images: [{ ...set.images[0], png: `x"><b>` }] })
        .success,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
