/**
 * Build a paper module from its stored table, recipes and claim pairs, validating all of it.
 *
 * @module
 */
import {
  cellsOf,
  type Claim,
  claimsBetween,
  type Paper,
  parseRecipes,
  type Recipe,
} from "./cells.ts";
import { PaperTableFileSchema, parseOrThrow } from "./schema.ts";

/** What a paper module adds to its table. */
export interface PaperParts {
  recipes: unknown[];
  /** Method pairs [better, worse] whose ordering the paper's numbers claim. */
  claims: ReadonlyArray<readonly [string, string]>;
  deviations: string[];
}

/**
 * Validate a stored table file and assemble the paper: cells, recipes (each must point at
 * existing cells), and claims.
 */
export function definePaper(table: unknown, parts: PaperParts, where: string): Paper {
  const file = parseOrThrow(PaperTableFileSchema, table, where);
  const cells = cellsOf(file.meta.id, file.rows);
  const recipes: Recipe[] = parseRecipes(parts.recipes, where);
  for (const r of recipes) {
    if (r.paper !== file.meta.id) {
      throw new RangeError(`${where}: recipe ${r.id} belongs to ${r.paper}`);
    }
    for (const arch of r.archs) {
      if (!cells.some((c) => c.method === r.method && c.arch === arch)) {
        throw new RangeError(
          `${where}: recipe ${r.id} lists ${arch}, which has no ${r.method} cell`,
        );
      }
    }
  }
  const claims: Claim[] = parts.claims.flatMap(([b, w]) => claimsBetween(cells, b, w));
  return {
    meta: file.meta,
    rows: file.rows,
    cells,
    recipes,
    claims,
    deviations: parts.deviations,
  };
}
