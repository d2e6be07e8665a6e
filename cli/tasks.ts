/**
 * Every `deno task` that has a command file here, in the README's order: the README's task table
 * (`deno task readme`) and the tests that check every task's flags are made from this list.
 * `readme` itself is not listed (it imports this list); its table adds it last.
 *
 * @module
 */
import type { TaskSpec } from "./_flags.ts";
import { SPEC as REPRODUCE } from "./reproduce.ts";
import { SPEC as QUANTIZE } from "./quantize.ts";
import { SPEC as REPORT } from "./report.ts";
import { SPEC as SLURM } from "./slurm.ts";
import { SPEC as SLURM_STATUS } from "./slurm_status.ts";
import { SPEC as ERROR_PROFILE } from "./error_profile.ts";
import { SPEC as TABLE } from "./table.ts";
import { SPEC as SUMMARY } from "./summary.ts";
import { SPEC as SCHEME_CHECK } from "./scheme_check.ts";
import { SPEC as EVAL } from "./eval.ts";
import { SPEC as CHECK_MODEL } from "./check_model.ts";
import { SPEC as INFER } from "./infer.ts";
import { SPEC as TRAIN_PROXY } from "./train_proxy.ts";
import { SPEC as BENCH_RUNTIME } from "./bench_runtime.ts";
import { SPEC as BENCH_RECON } from "./bench_recon.ts";
import { SPEC as BENCH_GEMM } from "./bench_gemm.ts";
import { SPEC as BENCH_DECODE } from "./bench_decode.ts";

/** The specs of every task, in the order of the README's table. */
export const TASKS: readonly TaskSpec[] = [
  REPRODUCE,
  REPORT,
  SLURM,
  SLURM_STATUS,
  QUANTIZE,
  ERROR_PROFILE,
  TABLE,
  SUMMARY,
  SCHEME_CHECK,
  EVAL,
  CHECK_MODEL,
  INFER,
  TRAIN_PROXY,
  BENCH_RUNTIME,
  BENCH_RECON,
  BENCH_GEMM,
  BENCH_DECODE,
];
