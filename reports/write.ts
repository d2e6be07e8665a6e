/**
 * Read each paper's results file and write its report: `<out>/<paper>.html`; and the
 * cross-paper baselines page, `<out>/baselines.html` ({@linkcode writeBaselinesPage}).
 *
 * @module
 */
import {
  BENCHMARKS,
  type PaperMeta,
  PAPERS,
  readPaperRecords,
  readSamples,
  resultsPath,
} from "../papers/mod.ts";
import { baselinesView, renderBaselinesHtml } from "./baselines.ts";
import { collectBaselines } from "./drift.ts";
import { renderHtml } from "./html.ts";
import { buildView, type Tolerances, type ViewOptions } from "./view.ts";

/** Options of `writeReports`. */
export interface WriteReportsOptions {
  papers?: string[];
  resultsDir?: string;
  outDir?: string;
  /** ISO time stamp shown in the pages (default: now). */
  generated?: string;
  tolerances?: Tolerances;
  methodDeviations?: Record<string, string[]>;
  skips?: ViewOptions["skips"];
}

/** Write one HTML report per paper; returns the paths written. */
export async function writeReports(opts: WriteReportsOptions = {}): Promise<string[]> {
  const ids = opts.papers?.length ? opts.papers : Object.keys(PAPERS);
  const outDir = (opts.outDir ?? "out/reports").replace(/\/+$/, "");
  const metas: Record<string, PaperMeta> = Object.fromEntries(
    Object.values(PAPERS).map((p) => [p.meta.id, p.meta]),
  );
  await Deno.mkdir(outDir, { recursive: true });
  const baselines = collectBaselines(Object.values(PAPERS), BENCHMARKS);
  const written: string[] = [];
  for (const id of ids) {
    const paper = PAPERS[id];
    if (!paper) {
      throw new RangeError(`Unknown paper "${id}": known papers are ${Object.keys(PAPERS)}`);
    }
    // The paper's main records file and every shard's (a run key in two files is refused).
    const dir = opts.resultsDir ?? "out/results";
    const { records, torn } = await readPaperRecords(dir, id);
    // Images runs stored beside their records (the paper's sidecar).
    const samples = await readSamples([resultsPath(id, dir)]);
    const warnings = torn.map((t) =>
      `${t.file}:${t.line}: a torn last line was skipped (${t.reason})`
    );
    const view = buildView(paper, records, {
      generated: opts.generated ?? new Date().toISOString(),
      tolerances: opts.tolerances,
      metas,
      methodDeviations: opts.methodDeviations,
      skips: opts.skips,
      warnings,
      samples,
      baselines,
    });
    const out = `${outDir}/${id}.html`;
    await Deno.writeTextFile(out, renderHtml(view));
    written.push(out);
  }
  return written;
}

/**
 * Write `<out>/baselines.html`: every baseline cell printed by at least two papers or
 * benchmarks, with ptq-bench's own runs of it in the ImageNet suites (every paper's records in
 * the results folder); returns the path written.
 */
export async function writeBaselinesPage(
  opts: Pick<WriteReportsOptions, "resultsDir" | "outDir" | "generated"> = {},
): Promise<string> {
  const outDir = (opts.outDir ?? "out/reports").replace(/\/+$/, "");
  const dir = opts.resultsDir ?? "out/results";
  const records = [];
  for (const id of Object.keys(PAPERS)) records.push(...(await readPaperRecords(dir, id)).records);
  const view = baselinesView(
    Object.values(PAPERS),
    BENCHMARKS,
    records,
    opts.generated ?? new Date().toISOString(),
  );
  await Deno.mkdir(outDir, { recursive: true });
  const out = `${outDir}/baselines.html`;
  await Deno.writeTextFile(out, renderBaselinesHtml(view));
  return out;
}
