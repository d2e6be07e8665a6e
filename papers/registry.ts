/**
 * The paper registry: every paper module, by id, in one literal object (no registration by
 * import side effect). Adding a paper is its folder `papers/<id>/` plus one line here.
 *
 * @module
 */
import type { Paper } from "./cells.ts";
import { evolq } from "./evolq/mod.ts";
import { fdda } from "./fdda/mod.ts";
import { mrecg } from "./mrecg/mod.ts";
import { multipoint } from "./multipoint/mod.ts";
import { pdquant } from "./pdquant/mod.ts";

export { evolq, fdda, mrecg, multipoint, pdquant };

/** Every paper module, by id. */
export const PAPERS: Readonly<Record<string, Paper>> = { pdquant, mrecg, fdda, multipoint, evolq };
