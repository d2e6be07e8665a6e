/**
 * `deno run -A cli/check_layers.ts [ROOT]`: the layering check over every `.ts` file of the
 * repository (or of ROOT), after Deno std's circular-dependency check.
 *
 * - Layers, lowest first: `runtime` ← `datasets` ← `models` ← `methods` ← `papers` ← `reports` ←
 *   `cli` ← `tests`. A file imports only from its own layer or lower ones; a test file
 *   (`*_test.ts`) is in the layer of the folder it sits in. The top-level `mod.ts` and `tests/` sit
 *   above every layer, so they may import any layer.
 * - An underscore file or folder (`_quant/`, `_fixtures.ts`) is private to the folder that holds
 *   it: `a/b/_x.ts` and `a/b/_x/…` may be imported only from `a/b/` or below. This holds for every
 *   importer, the top-level `mod.ts` and `tests/` included.
 * - No import cycles; each cycle is reported once, from its alphabetically first file.
 *
 * Only relative specifiers (`./`, `../`) count. They are found with a regular expression over
 * `import … from "…"`, `export … from "…"`, `import "…"` and `import("…")` with a static string,
 * comments removed first; `import type` counts too (it is still a dependency direction).
 * `node_modules/`, `out/`, `.tools/`, `.cache/`, `docs/` and hidden folders are not scanned.
 *
 * Prints one line per violation and a summary; exits 1 if there is any violation, else 0 with
 * `layers: N files, no upward import, no cycle`; 2 on a usage error.
 *
 * @example
 * ```ts
 * import { checkLayers } from "./check_layers.ts";
 * const found = checkLayers({
 *   "runtime/ops.ts": [],
 *   "methods/rtn.ts": ["runtime/ops.ts"],
 *   "runtime/tensor.ts": ["methods/rtn.ts"],
 * });
 * console.log(found.map((v) => v.message)); // ["runtime/tensor.ts → methods/rtn.ts: runtime may not import methods"]
 * ```
 *
 * @module
 */

/** The layers, lowest first: a file may import from its own layer and the ones before it. */
export const LAYERS = [
  "runtime",
  "datasets",
  "models",
  "methods",
  "papers",
  "reports",
  "cli",
  "tests",
] as const;

/** One layer of {@linkcode LAYERS}. */
export type Layer = typeof LAYERS[number];

/** Top-level folders that are not scanned (besides hidden ones such as `.git/`). */
export const EXCLUDED = ["node_modules", "out", ".tools", ".cache", "docs"] as const;

/**
 * The import graph: each file (a path relative to the repository root, `/`-separated) and the
 * files it imports with a relative specifier, resolved the same way.
 */
export type ImportGraph = Readonly<Record<string, readonly string[]>>;

/** One broken rule; `message` is the line the command prints. */
export type Violation =
  | { kind: "upward"; from: string; to: string; message: string }
  | { kind: "private"; from: string; to: string; message: string }
  | { kind: "no-layer"; from: string; message: string }
  | { kind: "cycle"; path: string[]; message: string };

/** Cycle search limits per strongly connected group of files (cycles listed, paths tried). */
const MAX_CYCLES = 50, MAX_STEPS = 200_000;

/** The top-level `mod.ts`: above every layer. */
const ROOT_MOD = "mod.ts";

/** Where `file` sits: its layer's rank in {@linkcode LAYERS}, `Infinity` for the top, or null. */
function rankOf(file: string): number | null {
  if (file === ROOT_MOD) return Infinity;
  const first = file.split("/")[0];
  const rank = (LAYERS as readonly string[]).indexOf(first);
  if (rank < 0 || !file.includes("/")) return null;
  return first === "tests" ? Infinity : rank;
}

function layerName(file: string): string {
  return file === ROOT_MOD ? "the top-level mod.ts" : file.split("/")[0];
}

