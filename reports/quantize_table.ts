/**
 * Tables of measured quantization runs, made from the run records themselves (never typed in):
 *
 * - {@linkcode quantizeMatrix}: one model's W/A × method table from `deno task quantize --json`
 *   records (`.json`) and `deno task reproduce` records (`.jsonl`). Each cell lists every setting
 *   that was measured — iterations per unit and AdaRound learning rate — with mean ± std over
 *   seeds where a setting has several; the last column is what the papers report for the same
 *   architecture (read from `papers/`).
 * - {@linkcode quantizeTable}: one row per quantize record with its setup and costs: method,
 *   bits, iterations per unit, calibration and evaluation images, FP32, simulated and exported
 *   top-1, wall-clock, peak memory, commit.
 *
 * `deno task table` prints either (`cli/table.ts`).
 *
 * @module
 */
import { migrateRecord, PAPERS, RECORD_SCHEMA_VERSION } from "../papers/mod.ts";

// ---------------------------------------------------------------------------------------------
// The W/A × method matrix

/** One measured run, reduced to what the table shows. */
export interface MatrixEntry {
  method: string;
  w: number;
  a: number;
  /** Iterations per reconstruction unit; null for methods that do not reconstruct (RTN). */
  iters: number | null;
  /** AdaRound learning rate; null where the method has none. */
  lr: number | null;
  seed: number;
  top1: number;
  calibN: number | null;
  /**
   * Calibration preprocessing: the model's own evaluation preprocessing (TF central crop for the
   * shared MobileNets) or a plain resize. Quantize records without `calibration.preprocess`
   * used a plain resize; reproduce records always used the model's own.
   */
  calibPrep: "model" | "plain";
  evalN: number;
  fp32: number | null;
  /** Where the number comes from: `file` or `file:line`. */
  source: string;
}

type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (x && typeof x === "object" ? x as Obj : {});
const num = (x: unknown): number | null => (typeof x === "number" ? x : null);

const RECONSTRUCTS = (method: string) => method !== "rtn";

function settings(method: string, config: Obj): { iters: number | null; lr: number | null } {
  if (!RECONSTRUCTS(method)) return { iters: null, lr: null };
  const recon = obj(config.recon);
  return {
    iters: num(recon.iters) ?? num(config.iters),
    lr: num(recon.weightLr) ?? num(config.weightLr),
  };
}

/**
 * The entry of one result record (`papers/record.ts`): a `deno task reproduce` line, or a
 * `deno task quantize --json` record (suite `adhoc`; older ones migrated on reading).
 */
export function fromReproduceRecord(r: Obj, source: string): MatrixEntry {
  const config = obj(obj(r.config).method);
  // BRECQ runs recorded before the official two-stage protocol (no activation stage in their
  // config) were the joint variant, today's `brecq-joint`.
  const method = r.method === "mrecg" && config.base
    ? `mrecg+${config.base}`
    : r.method === "brecq" && !("actRecon" in config)
    ? "brecq-joint"
    : String(r.method);
  const bits = obj(r.bits);
  const metrics = obj(r.metrics);
  if (typeof metrics.top1 !== "number") throw new TypeError(`${source}: record has no top1`);
  return {
    method,
    w: Number(bits.w),
    a: Number(bits.a),
    ...settings(method, config),
    seed: Number(r.seed),
    top1: metrics.top1,
    calibN: num(obj(r.calibration).n),
    // Reproduce runs calibrate with the model's own preprocessing; ad-hoc runs record theirs.
    calibPrep: obj(r.adhoc).calib_preprocess === "plain" ? "plain" : "model",
    evalN: Number(metrics.n),
    fp32: num(obj(r.fp32).top1),
    source,
  };
}

/** Whether `r` is a result record (error profiles share the folders of `.json` records). */
function isResult(r: Obj, file: string): boolean {
  return file.endsWith(".jsonl") || r.schema === RECORD_SCHEMA_VERSION;
}

/**
 * The records in one file's text: a `.jsonl` file holds one record per line (sources
 * `file:line`), any other file one JSON record. Older record versions come migrated
 * (`papers/record_migrate.ts`). A line or file that is not JSON is a SyntaxError naming it.
 */
export function recordsOf(text: string, file: string): [Obj, string][] {
  const parse = (s: string, source: string): Obj => {
    try {
      return obj(migrateRecord(JSON.parse(s)));
    } catch (e) {
      throw new SyntaxError(`${source}: not a JSON record (${(e as Error).message})`);
    }
  };
  return file.endsWith(".jsonl")
    ? text.split("\n").flatMap((
      l,
      i,
    ) => (l.trim() ? [[parse(l, `${file}:${i + 1}`), `${file}:${i + 1}`]] : []))
    : [[parse(text, file), file]];
}

/**
 * The entries of `model` among one file's result records (`reproduce` lines, `quantize --json`
 * records); other records (error profiles) share the folders and carry no accuracy cell.
 */
