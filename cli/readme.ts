/**
 * `deno task readme`: rewrites README.md's task table — between `<!-- tasks:begin -->` and
 * `<!-- tasks:end -->` — from the tasks' specs ({@linkcode TASKS}): each task's command with its
 * flags in short form, and its summary. `--check` only says whether README.md is stale (exit 1).
 * The page goes through `deno fmt`, so the table is committed as the formatter lays it out.
 *
 * @module
 */
import { parseFlags, run, type TaskSpec, usageLine } from "./_flags.ts";
import { readInputText } from "./_input.ts";
import { TASKS } from "./tasks.ts";

/** The flags of `deno task readme`. */
export const SPEC = {
  name: "readme",
  summary: "rewrite README.md's task table from the tasks' flag tables (`--check`: exit 1 when " +
    "it is stale)",
  flags: [
    { name: "check", type: "boolean", help: "write nothing; exit 1 when README.md is stale" },
  ],
} as const satisfies TaskSpec;

/** Where the table goes. */
export const BEGIN = "<!-- tasks:begin -->";
/** Where it ends. */
export const END = "<!-- tasks:end -->";

/** The repository's README. */
export const README_URL: URL = new URL("../README.md", import.meta.url);

/** Every task of the table: those of `cli/tasks.ts`, then this one. */
export const ALL_TASKS: readonly TaskSpec[] = [...TASKS, SPEC];

/** Rows for deno.json tasks that have no command file here. */
const OTHER_ROWS: [string, string][] = [
  ["deno task check", "`deno fmt --check`, `deno lint`, type-check"],
];

/** A table cell's text: `|` escaped (inside code spans too, as GitHub's tables need). */
const cell = (s: string) => s.replaceAll("|", "\\|");

/** The markdown table of `specs` (unaligned: `deno fmt` aligns it). */
export function tasksTable(specs: readonly TaskSpec[]): string {
  const rows = [
    ...specs.map((s) => [`\`${cell(usageLine(s))}\``, cell(s.summary)]),
    ...OTHER_ROWS.map(([c, what]) => [`\`${cell(c)}\``, cell(what)]),
  ];
  return [["task", "what it does"], ["---", "---"], ...rows].map((r) => `| ${r.join(" | ")} |`)
    .join("\n");
}

/** `text` with the table between the markers replaced (a RangeError when they are missing). */
export function replaceTable(text: string, table: string): string {
  const b = text.indexOf(BEGIN), e = text.indexOf(END);
  if (b < 0 || e < b) {
    throw new RangeError(`README.md has no ${BEGIN} … ${END} markers around the task table`);
  }
  return `${text.slice(0, b + BEGIN.length)}\n\n${table}\n\n${text.slice(e)}`;
}

/** Markdown through `deno fmt` (the repository's settings). */
export async function formatMarkdown(text: string): Promise<string> {
  const p = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=md", "-"],
    cwd: new URL("../", import.meta.url),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await p.output();
  if (!out.success) throw new Error(`deno fmt failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** README.md as it should be: `text` with the table of `specs`, formatted. */
export async function renderReadme(
  text: string,
  specs: readonly TaskSpec[] = ALL_TASKS,
): Promise<string> {
  return await formatMarkdown(replaceTable(text, tasksTable(specs)));
}

/** Rewrites (or checks) README.md; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseFlags(SPEC, args);
  const path = decodeURIComponent(README_URL.pathname);
  const text = await readInputText(path, "README");
  const want = await renderReadme(text);
  if (want === text) {
    console.log(`${path} is up to date`);
    return 0;
  }
  if (values.check) {
    console.error(`readme: ${path}'s task table is stale: run \`deno task readme\``);
    return 1;
  }
  await Deno.writeTextFile(path, want);
  console.log(`wrote ${path}`);
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
