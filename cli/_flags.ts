/**
 * One flag parser for every `deno task`: a task declares its flags as data (a {@linkcode TaskSpec}),
 * and the same table parses the arguments, checks them and writes `--help`.
 *
 * - {@linkcode parseFlags} takes `--name value` and `--name=value`; a boolean is `--name` (or
 *   `--name=true|false`); a `multiple` flag collects its repeats; `int` and `number` are parsed and
 *   `values` and `min` checked; a missing `required` flag or positional, an unknown flag, a repeated
 *   single flag and a stray positional are refused. Every refusal is a {@linkcode UsageError} whose
 *   message names the flag and the value (`--w: expected an integer, got "abc"`).
 * - {@linkcode helpText} is the usage line, the summary, every positional and flag with its
 *   placeholder, allowed values, default and help, and the notes.
 * - {@linkcode run} is the one way a task runs: `--help` / `-h` print the help (exit 0); a
 *   `UsageError` prints `<task>: <message>` and a hint (exit 2); an {@linkcode InputError} (a file the
 *   user named is missing, empty or corrupt) or any other error prints `<task>: <message>` (exit
 *   1), with the stack trace only when `PTQ_DEBUG=1` (never for an `InputError`).
 *
 * Declare a spec `as const satisfies TaskSpec` so that the parsed values are typed: an `int` flag
 * is a `number`, a flag with `values` is their union, and a flag with no default that is not
 * `required` may be `undefined`.
 *
 * @example
 * ```ts
 * import { parseFlags, run, type TaskSpec } from "./_flags.ts";
 * const SPEC = {
 *   name: "demo",
 *   summary: "print a number",
 *   flags: [
 *     { name: "n", type: "int", default: 3, min: 1, help: "how many" },
 *     { name: "backend", type: "string", values: ["cpu", "webgpu"], default: "cpu", help: "where" },
 *   ],
 * } as const satisfies TaskSpec;
 * const { values } = parseFlags(SPEC, ["--n=4"]);
 * console.log(values.n + 1, values.backend); // 5 cpu
 * const code = await run(SPEC, async (args) => (parseFlags(SPEC, args), 0), ["--n", "x"]);
 * console.log(code); // 2, after `demo: --n: expected an integer, got "x"` on stderr
 * ```
 *
 * @module
 */

/** A flag's kind of value. `path` is a string shown as a file or folder. */
export type FlagType = "string" | "int" | "number" | "boolean" | "path";

/** One flag of a task. */
export interface Flag {
  /** The name without dashes: `calib-n` is `--calib-n`. */
  name: string;
  type: FlagType;
  /** Collect every occurrence into an array (default: a flag may be given once). */
  multiple?: boolean;
  /** Refuse the command when the flag is absent. */
  required?: boolean;
  /** The value when the flag is absent (booleans: false; `multiple`: []). */
  default?: string | number | boolean | readonly string[];
  /** The allowed values (checked). */
  values?: readonly string[];
  /** The smallest allowed value of an `int` or `number` flag. */
  min?: number;
  /** The value's name in the help (`N`, `DIR`); default by type, or `a|b` for short `values`. */
  placeholder?: string;
  /** One line or more: what the flag does. */
  help: string;
}

/** The positional arguments of a task. */
export interface Positionals {
  /** The name in the help (`paper`, `FILE.onnx`). */
  name: string;
  help: string;
  required?: boolean;
  multiple?: boolean;
  /** The allowed values (checked). */
  values?: readonly string[];
}

/** What a task takes: the one table behind its parser, its `--help` and the README's row. */
export interface TaskSpec {
  /** The `deno task` name. */
  name: string;
  /** One line: the README's "what it does" and the help's first line. */
  summary: string;
  positionals?: Positionals;
  flags: readonly Flag[];
  /** Further paragraphs for the help. */
  notes?: readonly string[];
}

/** A bad command line; `run` prints it with a hint and exits 2. */
export class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** A file or folder the user named is missing, empty or corrupt (the message names it); exit 1. */
export class InputError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InputError";
  }
}

type Scalar<T> = T extends "int" | "number" ? number : T extends "boolean" ? boolean : string;
type One<F> = F extends { type: "int" | "number" | "boolean" } ? Scalar<F["type"]>
  : F extends { values: readonly (infer V)[] } ? V
  : string;
type ValueOf<F> = F extends { multiple: true } ? One<F>[] : One<F>;
type Always<F> = F extends
  { type: "boolean" } | { default: unknown } | { multiple: true } | { required: true } ? true
  : false;

