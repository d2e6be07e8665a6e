/**
 * JPEG decoding to packed RGB bytes (`H×W×3`, row-major), through the maintained `jpeg-js`
 * decoder (no hand-written decoder here).
 *
 * - Greyscale JPEGs (one component) are replicated to the three RGB channels (R = G = B = Y).
 * - Adobe CMYK / YCCK JPEGs (four components with an Adobe APP14 marker) are converted to RGB by
 *   `jpeg-js` with the same formula as Pillow's `convert("RGB")`: `R = (255 − K)·(1 − C/255)`.
 *   Four-component JPEGs without the Adobe marker are rejected with an error naming the file.
 * - Truncated or corrupt files raise a `SyntaxError` naming the file. `jpeg-js` is run with
 *   `tolerantDecoding: false`, and because it can still return a partially decoded image for a
 *   file cut after its last scan header, the bytes must also hold an EOI marker (`FF D9`) after the
 *   last SOS marker (`FF DA`). Bytes after the EOI (some cameras append data) are allowed.
 *
 * Decoding differs from libjpeg (Pillow, torchvision) by a few grey levels: `jpeg-js` upsamples
 * subsampled chroma by pixel replication where libjpeg uses "fancy" (triangular) upsampling, and
 * its IDCT rounds differently. Resizing is specified and tested separately (`preprocess.ts`), on
 * identical RGB input.
 *
 * @module
 */
import jpeg from "jpeg-js";

/** A decoded image: `data` holds `height·width·3` bytes, RGB interleaved, row-major. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Memory cap handed to `jpeg-js`; far above what a 4,000×3,000 photograph needs. */
const MAX_MEMORY_MB = 1024;
const MAX_RESOLUTION_MP = 100;

/** Index of the last `FF xx` marker pair equal to `marker` in `bytes`, or −1. */
function lastMarker(bytes: Uint8Array, marker: number): number {
  for (let i = bytes.length - 2; i >= 0; i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === marker) return i;
  }
  return -1;
}

/**
 * Decodes JPEG bytes to RGB. `name` (a path or id) is used in error messages.
 *
 * @example
 * ```ts
 * import jpeg from "jpeg-js";
 * import { decodeJpeg } from "./image.ts";
 * const bytes = jpeg.encode({ width: 2, height: 1, data: new Uint8Array(8).fill(200) }, 90).data;
 * const img = decodeJpeg(new Uint8Array(bytes), "tiny.jpg");
 * console.log(img.width, img.height, img.data.length); // 2 1 6
 * ```
 */
export function decodeJpeg(bytes: Uint8Array, name = "<bytes>"): RgbImage {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    throw new SyntaxError(`Cannot decode ${name}: not a JPEG file (no SOI marker FF D8)`);
  }
  const sos = lastMarker(bytes, 0xda);
  const eoi = lastMarker(bytes, 0xd9);
  if (sos < 0) throw new SyntaxError(`Cannot decode ${name}: no scan (SOS marker) found`);
  if (eoi < sos) {
    throw new SyntaxError(
      `Cannot decode ${name}: file is truncated (no EOI marker after the last scan, ` +
        `${bytes.length} bytes)`,
    );
  }
  let raw: { width: number; height: number; data: Uint8Array };
  try {
    raw = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxMemoryUsageInMB: MAX_MEMORY_MB,
      maxResolutionInMP: MAX_RESOLUTION_MP,
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new SyntaxError(`Cannot decode ${name}: ${msg}`, { cause: e });
  }
  const { width, height, data } = raw;
  if (!(width > 0 && height > 0) || data.length !== width * height * 3) {
    throw new SyntaxError(
      `Cannot decode ${name}: decoder returned ${data.length} bytes for ${width}×${height}×3`,
    );
  }
  return { width, height, data };
}

/**
 * Reads and decodes a JPEG file.
 *
 * @example
 * ```ts ignore
 * import { readJpeg } from "./image.ts";
 * const img = await readJpeg("photo.jpg");
 * ```
 */
export async function readJpeg(path: string | URL): Promise<RgbImage> {
  const name = path instanceof URL ? path.pathname : path;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Image file not found: ${name}`, { cause: e });
    }
    throw e;
  }
  return decodeJpeg(bytes, name);
}
