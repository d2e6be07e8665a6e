/**
 * Papers: reported tables as typed rows, recipes, claims, run plans and the result-record store.
 *
 * `PAPERS` is the registry: one literal object, no registration by import side effect.
 *
 * @example
 * ```ts
 * import { PAPERS } from "./mod.ts";
 * console.log(Object.keys(PAPERS)); // ["pdquant", "mrecg"]
 * ```
 *
 * @module
 */
import type { Paper } from "./cells.ts";
import { mrecg } from "./mrecg/mod.ts";
import { pdquant } from "./pdquant/mod.ts";

export * from "./schema.ts";
export * from "./cells.ts";
export * from "./record.ts";
export { definePaper, type PaperParts } from "./paper.ts";
export { mrecg, pdquant };

/** Every paper module, by id. */
export const PAPERS: Readonly<Record<string, Paper>> = { pdquant, mrecg };
