/**
 * Zod schemas for a paper's metadata and its reported tables as long, typed rows.
 *
 * One reported row is one printed number: (paper, table, model, W/A bits, method) → value, with
 * the FP32 baseline printed beside it and where it was read (source id, table, row, column).
 * Numbers are numbers; a cell the paper leaves empty has no row (never 0). Values are percent.
 *
 * @example
 * ```ts
 * import { parseOrThrow, ReportedRowSchema } from "./schema.ts";
 * const row = parseOrThrow(ReportedRowSchema, {
 *   paper: "pdquant", table: "pdquant-README", model: "ResNet-18", arch: "resnet18",
 *   w_bits: 2, a_bits: 2, method: "pdquant", method_printed: "PD-Quant", origin: "proposed",
 *   metric: "top1", value: 53.08, fp32: 71.01, primary: true, verified: true,
 *   source: { paper: "pdquant", source_id: "P1", table: "README Results", row: "PD-Quant W2A2",
 *     column: "ResNet-18" },
 * }, "example row");
 * console.log(row.value); // 53.08
 * ```
 *
 * @module
 */
import { z } from "zod";

/** A paper id: lower-case, e.g. "pdquant", "mrecg". */
export const PaperIdSchema = z.string().regex(/^[a-z][a-z0-9_]*$/, "a lower-case paper id");
/** A method id as the harness names it: "pdquant", "qdrop", "mrecg+brecq", "aciq-mix"… */
export const MethodIdSchema = z.string().regex(
  /^[a-z][a-z0-9_.+-]*$/,
  "a lower-case method id like 'qdrop' or 'mrecg+brecq'",
);
/** A canonical architecture id: "resnet18", "mobilenetv2_x0.5", "regnetx_600mf"… */
export const ArchIdSchema = z.string().regex(/^[a-z][a-z0-9_.]*$/, "a lower-case architecture id");
/** Bits of a weight or activation quantizer (32 means not quantized). */
export const BitsSchema = z.int().min(1).max(32);
/** What a value measures: ImageNet-style top-1 accuracy (%), or detection mAP (%). */
export const MetricSchema = z.enum(["top1", "map"]);
export type Metric = z.infer<typeof MetricSchema>;
/** A percentage: finite and within [0, 100]. */
export const PercentSchema = z.number().min(0).max(100);

/** Where a number was read: a source document of the paper's JSON transcription. */
export const SourceSchema = z.strictObject({
  kind: z.string().min(1),
  locator: z.string().min(1),
  note: z.string().optional(),
});
export type Source = z.infer<typeof SourceSchema>;

/** A checkpoint the paper evaluated (its FP32 top-1 as printed, and how to obtain it). */
export const CheckpointSchema = z.strictObject({
  /** e.g. "brecq_v1.0/resnet18" */
  id: z.string().min(1),
  arch: ArchIdSchema,
  /** The model name as printed in the paper's table. */
  model: z.string().min(1),
  /** FP32 top-1 (%) as printed. */
  fp32: PercentSchema,
  source_id: z.string().min(1),
  /** Where the weights come from. */
  origin: z.string().min(1),
  /** The released file name, where known. */
  file: z.string().optional(),
  /** The ONNX file name the `imagenet` suite looks for in --models-dir. */
  onnx: z.string().regex(/^[A-Za-z0-9_.-]+\.onnx$/),
  /** Set when the checkpoint's identity is inferred rather than stated. */
  inferred: z.string().optional(),
});
export type Checkpoint = z.infer<typeof CheckpointSchema>;

/** A paper's metadata. */
export const PaperMetaSchema = z.strictObject({
  id: PaperIdSchema,
  /** The key of the reference transcription (the transcription's own key), e.g. "modcap". */
  table_key: z.string().min(1),
  title: z.string().min(1),
  short: z.string().min(1),
  authors: z.string().min(1),
  arxiv: z.string().regex(/^\d{4}\.\d{4,5}$/, "an arXiv id like 2212.07048"),
  venue: z.string().min(1),
  /** The official code (empty where none exists, e.g. multipoint quantization). */
  code: z.strictObject({
    repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, "owner/name"),
    commit: z.string().regex(/^[0-9a-f]{7,40}$/),
    note: z.string().optional(),
  }).array(),
  transcription_status: z.string().min(1),
  not_found: z.string().array(),
  sources: z.record(z.string(), SourceSchema),
  checkpoints: CheckpointSchema.array(),
  secondary_facts: z.string().array(),
});
export type PaperMeta = z.infer<typeof PaperMetaSchema>;

/** Where one reported number was printed. */
export const RowSourceSchema = z.strictObject({
  /** The paper whose metadata defines `source_id` (the row may be borrowed from another paper). */
  paper: PaperIdSchema,
  source_id: z.string().min(1),
  /** The table as the source labels it, e.g. "Table 1" or "README 'Results'". */
  table: z.string().min(1),
  /** The printed row label, e.g. "QDROP [30] W2A2". */
  row: z.string().min(1),
  /** The printed column label, e.g. "ResNet-18". */
  column: z.string().min(1),
});

