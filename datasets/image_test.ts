import { assert, assertEquals, assertRejects, assertThrows } from "../runtime/assert.ts";
import jpeg from "jpeg-js";
import { decodeJpeg, readJpeg } from "./image.ts";
import { ASSETS_URL, HAVE_ASSETS } from "./testing.ts";

const CALIB = new URL("imagenet/calib1000_one_per_class_256px/", ASSETS_URL);

function synthetic(): Uint8Array {
  const w = 32, h = 24, data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    data[i * 4] = (i * 7) % 256;
    data[i * 4 + 1] = (i * 3) % 256;
    data[i * 4 + 2] = 255 - (i % 256);
    data[i * 4 + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ width: w, height: h, data }, 90).data);
}

Deno.test("decodeJpeg returns packed RGB of the encoded size", () => {
  const img = decodeJpeg(synthetic(), "synthetic.jpg");
  assertEquals([img.width, img.height, img.data.length], [32, 24, 32 * 24 * 3]);
});

Deno.test("truncated or corrupt JPEG bytes raise an error naming the file", () => {
  const bytes = synthetic();
  for (const cut of [3, 100, 300, bytes.length - 200, bytes.length - 2]) {
    assertThrows(
      () => decodeJpeg(bytes.subarray(0, cut), "cut.jpg"),
      SyntaxError,
      "cut.jpg",
    );
  }
  assertThrows(() => decodeJpeg(new TextEncoder().encode("not a jpeg"), "x.jpg"), SyntaxError);
});

const FIXTURES = new URL("./fixtures/", import.meta.url);

function b64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

async function maxDiffToPillow(name: string): Promise<number> {
  const ref = JSON.parse(await Deno.readTextFile(new URL("jpeg_modes.json", FIXTURES)))[name];
  const img = await readJpeg(new URL(name, FIXTURES));
  const want = b64(ref.rgb);
  assertEquals(img.data.length, want.length);
  let d = 0;
  for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(img.data[i] - want[i]));
  return d;
}

Deno.test("a one-component greyscale JPEG is replicated to R = G = B", async () => {
  const img = await readJpeg(new URL("grey_16x8.jpg", FIXTURES));
  assertEquals([img.width, img.height], [16, 8]);
  for (let i = 0; i < img.data.length; i += 3) {
    assert(img.data[i] === img.data[i + 1] && img.data[i] === img.data[i + 2]);
  }
  assert(await maxDiffToPillow("grey_16x8.jpg") <= 2);
});

Deno.test("an Adobe CMYK JPEG is converted to RGB like Pillow's convert('RGB')", async () => {
  // Tolerance: IDCT rounding differs between jpeg-js and libjpeg by a few levels.
  const d = await maxDiffToPillow("cmyk_16x8.jpg");
  assert(d <= 4, `max |diff| ${d}`);
});

Deno.test({
  name: "a real greyscale calibration JPEG decodes to three (equal) channels",
  ignore: !HAVE_ASSETS,
  fn: async () => {
    // The 23 greyscale calibration images are stored as 3-component JPEGs with neutral chroma.
    const img = await readJpeg(new URL("n02096051_Airedale.JPEG", CALIB));
    assertEquals(img.data.length, img.width * img.height * 3);
    assertEquals(Math.min(img.width, img.height), 256);
    let d = 0;
    for (let i = 0; i < img.data.length; i += 3) {
      d = Math.max(
        d,
        Math.abs(img.data[i] - img.data[i + 1]),
        Math.abs(img.data[i] - img.data[i + 2]),
      );
    }
    assert(d <= 1, `channels differ by ${d}`);
  },
});

Deno.test({
  name: "a truncated copy of a real JPEG written to disk is rejected with its path",
  ignore: !HAVE_ASSETS,
  fn: async () => {
    const bytes = await Deno.readFile(new URL("n01440764_tench.JPEG", CALIB));
    const dir = await Deno.makeTempDir();
    try {
      for (const frac of [0.3, 0.7, 0.99]) {
        const path = `${dir}/tench_cut.jpg`;
        await Deno.writeFile(path, bytes.subarray(0, Math.floor(bytes.length * frac)));
        await assertRejects(() => readJpeg(path), SyntaxError, path);
      }
      // Trailing bytes after EOI are allowed.
      const padded = new Uint8Array(bytes.length + 5);
      padded.set(bytes);
      await Deno.writeFile(`${dir}/padded.jpg`, padded);
      assertEquals((await readJpeg(`${dir}/padded.jpg`)).width, decodeJpeg(bytes).width);
      await assertRejects(() => readJpeg(`${dir}/missing.jpg`), Deno.errors.NotFound);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("YCbCr JPEGs (4:2:0, 4:2:2, 4:4:4) decode like libjpeg: fancy upsampling, integer tables", async () => {
  const refs = JSON.parse(await Deno.readTextFile(new URL("jpeg_ycc.json", FIXTURES)));
  for (const name of ["ycc420_19x13.jpg", "ycc422_19x13.jpg", "ycc444_19x13.jpg"]) {
    const img = await readJpeg(new URL(name, FIXTURES));
    const want = b64(refs[name].rgb);
    assertEquals([img.width, img.height, img.data.length], [19, 13, want.length]);
    let max = 0, same = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(img.data[i] - want[i]);
      max = Math.max(max, d);
      if (d === 0) same++;
    }
    // What remains is jpeg-js's IDCT rounding (chroma replication alone was off by up to ~70).
    assert(max <= 3, `${name}: max |diff| ${max}`);
    assert(same / want.length >= 0.7, `${name}: only ${same}/${want.length} bytes equal Pillow's`);
  }
});
