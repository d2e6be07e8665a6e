/**
 * The `--assets DIR` flag, the same in every task that reads the shared assets (the ImageNet
 * subsets, VOC): the flag, else `$PTQ_ASSETS`, else `../shared/assets` beside the repository.
 * (Registered models are found by `models/registry.ts`: `PTQ_MODELS_DIR`, then
 * `../shared/assets/models`.)
 *
 * @module
 */
import type { Flag } from "./_flags.ts";
import { assetsDir } from "../models/eval.ts";

/** The flag's table entry. */
export const ASSETS_FLAG = {
  name: "assets",
  type: "path",
  placeholder: "DIR",
  help: "the shared assets folder, with imagenet/ and voc/ " +
    "(default: $PTQ_ASSETS, else ../shared/assets)",
} as const satisfies Flag;

/** The assets folder: `flag`, else `$PTQ_ASSETS`, else `../shared/assets`. */
export function assetsRoot(flag: string | undefined): string {
  return (flag ?? assetsDir()).replace(/\/+$/, "");
}