/** The folder an underscore segment of `target` is private to, if `from` lies outside it. */
function privateOwner(from: string, target: string): string | null {
  const parts = target.split("/");
  const fromDir = from.split("/").slice(0, -1).join("/");
  for (let i = 0; i < parts.length; i++) {
    if (!parts[i].startsWith("_")) continue;
    const owner = parts.slice(0, i).join("/");
    if (owner !== "" && fromDir !== owner && !fromDir.startsWith(`${owner}/`)) return owner;
  }
  return null;
}

/** Strongly connected components of the graph (Tarjan), each sorted. */
function components(nodes: readonly string[], next: (n: string) => readonly string[]) {
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>(), out: string[][] = [];
  let counter = 0;
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      out.push(group.sort());
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return out;
}

/**
 * The elementary cycles within one strongly connected group, each once: a cycle is found only
 * from its alphabetically first file, through files that sort after it. `complete` is false
 * when a limit cut the search short.
 */
function cyclesIn(
  group: readonly string[],
  next: (n: string) => readonly string[],
): { cycles: string[][]; complete: boolean } {
  const inGroup = new Set(group), cycles: string[][] = [];
  let steps = 0;
  for (const start of group) {
    const path = [start], onPath = new Set([start]);
    const walk = (v: string): boolean => {
      for (const w of next(v)) {
        if (!inGroup.has(w) || w < start) continue;
        if (++steps > MAX_STEPS) return false;
        if (w === start) {
          cycles.push([...path, start]);
          if (cycles.length >= MAX_CYCLES) return false;
        } else if (!onPath.has(w)) {
          path.push(w);
          onPath.add(w);
          const more = walk(w);
          path.pop();
          onPath.delete(w);
          if (!more) return false;
        }
      }
      return true;
    };
    if (!walk(start)) return { cycles, complete: false };
  }
  return { cycles, complete: true };
}

/**
 * The violations of the layering rules in `graph`: upward imports and imports of another
 * folder's private (`_`) files, in file order, then the import cycles. Imports of files outside
 * the graph are still checked for layer and privacy; a file in no layer is reported once.
 *
 * @example
 * ```ts
 * import { checkLayers } from "./check_layers.ts";
 * const found = checkLayers({ "runtime/a.ts": ["runtime/b.ts"], "runtime/b.ts": ["runtime/a.ts"] });
 * console.log(found[0].message); // "import cycle: runtime/a.ts → runtime/b.ts → runtime/a.ts"
 * ```
 */
export function checkLayers(graph: ImportGraph): Violation[] {
  const out: Violation[] = [];
  const files = Object.keys(graph).sort();
  for (const from of files) {
    const fromRank = rankOf(from);
    if (fromRank === null) {
      out.push({
        kind: "no-layer",
        from,
        message: `${from}: in no layer (top-level folders: ${LAYERS.join(", ")}; or ${ROOT_MOD})`,
      });
    }
    for (const to of [...new Set(graph[from])].sort()) {
      const toRank = rankOf(to);
      if (fromRank !== null && toRank !== null && toRank > fromRank) {
        out.push({
          kind: "upward",
          from,
          to,
          message: `${from} → ${to}: ${layerName(from)} may not import ${layerName(to)}`,
        });
      }
      const owner = privateOwner(from, to);
      if (owner !== null) {
        out.push({
          kind: "private",
          from,
          to,
          message: `${from} → ${to}: private to ${owner}/`,
        });
      }
    }
  }
  const next = (n: string) => [...new Set(graph[n] ?? [])].filter((m) => m in graph).sort();
  for (const group of components(files, next)) {
    const selfLoop = group.length === 1 && next(group[0]).includes(group[0]);
    if (group.length < 2 && !selfLoop) continue;
    const { cycles, complete } = cyclesIn(group, next);
    for (const path of cycles) {
      out.push({ kind: "cycle", path, message: `import cycle: ${path.join(" → ")}` });
    }
    if (!complete) {
      out.push({
        kind: "cycle",
        path: [...group],
        message: `import cycle: more cycles among ${group.join(", ")} (search stopped)`,
      });
    }
  }
  return out;
}