/** The parsed flag values of a spec, keyed by flag name. */
export type FlagValues<S extends TaskSpec> =
  & { [F in S["flags"][number] as Always<F> extends true ? F["name"] : never]: ValueOf<F> }
  & { [F in S["flags"][number] as Always<F> extends true ? never : F["name"]]?: ValueOf<F> };

/** What {@linkcode parseFlags} returns. */
export interface Parsed<S extends TaskSpec> {
  values: FlagValues<S>;
  positionals: string[];
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function convert(f: Flag, raw: string): string | number {
  let v: string | number = raw;
  if (f.type === "int") {
    if (!/^[+-]?\d+$/.test(raw.trim())) {
      throw new UsageError(`--${f.name}: expected an integer, got "${raw}"`);
    }
    v = Number(raw);
  } else if (f.type === "number") {
    if (!NUMERIC.test(raw.trim())) {
      throw new UsageError(`--${f.name}: expected a number, got "${raw}"`);
    }
    v = Number(raw);
  } else if (raw === "") {
    throw new UsageError(`--${f.name}: expected a value (${placeholder(f)}), got ""`);
  }
  if (f.values && !f.values.includes(String(v))) {
    throw new UsageError(`--${f.name}: "${raw}" is not one of ${f.values.join(", ")}`);
  }
  if (f.min !== undefined && typeof v === "number" && v < f.min) {
    throw new UsageError(`--${f.name}: expected at least ${f.min}, got ${raw}`);
  }
  return v;
}

/**
 * Parses `args` against `spec` (see the module doc); throws a {@linkcode UsageError} for anything
 * the spec does not allow. Everything after `--` is positional. `--help` is not a flag here:
 * {@linkcode run} answers it before the task starts.
 */
export function parseFlags<const S extends TaskSpec>(spec: S, args: readonly string[]): Parsed<S> {
  const byName = new Map(spec.flags.map((f) => [f.name, f]));
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-" || NUMERIC.test(a)) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = a.slice(a.startsWith("--") ? 2 : 1, eq > 0 ? eq : undefined);
    const f = a.startsWith("--") ? byName.get(name) : undefined;
    if (!f) {
      throw new UsageError(`unknown flag ${eq > 0 ? a.slice(0, eq) : a}`);
    }
    let v: string | number | boolean;
    if (f.type === "boolean") {
      const raw = eq > 0 ? a.slice(eq + 1) : "true";
      if (raw !== "true" && raw !== "false") {
        throw new UsageError(`--${f.name}: expected true or false, got "${raw}"`);
      }
      v = raw === "true";
    } else {
      let raw: string;
      if (eq > 0) raw = a.slice(eq + 1);
      else {
        const next = args[i + 1];
        if (next === undefined || (next.startsWith("--") && next.length > 2)) {
          throw new UsageError(`--${f.name}: expected a value (${placeholder(f)})`);
        }
        raw = next;
        i++;
      }
      v = convert(f, raw);
    }
    if (f.multiple) {
      values[f.name] = [...((values[f.name] as unknown[] | undefined) ?? []), v];
    } else if (f.name in values) {
      throw new UsageError(`--${f.name} is given twice`);
    } else values[f.name] = v;
  }
  for (const f of spec.flags) {
    if (f.name in values) continue;
    if (f.required) throw new UsageError(`missing --${f.name} ${placeholder(f)}`);
    if (f.default !== undefined) {
      values[f.name] = Array.isArray(f.default) ? [...f.default] : f.default;
    } else if (f.multiple) values[f.name] = [];
    else if (f.type === "boolean") values[f.name] = false;
  }
  const p = spec.positionals;
  if (!p && positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (p) {
    if (p.required && !positionals.length) throw new UsageError(`missing <${p.name}>`);
    if (!p.multiple && positionals.length > 1) {
      throw new UsageError(
        `one <${p.name}> only, got ${positionals.length}: ${positionals.join(" ")}`,
      );
    }
    for (const v of positionals) {
      if (p.values && !p.values.includes(v)) {
        throw new UsageError(`<${p.name}>: "${v}" is not one of ${p.values.join(", ")}`);
      }
    }
  }
  return { values: values as FlagValues<S>, positionals };
}

const PLACEHOLDER: Record<FlagType, string> = {
  string: "VALUE",
  int: "N",
  number: "X",
  boolean: "",
  path: "PATH",
};

/** The value's name in the help: the spec's, `a|b|c` for up to 4 allowed values, else by type. */
export function placeholder(f: Flag): string {
  if (f.type === "boolean") return "";
  if (f.placeholder) return f.placeholder;
  if (f.values && f.values.length <= 4) return f.values.join("|");
  return PLACEHOLDER[f.type];
}

function flagShort(f: Flag): string {
  const ph = placeholder(f);
  const s = ph ? `--${f.name} ${ph}` : `--${f.name}`;
  return f.multiple ? `${s}…` : s;
}

function positionalShort(p: Positionals): string {
  const s = `<${p.name}>${p.multiple ? "…" : ""}`;
  return p.required ? s : `[${s}]`;
}

/**
 * The command in short form: `deno task <name> <positionals> --required X [--optional Y] …`,
 * every flag once (the README's first column).
 */
export function usageLine(spec: TaskSpec): string {
  return usageParts(spec).join(" ");
}

function usageParts(spec: TaskSpec): string[] {
  const parts = [`deno task ${spec.name}`];
  if (spec.positionals) parts.push(positionalShort(spec.positionals));
  for (const f of spec.flags) parts.push(f.required ? flagShort(f) : `[${flagShort(f)}]`);
  return parts;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const para of text.split("\n")) {
    let line = "";
    for (const word of para.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines;
}

function describe(f: Flag): string {
  const extra: string[] = [];
  if (f.required) extra.push("required");
  if (f.values && placeholder(f) !== f.values.join("|")) {
    extra.push(`one of ${f.values.join(", ")}`);
  }
  if (f.min !== undefined) extra.push(`at least ${f.min}`);
  if (f.multiple) extra.push("may be repeated");
  const d = f.default;
  if (
    d !== undefined && !(f.type === "boolean" && d === false) && !(Array.isArray(d) && !d.length)
  ) {
    extra.push(`default: ${Array.isArray(d) ? d.join(", ") : d}`);
  }
  if (!extra.length) return f.help;
  // A help that ends in its own parenthesis ("… (default: all)") takes the rest inside it.
  return f.help.endsWith(")")
    ? `${f.help.slice(0, -1)}; ${extra.join("; ")})`
    : `${f.help} (${extra.join("; ")})`;
}

const WIDTH = 100;

/** The full `--help` text of a task (see the module doc). */
export function helpText(spec: TaskSpec): string {
  const rows: [string, string][] = [];
  const p = spec.positionals;
  if (p) {
    const extra = [p.required ? "required" : "", p.values ? `one of ${p.values.join(", ")}` : ""]
      .filter(Boolean);
    rows.push([
      `<${p.name}>${p.multiple ? "…" : ""}`,
      p.help + (extra.length ? ` (${extra.join("; ")})` : ""),
    ]);
  }
  for (const f of spec.flags) rows.push([flagShort(f), describe(f)]);
  rows.push(["-h, --help", "print this help"]);
  const col = Math.min(30, Math.max(...rows.map(([l]) => l.length))) + 2;
  const usage = ["usage:"];
  for (const part of usageParts(spec)) {
    const last = usage.length - 1;
    if (usage[last].length + 1 + part.length > WIDTH && usage[last].trim()) {
      usage.push(`${" ".repeat(6)} ${part}`);
    } else usage[last] += ` ${part}`;
  }
  const out = [...usage, "", ...wrap(spec.summary, WIDTH), ""];
  if (p) out.push("Arguments and flags:");
  else out.push("Flags:");
  for (const [left, right] of rows) {
    const text = wrap(right, WIDTH - col - 2);
    if (left.length + 2 > col) out.push(`  ${left}`, ...text.map((t) => " ".repeat(col + 2) + t));
    else {
      out.push(
        `  ${left.padEnd(col)}${text[0]}`,
        ...text.slice(1).map((t) => " ".repeat(col + 2) + t),
      );
    }
  }
  for (const n of spec.notes ?? []) out.push("", ...wrap(n, WIDTH));
  return out.join("\n");
}

function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

function debug(): boolean {
  try {
    return Deno.env.get("PTQ_DEBUG") === "1";
  } catch {
    return false;
  }
}

/**
 * Runs a task's `main` with the project's one behaviour (see the module doc) and returns the exit
 * code; a task file ends with `if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));`.
 */
export async function run(
  spec: TaskSpec,
  main: (args: string[]) => Promise<number>,
  args: readonly string[],
): Promise<number> {
  if (wantsHelp(args)) {
    console.log(helpText(spec));
    return 0;
  }
  try {
    return await main([...args]);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    console.error(`${spec.name}: ${message}`);
    if (e instanceof UsageError) {
      console.error(`(see deno task ${spec.name} --help)`);
      return 2;
    }
    if (!(e instanceof InputError) && debug()) console.error(e);
    return 1;
  }
}
