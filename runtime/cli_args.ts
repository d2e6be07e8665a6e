/**
 * Command-line flags for the project's commands, with one behaviour everywhere: `--help` / `-h`
 * prints the usage and exits 0; an unknown or malformed flag prints what is wrong and the usage
 * and exits 2 (not an uncaught TypeError).
 *
 * @example
 * ```ts
 * import { parseCli } from "./cli_args.ts";
 * const { values } = parseCli("usage: demo [--n N]", { args: ["--n", "3"], options: { n: { type: "string" } } });
 * console.log(values.n); // 3
 * ```
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/**
 * `parseArgs(config)` plus `--help` and clear refusals, which name the command as the usage does
 * (`usage: deno task quantize …` → "quantize: Unknown option '--x'").
 */
export function parseCli<const T extends ParseArgsConfig>(
  usage: string,
  config: T,
): ReturnType<typeof parseArgs<T & { options: { help: { type: "boolean"; short: "h" } } }>> {
  const withHelp = {
    ...config,
    options: { ...config.options, help: { type: "boolean", short: "h" } },
  } as T & { options: { help: { type: "boolean"; short: "h" } } };
  let parsed;
  try {
    parsed = parseArgs(withHelp);
  } catch (e) {
    const words = usage.replace(/^usage:\s*/, "").split(/\s+/);
    const name = words[0] === "deno" && words[1] === "task" ? words[2] : words[0];
    console.error(`${name}: ${(e as Error).message}\n${usage}`);
    Deno.exit(2);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    Deno.exit(0);
  }
  return parsed;
}
