/**
 * Reports: records + a paper's table → view model → one self-contained HTML page per paper.
 *
 * @example
 * ```ts
 * import { reportHtml } from "./mod.ts";
 * import { pdquant } from "../papers/mod.ts";
 * const html = reportHtml(pdquant, [], { generated: "2024-01-01T00:00:00Z" });
 * console.log(html.startsWith("<!DOCTYPE html>")); // true
 * ```
 *
 * @module
 */
import type { Paper, ResultRecord } from "../papers/mod.ts";
import { renderHtml } from "./html.ts";
import { buildView, type ViewOptions } from "./view.ts";

export * from "./view.ts";
export { renderHtml } from "./html.ts";
export { barChart, dotChart, esc, lineChart, type LineSeries, PALETTE } from "./charts.ts";
export { writeBaselinesPage, writeReports, type WriteReportsOptions } from "./write.ts";
export * from "./drift.ts";
export * from "./baselines.ts";

/** records + paper → HTML (pure). */
export function reportHtml(
  paper: Paper,
  records: readonly ResultRecord[],
  opts: ViewOptions,
): string {
  return renderHtml(buildView(paper, records, opts));
}
