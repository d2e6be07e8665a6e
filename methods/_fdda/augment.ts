/**
 * The student's data augmentation in FDDA (zysxmu/FDDA at 3d50d5f): torchvision's
 * `RandomResizedCrop` (crop parameters as `get_params`: ten tries of a random area fraction in
 * `scale` and a log-uniform aspect ratio in [3/4, 4/3], else a centre crop; bilinear resize back,
 * `align_corners = False`, no antialiasing) and `RandomHorizontalFlip` (p = 0.5), on host arrays
 * `[N, C, H, W]`, drawn from a seeded generator.
 *
 * - Real images (`main_DBNS_CBNS.py` `imagenet_dataset.train_transform`): `RandomResizedCrop(224)`
 *   (scale 0.08–1) + flip, per image (a DataLoader transform).
 * - Generated images (`trainer_DBNS_CBNS.py` L430–434): `RandomResizedCrop(224, scale=(0.5, 1))`
 *   + flip applied to the batch tensor, so one crop and one flip for the whole batch.
 *
 * @module
 */
import type { Random } from "../../runtime/mod.ts";

/** A crop box: top, left, height, width. */
export interface Crop {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** torchvision `RandomResizedCrop.get_params` for an `h × w` image. */
export function cropParams(
  h: number,
  w: number,
  scale: readonly [number, number],
  rng: Random,
  ratio: readonly [number, number] = [3 / 4, 4 / 3],
): Crop {
  const area = h * w;
  const lr = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let t = 0; t < 10; t++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rng.uniform());
    const aspect = Math.exp(lr[0] + (lr[1] - lr[0]) * rng.uniform());
    const cw = Math.round(Math.sqrt(target * aspect));
    const ch = Math.round(Math.sqrt(target / aspect));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
      return { top: rng.int(h - ch + 1), left: rng.int(w - cw + 1), height: ch, width: cw };
    }
  }
  const inRatio = w / h;
  let cw = w, ch = h;
  if (inRatio < ratio[0]) ch = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) cw = Math.round(h * ratio[1]);
  return { top: Math.floor((h - ch) / 2), left: Math.floor((w - cw) / 2), height: ch, width: cw };
}

/**
 * Crops one image `[C, H, W]` (at `src[offset…]`) to `box`, resizes it bilinearly to `H × W`
 * (half-pixel centres, as `align_corners = False`) and optionally flips it, into `dst[offset…]`.
 */
export function cropResize(
  src: Float32Array,
  dst: Float32Array,
  offset: number,
  c: number,
  h: number,
  w: number,
  box: Crop,
  flip: boolean,
): void {
  const sy = box.height / h, sx = box.width / w;
  for (let y = 0; y < h; y++) {
    const fy = Math.max(0, (y + 0.5) * sy - 0.5);
    const y0 = Math.min(Math.floor(fy), box.height - 1);
    const y1 = Math.min(y0 + 1, box.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.max(0, (x + 0.5) * sx - 0.5);
      const x0 = Math.min(Math.floor(fx), box.width - 1);
      const x1 = Math.min(x0 + 1, box.width - 1);
      const wx = fx - x0;
      const ox = flip ? w - 1 - x : x;
      for (let ch = 0; ch < c; ch++) {
        const base = offset + ch * h * w;
        const at = (yy: number, xx: number) => src[base + (box.top + yy) * w + box.left + xx];
        const top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx;
        const bot = at(y1, x0) * (1 - wx) + at(y1, x1) * wx;
        dst[base + y * w + ox] = top * (1 - wy) + bot * wy;
      }
    }
  }
}

/**
 * Augments a batch `[N, C, H, W]`: a random resized crop (area fraction in `scale`) back to
 * `H × W` and a horizontal flip with p = 0.5, drawn per image (`perImage`) or once for the batch.
 */
export function augmentBatch(
  data: Float32Array,
  shape: readonly number[],
  scale: readonly [number, number],
  rng: Random,
  perImage: boolean,
): Float32Array {
  const [n, c, h, w] = shape;
  const out = new Float32Array(data.length);
  const per = c * h * w;
  let box = cropParams(h, w, scale, rng);
  let flip = rng.uniform() < 0.5;
  for (let i = 0; i < n; i++) {
    if (perImage && i > 0) {
      box = cropParams(h, w, scale, rng);
      flip = rng.uniform() < 0.5;
    }
    cropResize(data, out, i * per, c, h, w, box, flip);
  }
  return out;
}
