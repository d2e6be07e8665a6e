/**
 * Flags that mean the same in every task that takes them, defined once (the tasks' flag tables
 * spread them in, so their names, defaults, values and help cannot drift apart).
 *
 * @module
 */
import type { Flag } from "./_flags.ts";

/** `--backend cpu|webgpu`. */
export const BACKEND_FLAG = {
  name: "backend",
  type: "string",
  values: ["cpu", "webgpu"],
  default: "cpu",
  help: "the runtime backend every tensor lives on",
} as const satisfies Flag;

/** `--results DIR`: a paper's records, `<paper>.jsonl` and its shard files. */
export const RESULTS_FLAG = {
  name: "results",
  type: "path",
  default: "out/results",
  placeholder: "DIR",
  help: "the folder of <paper>.jsonl records (and <paper>.shard-I-of-N.jsonl)",
} as const satisfies Flag;

/** `--checkpoints DIR`: unit checkpoints a killed run resumes from. */
export const CHECKPOINTS_FLAG = {
  name: "checkpoints",
  type: "path",
  default: "out/checkpoints",
  placeholder: "DIR",
  help: "unit checkpoints of unfinished runs (a killed run resumes from them)",
} as const satisfies Flag;