/** One reported number of a paper's table, in long form. */
export const ReportedRowSchema = z.strictObject({
  /** The paper whose table printed this number. */
  paper: PaperIdSchema,
  /** The transcription's table id, e.g. "pdquant-README", "modcap-T1-submission". */
  table: z.string().min(1),
  /** The model as printed. */
  model: z.string().min(1),
  arch: ArchIdSchema,
  /** The checkpoint id in the paper's metadata, where known. */
  checkpoint: z.string().optional(),
  w_bits: BitsSchema,
  a_bits: BitsSchema,
  method: MethodIdSchema,
  method_printed: z.string().min(1),
  /** proposed: the paper's own method; rerun: re-run by the authors (`*`); cited: copied. */
  origin: z.enum(["proposed", "rerun", "cited"]),
  /** Free-form setting notes (dataset, calibration, first/last layer). */
  setting: z.record(z.string(), z.string()).optional(),
  metric: MetricSchema,
  value: PercentSchema,
  /** The FP32 baseline printed for this model (absent when the source gives none). */
  fp32: PercentSchema.optional(),
  source: RowSourceSchema,
  /** true: read from a primary source; false: a secondary source (label it so in reports). */
  verified: z.boolean(),
  /** Why this row is an inference, when it is one. */
  inferred: z.string().optional(),
  /** The paper version the value belongs to, e.g. "arXiv v1/v2", "arXiv v3 / CVPR 2023". */
  version: z.string().optional(),
  version_note: z.string().optional(),
  /** The row the harness compares against; other rows of the same cell are shown beside it. */
  primary: z.boolean(),
  /** A printed gain, e.g. "(+1.71)" over QDrop. */
  printed_delta: z.strictObject({ value: z.number(), vs: MethodIdSchema }).optional(),
  note: z.string().optional(),
});
export type ReportedRow = z.infer<typeof ReportedRowSchema>;

/** A stored paper table file: metadata plus rows. */
export const PaperTableFileSchema = z.strictObject({
  generated_by: z.string(),
  from: z.string().array(),
  meta: PaperMetaSchema,
  rows: ReportedRowSchema.array().min(1),
}).superRefine((file, ctx) => {
  const seen = new Map<string, number>();
  file.rows.forEach((row, i) => {
    if (!row.primary) return;
    const key = rowCellKey(row);
    const prev = seen.get(key);
    if (prev !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["rows", i, "primary"],
        message: `a second primary row for ${key} (the first is rows.${prev})`,
      });
    }
    seen.set(key, i);
  });
});
export type PaperTableFile = z.infer<typeof PaperTableFileSchema>;

/** The key of the reported cell a row belongs to: `arch/wXaY/method/metric`. */
export function rowCellKey(
  row: Pick<ReportedRow, "arch" | "w_bits" | "a_bits" | "method" | "metric">,
): string {
  return `${row.arch}/w${row.w_bits}a${row.a_bits}/${row.method}/${row.metric}`;
}

/** Format zod issues as lines `path: message` (path like `rows.3.value`, or `(root)`). */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.length ? issue.path.map(String).join(".") : "(root)";
      return `  ${path}: ${issue.message}`;
    })
    .join("\n");
}

/**
 * Parse `value` with `schema`, or throw a TypeError naming `where` and every failing zod path.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { parseOrThrow } from "./schema.ts";
 * try {
 *   parseOrThrow(z.object({ a: z.number() }), { a: "x" }, "demo");
 * } catch (e) {
 *   console.log((e as Error).message.includes("a: ")); // true
 * }
 * ```
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: string,
): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new TypeError(`Invalid ${where}:\n${formatIssues(result.error)}`);
  }
  return result.data;
}

/**
 * Where a paper's run happens. `proxy`: the project's own small models on Fashion-MNIST;
 * `imagenet-subset`: shared ImageNet models on the shared 1,300 val images; `imagenet`: the
 * paper's checkpoint (exported to ONNX by the user) on the user's full val set; `voc`: detection.
 */
export const PaperSuiteSchema = z.enum(["proxy", "imagenet-subset", "imagenet", "voc"]);
export type PaperSuite = z.infer<typeof PaperSuiteSchema>;
/**
 * Where any run happens: a paper's suite, or `adhoc` (`deno task quantize`: the model and image
 * folders named on the command line, recorded in the run's `inputs`).
 */
export const SuiteSchema = z.enum([...PaperSuiteSchema.options, "adhoc"]);
export type Suite = z.infer<typeof SuiteSchema>;
/** The paper suites, in report order. */
export const SUITES: readonly PaperSuite[] = PaperSuiteSchema.options;

/**
 * How much compute a run gets: `smoke` (seconds), `quick` (minutes), `paper` (the paper's), or
 * `custom` (the iterations per unit and calibration size given on the command line; both are
 * recorded in the run's config as `iters` and `calib_n`).
 */
export const BudgetNameSchema = z.enum(["smoke", "quick", "paper", "custom"]);
export type BudgetName = z.infer<typeof BudgetNameSchema>;