export function entriesOf(records: [Obj, string][], file: string, model: string): MatrixEntry[] {
  return records
    .filter(([r]) => obj(r.model).name === model && isResult(r, file))
    .map(([r, source]) => fromReproduceRecord(r, source));
}

/** The entries of `model` in files (`.json`: one record; `.jsonl`: one record per line). */
export async function readEntries(files: string[], model: string): Promise<MatrixEntry[]> {
  const out: MatrixEntry[] = [];
  for (const file of files) {
    out.push(...entriesOf(recordsOf(await Deno.readTextFile(file), file), file, model));
  }
  return out;
}

const METHOD_ORDER = [
  "rtn",
  "adaround",
  "brecq",
  "brecq-joint",
  "qdrop",
  "pdquant",
  "mrecg+brecq",
  "mrecg+qdrop",
];
const BITS_ORDER = ["4/4", "2/4", "4/2", "3/3", "2/2"];

const PREP = { model: "cropped calib", plain: "resized calib" } as const;

const mostCommon = <T>(xs: T[]): T | undefined => {
  const n = new Map<T, number>();
  for (const x of xs) n.set(x, (n.get(x) ?? 0) + 1);
  return [...n].sort((p, q) => q[1] - p[1])[0]?.[0];
};

const lrText = (lr: number) => lr.toExponential(0);

/** A cell's text: one item per setting, sorted by iterations then learning rate. */
export function cellText(
  entries: MatrixEntry[],
  common: { calibN?: number | null; calibPrep?: string; evalN?: number },
): string {
  const groups = new Map<string, MatrixEntry[]>();
  for (const e of entries) {
    const key = JSON.stringify([e.iters, e.lr, e.calibN, e.calibPrep, e.evalN]);
    groups.set(key, [...(groups.get(key) ?? []), e]);
  }
  return [...groups.values()]
    .sort((p, q) => (p[0].iters ?? 0) - (q[0].iters ?? 0) || (p[0].lr ?? 0) - (q[0].lr ?? 0))
    .map((g) => {
      const e = g[0];
      const seeds = new Set(g.map((x) => x.seed));
      const spread = g.length > 1 && seeds.size === g.length;
      let value = g.map((x) => x.top1.toFixed(2)).join(" / ");
      if (spread) {
        const m = g.reduce((s, x) => s + x.top1, 0) / g.length;
        const sd = Math.sqrt(g.reduce((s, x) => s + (x.top1 - m) ** 2, 0) / (g.length - 1));
        value = `${m.toFixed(2)} ± ${sd.toFixed(2)}`;
      }
      const extras = [
        spread ? `n=${g.length}` : null,
        g.length > 1 && !spread ? "repeated seeds" : null,
        e.iters === null ? null : `${e.iters} it`,
        e.lr === null ? null : lrText(e.lr),
        e.calibN !== common.calibN ? `${e.calibN} calib` : null,
        e.calibPrep !== common.calibPrep ? PREP[e.calibPrep] : null,
        e.evalN !== common.evalN ? `${e.evalN} val` : null,
      ].filter((x): x is string => x !== null);
      return extras.length ? `${value} (${extras.join(", ")})` : value;
    })
    .join("; ");
}

/** What the papers report for `arch` at each W/A, per method (primary rows, first paper wins). */
export function paperValues(arch: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const paper of Object.values(PAPERS)) {
    for (const r of paper.rows) {
      if (r.arch !== arch || !r.primary || r.metric !== "top1") continue;
      if (r.model.includes("x0.")) continue; // width multipliers other than ×1.0
      const bits = `${r.w_bits}/${r.a_bits}`;
      const m = out.get(bits) ?? new Map<string, number>();
      if (!m.has(r.method)) m.set(r.method, r.value);
      out.set(bits, m);
    }
  }
  return out;
}

