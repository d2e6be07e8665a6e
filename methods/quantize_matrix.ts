/**
 * `deno task table --model NAME FILE…` prints the W/A × method table of one
 * model's measured cells, made from the run records themselves (never typed in): `deno task quantize
 * --json` records (`.json`) and `deno task reproduce` records (`.jsonl`). Each cell lists every
 * setting that was measured — iterations per unit and AdaRound learning rate — with mean ± std over
 * seeds where a setting has several; the last column is what the papers report for the same
 * architecture (read from `papers/`).
 *
 * @module
 */
import { parseCli } from "../runtime/cli_args.ts";
import { PAPERS } from "../papers/mod.ts";

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

/** The entry of one `deno task quantize --json` record (schema `ptq-bench/quantize@1`). */
export function fromQuantizeRecord(r: Obj, source: string): MatrixEntry {
  if (r.schema !== "ptq-bench/quantize@1") throw new TypeError(`${source}: not a quantize record`);
  const config = obj(r.config);
  // MRECG runs on a base method; the papers name the pair (`mrecg+qdrop`).
  const method = r.method === "mrecg" && config.base ? `mrecg+${config.base}` : String(r.method);
  const bits = obj(r.bits);
  return {
    method,
    w: Number(bits.w),
    a: Number(bits.a),
    ...settings(method, config),
    seed: Number(r.seed),
    top1: Number(r.top1),
    calibN: num(obj(r.calibration).n) ?? num(config.calibSize),
    calibPrep: obj(obj(r.calibration).preprocess).choice === "model" ? "model" : "plain",
    evalN: Number(obj(r.eval).n),
    fp32: num(obj(r.fp32).top1),
    source,
  };
}

/** The entry of one `deno task reproduce` record (one JSON line). */
export function fromReproduceRecord(r: Obj, source: string): MatrixEntry {
  const method = String(r.method);
  const bits = obj(r.bits);
  const metrics = obj(r.metrics);
  if (typeof metrics.top1 !== "number") throw new TypeError(`${source}: record has no top1`);
  return {
    method,
    w: Number(bits.w),
    a: Number(bits.a),
    ...settings(method, obj(obj(r.config).method)),
    seed: Number(r.seed),
    top1: metrics.top1,
    calibN: num(obj(r.calibration).n),
    calibPrep: "model",
    evalN: Number(metrics.n),
    fp32: num(obj(r.fp32).top1),
    source,
  };
}

/** Read records from files (`.json`: one quantize record; `.jsonl`: reproduce records), keeping those of `model`. */
export async function readEntries(files: string[], model: string): Promise<MatrixEntry[]> {
  const out: MatrixEntry[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(file);
    const records: [Obj, string][] = file.endsWith(".jsonl")
      ? text.split("\n").flatMap((l, i) => (l.trim() ? [[JSON.parse(l), `${file}:${i + 1}`]] : []))
      : [[JSON.parse(text), file]];
    for (const [r, source] of records) {
      if (obj(r.model).name !== model) continue;
      // Other records (error profiles) share the folder; they carry no accuracy cell.
      if (!file.endsWith(".jsonl") && r.schema !== "ptq-bench/quantize@1") continue;
      out.push(
        file.endsWith(".jsonl") ? fromReproduceRecord(r, source) : fromQuantizeRecord(r, source),
      );
    }
  }
  return out;
}

const METHOD_ORDER = ["rtn", "adaround", "brecq", "qdrop", "pdquant", "mrecg+brecq", "mrecg+qdrop"];
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
    const paperText = methods.filter((m) => reported?.has(m))
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

if (import.meta.main) {
  const usage = "usage: deno task table --model NAME [--arch ARCH] FILE.json|FILE.jsonl…";
  const { values, positionals } = parseCli(usage, {
    args: Deno.args,
    options: { model: { type: "string" }, arch: { type: "string", default: "mobilenetv2" } },
    allowPositionals: true,
  });
  if (!values.model || positionals.length === 0) {
    console.error(usage);
    Deno.exit(2);
  }
  const entries = await readEntries(positionals, values.model);
  if (entries.length === 0) {
    console.error(`no record of model ${values.model} in ${positionals.length} files`);
    Deno.exit(1);
  }
  console.log(quantizeMatrix(entries, values.arch!));
}
