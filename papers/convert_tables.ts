/**
 * Regenerate `papers/pdquant/table.json` and `papers/mrecg/table.json` from the reference
 * transcriptions. Run: `deno run -A papers/convert_tables.ts [PAPER_TABLES_DIR]`
 * (default `$PTQ_PAPER_TABLES` or `/work/shared/reference/paper_tables`).
 *
 * The output is validated with the schemas before it is written; `tables_test.ts` re-checks every
 * stored number against the source JSON whenever that directory is present.
 *
 * @module
 */
import { convertMrecg, convertPdquant } from "./_transcription.ts";
import { PaperTableFileSchema, parseOrThrow } from "./schema.ts";

/** Where the reference transcriptions live unless told otherwise. */
export const DEFAULT_PAPER_TABLES = "/work/shared/reference/paper_tables";

/** The directory of the reference transcriptions: argument, `$PTQ_PAPER_TABLES`, or the default. */
export function paperTablesDir(arg?: string): string {
  return arg ?? Deno.env.get("PTQ_PAPER_TABLES") ?? DEFAULT_PAPER_TABLES;
}

async function main(): Promise<void> {
  const dir = paperTablesDir(Deno.args[0]);
  const read = async (name: string) => JSON.parse(await Deno.readTextFile(`${dir}/${name}`));
  const pd = await read("pdquant.json");
  const mc = await read("modcap.json");
  const outputs = {
    pdquant: convertPdquant(pd, mc, ["paper_tables/pdquant.json", "paper_tables/modcap.json"]),
    mrecg: convertMrecg(mc, "paper_tables/modcap.json"),
  };
  for (const [id, file] of Object.entries(outputs)) {
    parseOrThrow(PaperTableFileSchema, file, `papers/${id}/table.json`);
    const path = new URL(`./${id}/table.json`, import.meta.url);
    await Deno.mkdir(new URL(".", path), { recursive: true });
    await Deno.writeTextFile(path, JSON.stringify(file, null, 2) + "\n");
    console.log(`wrote papers/${id}/table.json: ${file.rows.length} rows`);
  }
}

if (import.meta.main) await main();
