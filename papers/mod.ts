/**
 * Papers: reported tables as typed rows, recipes, claims, run plans and the result-record store.
 *
 * `PAPERS` is the registry: one literal object, no registration by import side effect.
 *
 * @example
 * ```ts
 * import { PAPERS } from "./mod.ts";
 * console.log(Object.keys(PAPERS)); // ["pdquant", "mrecg", "fdda"]
 * ```
 *
 * @module
 */
export * from "./schema.ts";
export * from "./cells.ts";
export * from "./record.ts";
export { migrateRecord } from "./record_migrate.ts";
export { definePaper, type PaperParts } from "./paper.ts";
export { fdda, mrecg, PAPERS, pdquant } from "./registry.ts";
export {
  type Benchmark,
  type BenchmarkRow,
  BENCHMARKS,
  BenchmarkSchema,
  parseBenchmark,
} from "./benchmarks/mod.ts";
export {
  consolidateShards,
  type CostEstimate,
  estimateCosts,
  formatDuration,
  paperRecordFiles,
  type PaperRecords,
  parseShard,
  partition,
  readPaperRecords,
  secondsOf,
  type Shard,
  shardFile,
  type ShardPlan,
} from "./shard.ts";
export {
  executeRun,
  gitCommit,
  ortAccuracy,
  paperOf,
  planPaper,
  reproduce,
  type ReproduceOptions,
  type ReproduceSummary,
  runCheckpoint,
  runComputationKey,
  shardPlans,
  type Skip,
} from "./runner.ts";
export {
  appendSamples,
  readSamples,
  type SampleSet,
  sampleSet,
  SampleSetSchema,
  samplesPath,
} from "./samples.ts";
export { type HostBatch, type SuiteInputs, suiteInputs, type SuitePaths } from "./suites.ts";
