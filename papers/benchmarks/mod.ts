/**
 * Independent benchmarks: re-runs of the papers' baselines by a third party, kept beside the
 * papers' own tables so that a report can show how far the same baseline cell moves between
 * sources (baseline drift, `reports/drift.ts`).
 *
 * `mqbench.json`: the PTQ rows of MQBench's Academic-backend benchmark (Li et al., NeurIPS 2021
 * Datasets and Benchmarks, arXiv 2111.03759; github ModelTC/MQBench,
 * `docs/source/benchmark/ImageClassification/Benchmark.rst`): AdaRound, BRECQ and QDrop at W4A4
 * and W2A4 on ResNet-18/50 and MobileNetV2, all run with MQBench's own QDrop-style protocol.
 *
 * @example
 * ```ts
 * import { BENCHMARKS } from "./mod.ts";
 * const r = BENCHMARKS[0].rows.find((r) =>
 *   r.method === "brecq" && r.arch === "resnet18" && r.w_bits === 4 && r.a_bits === 4
 * );
 * console.log(r?.value); // 68.52
 * ```
 *
 * @module
 */
import { z } from "zod";
import mqbenchTable from "./mqbench.json" with { type: "json" };
import {
  ArchIdSchema,
  BitsSchema,
  MethodIdSchema,
  MetricSchema,
  parseOrThrow,
  PercentSchema,
  SourceSchema,
} from "../schema.ts";

/** One printed number of a benchmark. */
export const BenchmarkRowSchema = z.strictObject({
  /** The table as the source labels it. */
  table: z.string().min(1),
  /** The model as printed. */
  model: z.string().min(1),
  arch: ArchIdSchema,
  w_bits: BitsSchema,
  a_bits: BitsSchema,
  /** The method id as the papers' tables name it ("brecq", "qdrop", "adaround"). */
  method: MethodIdSchema,
  method_printed: z.string().min(1),
  metric: MetricSchema,
  value: PercentSchema,
  /** The FP32 accuracy printed beside it. */
  fp32: PercentSchema.optional(),
  /** A key of the benchmark's `sources`. */
  source_id: z.string().min(1),
  /** true: read from the primary source. */
  verified: z.boolean(),
});
export type BenchmarkRow = z.infer<typeof BenchmarkRowSchema>;

/** A benchmark file: who ran it, under which protocol, where each number was read. */
export const BenchmarkSchema = z.strictObject({
  id: z.string().regex(/^[a-z][a-z0-9_]*$/),
  short: z.string().min(1),
  title: z.string().min(1),
  arxiv: z.string().regex(/^\d{4}\.\d{4,5}$/),
  venue: z.string().min(1),
  /** The repository, owner/name. */
  code: z.string().regex(/^[\w.-]+\/[\w.-]+$/),
  transcription: z.string().min(1),
  /** How the benchmark ran the methods (not the original papers' protocols). */
  protocol: z.string().min(1),
  sources: z.record(z.string(), SourceSchema),
  rows: BenchmarkRowSchema.array().min(1),
}).superRefine((b, ctx) => {
  b.rows.forEach((r, i) => {
    if (!(r.source_id in b.sources)) {
      ctx.addIssue({
        code: "custom",
        path: ["rows", i, "source_id"],
        message: `unknown source ${r.source_id}`,
      });
    }
  });
});
export type Benchmark = z.infer<typeof BenchmarkSchema>;

/** Validate a benchmark file (a TypeError names every failing path). */
export function parseBenchmark(value: unknown, where: string): Benchmark {
  return parseOrThrow(BenchmarkSchema, value, where);
}

/** Every benchmark the repository holds. */
export const BENCHMARKS: readonly Benchmark[] = [
  parseBenchmark(mqbenchTable, "papers/benchmarks/mqbench.json"),
];