/** Comments and string literals (so that comment markers inside strings are left alone). */
const COMMENT_OR_STRING = new RegExp(
  [
    String.raw`"(?:\\.|[^"\\\n])*"`,
    String.raw`'(?:\\.|[^'\\\n])*'`,
    String.raw`\x60(?:\\.|[^\x60\\])*\x60`,
    String.raw`/\*[\s\S]*?\*/`,
    String.raw`//[^\n]*`,
  ].join("|"),
  "g",
);

/** `import … from "x"`, `export … from "x"`, `import "x"` and `import("x")` (static strings). */
const SPECIFIER = new RegExp(
  [
    String.raw`\b(?:import|export)\s[^;"'\x60]*?\bfrom\s*(["'])([^"'\n]+)\1`,
    String.raw`\bimport\s*(["'])([^"'\n]+)\3`,
    String.raw`\bimport\s*\(\s*(["'])([^"'\n]+)\5\s*[,)]`,
  ].join("|"),
  "g",
);

/**
 * The relative specifiers (`./`, `../`) that `source` imports or re-exports, in order of
 * appearance, comments ignored.
 *
 * @example
 * ```ts
 * import { relativeImports } from "./check_layers.ts";
 * const src = 'import type { A } from "./a.ts";\n// import "./gone.ts";\nimport * as z from "zod";';
 * console.log(relativeImports(src)); // ["./a.ts"]
 * ```
 */
export function relativeImports(source: string): string[] {
  const code = source.replace(COMMENT_OR_STRING, (m) => (m.startsWith("/") ? " " : m));
  const out: string[] = [];
  for (const m of code.matchAll(SPECIFIER)) {
    const spec = m[2] ?? m[4] ?? m[6];
    if (spec.startsWith("./") || spec.startsWith("../")) out.push(spec);
  }
  return out;
}

/** `spec` relative to the root-relative `file`, or null if it leaves the root. */
export function resolveSpecifier(file: string, spec: string): string | null {
  const parts = file.split("/").slice(0, -1);
  for (const p of spec.split(/[?#]/)[0].split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(p);
  }
  return parts.join("/");
}

/** Every scanned `.ts` file under `root`, relative and sorted. */
export async function listSources(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory) {
        if (
          e.name.startsWith(".") || (rel === "" && (EXCLUDED as readonly string[]).includes(e.name))
        ) {
          continue;
        }
        await walk(`${dir}/${e.name}`, path);
      } else if (e.isFile && e.name.endsWith(".ts")) out.push(path);
    }
  };
  await walk(root, "");
  return out.sort();
}

/** The {@linkcode ImportGraph} of the `.ts` files under `root`. */
export async function readImportGraph(root: string): Promise<Record<string, string[]>> {
  const graph: Record<string, string[]> = {};
  for (const file of await listSources(root)) {
    const source = await Deno.readTextFile(`${root}/${file}`);
    graph[file] = relativeImports(source)
      .map((spec) => resolveSpecifier(file, spec))
      .filter((t): t is string => t !== null);
  }
  return graph;
}

const USAGE = "usage: deno run -A cli/check_layers.ts [ROOT]   (default: the repository root)";

/** Runs the check on `args[0]` (default: the repository root); returns the exit code. */
export async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  if (args.length > 1 || args.some((a) => a.startsWith("-"))) {
    console.error(`check_layers: unexpected arguments ${JSON.stringify(args)}\n${USAGE}`);
    return 2;
  }
  const root = args[0] ?? new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const graph = await readImportGraph(root);
  const n = Object.keys(graph).length;
  const found = checkLayers(graph);
  for (const v of found) console.log(v.message);
  if (found.length === 0) {
    console.log(`layers: ${n} files, no upward import, no cycle`);
    return 0;
  }
  const count = (k: Violation["kind"]) => found.filter((v) => v.kind === k).length;
  const parts = [
    `${count("upward")} upward`,
    `${count("private")} private`,
    `${count("cycle")} cycle`,
    ...(count("no-layer") ? [`${count("no-layer")} outside the layers`] : []),
  ];
  console.log(`layers: ${n} files, ${found.length} violations (${parts.join(", ")})`);
  return 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
