/**
 * A plain Markdown summary of a paper's records, for the docs: per suite, model and bit-width, the
 * measured top-1 of every method (mean ± std over seeds, n), the exported-QDQ top-1, FP32, and the
 * wall-clock. `deno task summary <paper> [--results DIR]` (`cli/summary.ts`) prints it.
 *
 * @module
 */
import type { ResultRecord } from "../papers/mod.ts";
import { budgetLabel } from "./view.ts";

function meanStd(xs: number[]): string {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length < 2) return m.toFixed(2);
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
  return `${m.toFixed(2)} ± ${sd.toFixed(2)}`;
}

/** Markdown tables of records grouped by suite, model, bits and budget. */
export function recordsMarkdown(records: ResultRecord[]): string {
  const groups = new Map<string, ResultRecord[]>();
  for (const r of records) {
    // One table per recipe: two cells that share a proxy model (ResNet-18 and ResNet-50 both run
    // on proxy_resnet) are separate runs of separate recipes, not seeds of one measurement.
    const k = `${r.suite}|${r.model.name}|${budgetLabel(r)}|${r.recipe.id.split("@").pop()}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const out: string[] = [];
  for (const [k, rs] of [...groups].sort()) {
    const [suite, model, budget, arch] = k.split("|");
    const methods = [...new Set(rs.map((r) => r.method))].sort();
    const bits = [...new Set(rs.map((r) => `W${r.bits.w}A${r.bits.a}`))];
    out.push(
      `#### ${suite} · ${model} (for ${arch}) · budget ${budget} (FP32 ${rs[0].fp32.top1})`,
      "",
    );
    out.push(`| method | ${bits.join(" | ")} |`, `|---|${bits.map(() => "---").join("|")}|`);
    for (const m of methods) {
      const cells = bits.map((b) => {
        const sel = rs.filter((r) => r.method === m && `W${r.bits.w}A${r.bits.a}` === b);
        if (!sel.length) return "—";
        const q = sel.map((r) => r.exported?.top1).filter((v): v is number => v !== undefined);
        const wall = sel.reduce((a, r) => a + r.wall_s, 0) / sel.length;
        return `${meanStd(sel.map((r) => r.metrics.top1!))} (n=${sel.length}; QDQ ${
          q.length ? meanStd(q) : "—"
        }; ${wall.toFixed(0)} s)`;
      });
      out.push(`| ${m} | ${cells.join(" | ")} |`);
    }
    out.push("");
  }
  return out.join("\n");
}
