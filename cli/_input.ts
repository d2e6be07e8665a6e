/**
 * Reading the files and folders a user names on the command line, so that a missing, empty or
 * corrupt one is an {@linkcode InputError} that names it (exit 1, no stack trace).
 *
 * @module
 */
import type { Graph } from "../models/graph.ts";
import { loadOnnx, type LoadOptions } from "../models/onnx.ts";
import { resolveModel } from "../models/registry.ts";
import { InputError, UsageError } from "./_flags.ts";

function why(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such file";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.IsADirectory) return "is a folder, not a file";
  return e instanceof Error ? e.message : String(e);
}

/** The bytes of `path` (`what` names it in the message: "model", "input"). */
export async function readInputBytes(path: string, what = "file"): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new InputError(`cannot read ${what} ${path}: ${why(e)}`, { cause: e });
  }
  if (bytes.length === 0) throw new InputError(`${what} ${path} is empty`);
  return bytes;
}

/** The text of `path`, refused when missing or blank. */
export async function readInputText(path: string, what = "file"): Promise<string> {
  const text = new TextDecoder().decode(await readInputBytes(path, what));
  if (!text.trim()) throw new InputError(`${what} ${path} is empty`);
  return text;
}

/** The JSON value in `path`. */
export async function readInputJson(path: string, what = "file"): Promise<unknown> {
  const text = await readInputText(path, what);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${what} ${path} is not valid JSON: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** Refuses unless `path` is an existing folder. */
export async function requireFolder(path: string, what = "folder"): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw new InputError(`${what} ${path} does not exist (${why(e)})`, { cause: e });
  }
  if (!info.isDirectory) throw new InputError(`${what} ${path} is not a folder`);
}

/**
 * Runs `fn` on an input's content, turning what it throws into an {@linkcode InputError} that names
 * the file (for parsers that do not: `JSON.parse`, protobuf decoding).
 */
export async function parseInput<T>(path: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof InputError) throw e;
    const m = e instanceof Error ? e.message : String(e);
    throw new InputError(m.includes(path) ? m : `${path}: ${m}`, { cause: e });
  }
}

/**
 * Loads the ONNX model at `path` (`loadOnnx`), refusing a missing, empty or undecodable file with
 * an {@linkcode InputError}; other errors (an unsupported op) pass through.
 */
export async function loadOnnxInput(path: string, opts: LoadOptions = {}): Promise<Graph> {
  const bytes = await readInputBytes(path, "model");
  try {
    return loadOnnx(bytes, { ...opts, name: path });
  } catch (e) {
    if (e instanceof SyntaxError) throw new InputError(e.message, { cause: e });
    throw e;
  }
}

/**
 * Loads `--<flag> NAME|FILE.onnx`: an ONNX file, or a registry name resolved to its file. An
 * unknown name is a {@linkcode UsageError}; a registered model whose file is missing, or a missing
 * or corrupt file, an {@linkcode InputError} that says where it was looked for.
 */
export async function loadModelArg(model: string, flag = "model"): Promise<Graph> {
  if (model.endsWith(".onnx")) return await loadOnnxInput(model);
  let path: string;
  try {
    path = resolveModel(model).path;
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(`--${flag}: ${e.message}`, { cause: e });
    throw new InputError((e as Error).message, { cause: e });
  }
  return await loadOnnxInput(path);
}

/** Parses `N,C,H,W` (positive integers). */
export function parseShape(flag: string, text: string): number[] {
  const dims = text.split(",").map((d) => Number(d.trim()));
  if (!text.trim() || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new UsageError(`--${flag}: expected positive integers like 2,3,224,224, got "${text}"`);
  }
  return dims;
}
