import { assert, assertEquals, assertThrows } from "../runtime/assert.ts";
import {
  centerCrop,
  centralFractionCrop,
  plainResizeSpec,
  preprocess,
  PreprocessSpec,
  resize,
  tfSlimSpec,
  torchvisionResizeSize,
  torchvisionSpec,
} from "./preprocess.ts";

function b64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

Deno.test("PIL bilinear and bicubic resize are reproduced bit-exactly (Pillow fixture)", async () => {
  const fx = JSON.parse(
    await Deno.readTextFile(new URL("./fixtures/pil_resize.json", import.meta.url)),
  );
  const img = { width: fx.width, height: fx.height, data: b64(fx.input) };
  assertEquals(fx.cases.length, 10);
  for (const c of fx.cases) {
    const want = b64(c.data);
    const got = resize(img, c.width, c.height, c.interpolation);
    assertEquals([got.width, got.height], [c.width, c.height]);
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(got.data[i] - want[i]));
    }
    assertEquals(maxDiff, 0, `${c.interpolation} ${c.width}×${c.height}: max |diff| ${maxDiff}`);
  }
});

Deno.test("torchvision Resize keeps the aspect ratio with a truncated long side", () => {
  assertEquals(torchvisionResizeSize(500, 375, 256), [341, 256]);
  assertEquals(torchvisionResizeSize(375, 500, 256), [256, 341]);
  assertEquals(torchvisionResizeSize(227, 227, 256), [256, 256]);
  assertEquals(torchvisionResizeSize(256, 300, 256), [256, 300]);
});

Deno.test("CenterCrop rounds offsets half to even like Python round()", () => {
  // 7 wide, crop 2: (7-2)/2 = 2.5 -> 2 ; 9 wide, crop 2: 3.5 -> 4.
  const row = (w: number) => ({
    width: w,
    height: 1,
    data: Uint8Array.from({ length: w * 3 }, (_, i) => Math.floor(i / 3)),
  });
  assertEquals(Array.from(centerCrop(row(7), 2, 1).data), [2, 2, 2, 3, 3, 3]);
  assertEquals(Array.from(centerCrop(row(9), 2, 1).data), [4, 4, 4, 5, 5, 5]);
  // Smaller than the crop: zero padded, left pad floor((4-1)/2) = 1.
  assertEquals(Array.from(centerCrop(row(1), 4, 1).data), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
});

Deno.test("TF central crop keeps the central 87.5 % with truncated offsets", () => {
  const img = { width: 227, height: 100, data: new Uint8Array(227 * 100 * 3) };
  const c = centralFractionCrop(img, 0.875);
  // 227: trunc(14.1875) = 14 -> 199; 100: trunc(6.25) = 6 -> 88.
  assertEquals([c.width, c.height], [199, 88]);
});

Deno.test("TF1 bilinear resize samples at dst·in/out without antialiasing", () => {
  const img = {
    width: 4,
    height: 1,
    data: Uint8Array.from([0, 0, 0, 40, 40, 40, 80, 80, 80, 120, 120, 120]),
  };
  // Legacy: out 3 -> src 0, 4/3, 8/3 -> 0, 53.33, 106.67 ; half-pixel: src 1/6, 3/2, 17/6.
  const legacy = resize(img, 3, 1, "tf-bilinear").data;
  const half = resize(img, 3, 1, "tf2-bilinear").data;
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-4;
  assert(close(legacy[0], 0) && close(legacy[3], 160 / 3) && close(legacy[6], 320 / 3));
  assert(close(half[0], 20 / 3) && close(half[3], 60) && close(half[6], 340 / 3));
  // Upsampling past the last pixel clamps to it.
  const up = resize(img, 8, 1, "tf-bilinear").data;
  assert(close(up[21], 120));
});

Deno.test("normalisations map 0 and 255 to the documented ranges, CHW order", () => {
  // 2×2 pixels (R,G,B): (0,255,0) (255,0,255) / (0,0,0) (255,255,255).
  const img = {
    width: 2,
    height: 2,
    data: Uint8Array.from([0, 255, 0, 255, 0, 255, 0, 0, 0, 255, 255, 255]),
  };
  const tf = preprocess(img, plainResizeSpec(2, { kind: "tf" }));
  assertEquals(Array.from(tf), [-1, 1, -1, 1, 1, -1, -1, 1, -1, 1, -1, 1]);
  const unit = preprocess(img, plainResizeSpec(2, { kind: "unit" }));
  assertEquals(Array.from(unit), [0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1]);
  const tv = preprocess(img, {
    geometry: { kind: "resize", size: 2, interpolation: "bilinear" },
    normalize: { kind: "mean-std", mean: [0.5, 0.5, 0.5], std: [0.5, 0.25, 0.5] },
  });
  assertEquals(Array.from(tv), [-1, 1, -1, 1, 2, -2, -2, 2, -1, 1, -1, 1]);
});

Deno.test("preset specs validate and produce the requested sizes", () => {
  const img = { width: 300, height: 200, data: new Uint8Array(300 * 200 * 3).fill(128) };
  assertEquals(preprocess(img, torchvisionSpec()).length, 3 * 224 * 224);
  assertEquals(
    preprocess(img, torchvisionSpec({ interpolation: "bicubic" })).length,
    3 * 224 * 224,
  );
  assertEquals(preprocess(img, tfSlimSpec(192)).length, 3 * 192 * 192);
  const x = preprocess(img, tfSlimSpec(160));
  assert(x.every((v) => Math.abs(v - (128 / 127.5 - 1)) < 1e-6));
  assertThrows(() =>
    PreprocessSpec.parse({ geometry: { kind: "resize", size: -1 }, normalize: { kind: "tf" } })
  );
});
