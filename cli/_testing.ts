/**
 * Test helpers (internal): run a task as `deno task` would, with its output captured.
 *
 * @module
 */
import { run, type TaskSpec } from "./_flags.ts";

/** What a task printed and returned. */
export interface Captured {
  code: number;
  out: string;
  err: string;
}

/** Runs `fn` with console.log / console.error captured (errors as their stack). */
export async function captured(fn: () => Promise<number>): Promise<Captured> {
  const log = console.log, error = console.error;
  let out = "", err = "";
  const text = (a: unknown[]) => a.map((x) => (x instanceof Error ? x.stack : String(x))).join(" ");
  console.log = (...a: unknown[]) => void (out += text(a) + "\n");
  console.error = (...a: unknown[]) => void (err += text(a) + "\n");
  try {
    return { code: await fn(), out, err };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** `run(spec, main, args)` with its output captured. */
export function runTask(
  spec: TaskSpec,
  main: (args: string[]) => Promise<number>,
  args: string[],
): Promise<Captured> {
  return captured(() => run(spec, main, args));
}

/** A committed proxy model (1 × 28 × 28 grey input, 10 classes). */
export const PROXY_ONNX: string = decodeURIComponent(
  new URL("../models/proxy/proxy_resnet.onnx", import.meta.url).pathname,
);