/** The markdown table: a row per W/A, a column per method measured, and the papers' values. */
export function quantizeMatrix(entries: MatrixEntry[], arch: string): string {
  const methods = METHOD_ORDER.filter((m) => entries.some((e) => e.method === m))
    .concat(
      [...new Set(entries.map((e) => e.method))].filter((m) => !METHOD_ORDER.includes(m)).sort(),
    );
  const paper = paperValues(arch);
  const bitsOf = (e: MatrixEntry) => `${e.w}/${e.a}`;
  const measuredBits = new Set(entries.map(bitsOf));
  const bits = BITS_ORDER.filter((b) => measuredBits.has(b))
    .concat([...measuredBits].filter((b) => !BITS_ORDER.includes(b)).sort());
  const common = {
    calibN: mostCommon(entries.filter((e) => e.calibN !== null).map((e) => e.calibN)),
    calibPrep: mostCommon(entries.map((e) => e.calibPrep)),
    evalN: mostCommon(entries.map((e) => e.evalN)),
  };
  const head = ["W/A", ...methods, `paper (${arch})`];
  const rows = bits.map((b) => {
    const [w, a] = b.split("/");
    const reported = paper.get(b);
    // The papers' BRECQ rows stand beside either BRECQ variant the table shows.
    const paperMethod = (m: string) => (m === "brecq-joint" ? "brecq" : m);
    const paperText = [...new Set(methods.map(paperMethod))].filter((m) => reported?.has(m))
      .map((m) => `${m} ${reported!.get(m)!.toFixed(2)}`).join(" · ") || "—";
    return [
      `W${w}A${a}`,
      ...methods.map((m) => {
        const es = entries.filter((e) => e.method === m && bitsOf(e) === b);
        return es.length ? cellText(es, common) : "not run";
      }),
      paperText,
    ];
  });
  const fp32 = mostCommon(entries.filter((e) => e.fp32 !== null).map((e) => e.fp32));
  // The model's own preprocessing is a crop for the shared ImageNet models, and whatever the
  // proxy models' data take on the embedded suite.
  const prep = common.calibPrep === "model" ? "the model's own preprocessing" : "a plain resize";
  const caption = `${entries.length} records; ${common.calibN ?? "?"} calibration images ` +
    `(${prep}) and ${common.evalN} evaluation images unless a cell says otherwise; FP32 ` +
    `${fp32?.toFixed(2) ?? "?"}; "it" = iterations per unit, then the AdaRound learning rate.`;
  return [caption, "", ...[head, head.map(() => "---"), ...rows].map((c) => `| ${c.join(" | ")} |`)]
    .join("\n");
}

// ---------------------------------------------------------------------------------------------
// One row per quantize record

/** What {@linkcode quantizeTable} shows of one run record. */
export interface RunRow {
  method: string;
  bits: { w: number; a: number };
  iters: number;
  seed: number;
  calibN: number | null;
  evalN: number;
  fp32: number | null;
  top1: number;
  /** The exported QDQ model as written, and on onnxruntime's fused integer kernels. */
  qdq?: number;
  int8?: number;
  /** Seconds of quantization alone, where a record says (migrated quantize records). */
  quantizeS?: number;
  wallS: number;
  peakMb: number;
  commit: string;
}

/** One result record as a row of {@linkcode quantizeTable}; null for a record that is not a run. */
export function runOf(r: Obj, file: string, source = file): RunRow | null {
  if (!isResult(r, file)) return null;
  const e = fromReproduceRecord(r, source);
  const notes = Array.isArray(r.notes) ? r.notes.map(String) : [];
  const noted = (re: RegExp) => {
    const m = notes.map((n) => re.exec(n)).find((m) => m);
    return m ? Number(m[1]) : undefined;
  };
  return {
    method: e.method,
    bits: { w: e.w, a: e.a },
    iters: e.iters ?? 0,
    seed: e.seed,
    calibN: e.calibN,
    evalN: e.evalN,
    fp32: e.fp32,
    top1: e.top1,
    qdq: num(obj(r.exported).top1) ?? undefined,
    // Records carry the fused-kernel accuracy (older ones only in a note); migrated quantize
    // records also note their quantization seconds.
    int8: num(obj(r.exported_int8).top1) ?? noted(/fused integer kernels[^:]*: top-1 ([\d.]+)/),
    quantizeS: noted(/quantization took (\d+) s/),
    wallS: Number(r.wall_s),
    peakMb: Number(r.peak_mem_mb),
    commit: String(obj(r.versions).ptq_bench ?? "not recorded"),
  };
}

const f2 = (x: number | undefined | null) => (x === undefined || x === null ? "—" : x.toFixed(2));

/** One markdown row per record, sorted by W/A then method. */
export function quantizeTable(records: { file: string; r: RunRow }[]): string {
  const head = [
    "method",
    "W/A",
    "iters/unit",
    "seed",
    "calib",
    "eval images",
    "FP32",
    "simulated top-1",
    "QDQ top-1",
    "QDQ fused int8",
    "quantize s",
    "total s",
    "peak RSS MB",
    "commit",
    "record",
  ];
  const rows = [...records]
    .sort((a, b) =>
      a.r.bits.w - b.r.bits.w || a.r.bits.a - b.r.bits.a || a.r.method.localeCompare(b.r.method)
    )
    .map(({ file, r }) => [
      r.method,
      `W${r.bits.w}A${r.bits.a}`,
      String(r.iters),
      String(r.seed),
      String(r.calibN ?? "—"),
      String(r.evalN),
      f2(r.fp32),
      f2(r.top1),
      f2(r.qdq),
      f2(r.int8),
      r.quantizeS?.toFixed(0) ?? "—",
      r.wallS.toFixed(0),
      r.peakMb.toFixed(0),
      r.commit,
      `\`${file}\``,
    ]);
  return [head, head.map(() => "---"), ...rows].map((c) => `| ${c.join(" | ")} |`).join("\n");
}
