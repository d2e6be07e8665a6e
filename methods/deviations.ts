/**
 * Each method file's "Deviations from the paper" list, read from the file's own module JSDoc so
 * the list in the code and the list in the reports are one and the same.
 *
 * @module
 */

const FILES = ["rtn", "adaround", "brecq", "qdrop", "pdquant", "mrecg"];

/** Parses the "Deviations from the paper:" bullet list out of a module's leading JSDoc. */
export function parseDeviations(source: string): string[] {
  const doc = /\/\*\*([\s\S]*?)\*\//.exec(source)?.[1] ?? "";
  const lines = doc.split("\n").map((l) => l.replace(/^\s*\*\s?/, ""));
  const start = lines.findIndex((l) => /^Deviations from the paper/i.test(l.trim()));
  if (start < 0) return [];
  const items: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^@/.test(line.trim())) break;
    if (/^- /.test(line)) items.push(line.slice(2).trim());
    else if (/^\s+\S/.test(line) && items.length) items[items.length - 1] += " " + line.trim();
    else if (line.trim() === "" && items.length) break;
  }
  return items;
}

function load(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const id of FILES) {
    try {
      const text = Deno.readTextFileSync(new URL(`./${id}.ts`, import.meta.url));
      out[id] = parseDeviations(text);
    } catch {
      // a method file that does not exist yet has no deviations to show
    }
  }
  out["mrecg+brecq"] = out.mrecg ?? [];
  out["mrecg+qdrop"] = out.mrecg ?? [];
  return out;
}

/** Deviations by method id (as recipes name methods, e.g. "mrecg+qdrop"). */
export const METHOD_DEVIATIONS: Record<string, string[]> = load();
