/**
 * Build a paper module from its stored table, recipes and claim pairs, validating all of it.
 *
 * @module
 */
import {
  methodById,
  methodConfigFromRecipe,
  type MethodRegistry,
  METHODS,
  parseConfig,
} from "../methods/mod.ts";
import {
  cellMethodOf,
  cellsOf,
  type Claim,
  claimsBetween,
  type Paper,
  parseRecipes,
  type Recipe,
  type StandIns,
} from "./cells.ts";
import { PaperTableFileSchema, parseOrThrow } from "./schema.ts";

/** What a paper module adds to its table. */
export interface PaperParts {
  recipes: unknown[];
  /** Method pairs [better, worse] whose ordering the paper's numbers claim. */
  claims: ReadonlyArray<readonly [string, string]>;
  /** The harness's deviations from the paper's setup (method-level ones are the methods'). */
  deviations: string[];
  /** The models that stand in for the paper's architectures in `proxy` and `imagenet-subset`. */
  standIns: StandIns;
}

/**
 * Validate a stored table file and assemble the paper: cells, recipes (each must point at
 * existing cells and at a registered method that accepts every one of its settings), stand-ins
 * (each for an architecture of the table) and claims. `methods` is the registry the recipes
 * are checked against (a test may pass its own).
 */
export function definePaper(
  table: unknown,
  parts: PaperParts,
  where: string,
  methods: MethodRegistry = METHODS,
): Paper {
  const file = parseOrThrow(PaperTableFileSchema, table, where);
  const cells = cellsOf(file.meta.id, file.rows);
  const recipes: Recipe[] = parseRecipes(parts.recipes, where);
  for (const r of recipes) {
    if (r.paper !== file.meta.id) {
      throw new RangeError(`${where}: recipe ${r.id} belongs to ${r.paper}`);
    }
    const cellMethod = cellMethodOf(r);
    for (const arch of r.archs) {
      if (!cells.some((c) => c.method === cellMethod && c.arch === arch)) {
        throw new RangeError(
          `${where}: recipe ${r.id} lists ${arch}, which has no ${cellMethod} cell`,
        );
      }
    }
    checkRecipeAgainstMethod(r, methods, where);
  }
  for (const [suite, map] of Object.entries(parts.standIns)) {
    for (const arch of Object.keys(map)) {
      if (!cells.some((c) => c.arch === arch)) {
        throw new RangeError(`${where}: ${suite} stand-in for ${arch}, which has no cell`);
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
    methodDeviations: Object.fromEntries(
      recipes.map((r) => [cellMethodOf(r), methodById(r.method, methods).deviations]),
    ),
    standIns: parts.standIns,
  };
}

/**
 * A recipe's settings must all be accepted by its method's recipe keys and give a valid config
 * (with placeholder bits and budget), so that a typo fails when the paper is defined, not hours
 * into a run.
 */
function checkRecipeAgainstMethod(r: Recipe, methods: MethodRegistry, where: string): void {
  try {
    const method = methodById(r.method, methods);
    const config = methodConfigFromRecipe(method, {
      ...r.fixed.config,
      w_bits: 4,
      a_bits: 4,
      iters: r.fixed.iters_per_unit,
      calib_n: r.fixed.calibration.n,
      batch: r.fixed.calibration.batch,
      first_last_8bit: r.fixed.first_last_8bit,
    }, r.fixed.seeds[0]);
    parseConfig(method.config, config, method.id);
  } catch (e) {
    throw new RangeError(`${where}: recipe ${r.id}: ${(e as Error).message}`);
  }
}
