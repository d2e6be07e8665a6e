/**
 * Conversion of the reference transcriptions (`paper_tables/<key>.json`) into the long rows of
 * `schema.ts`. Used by `convert_tables.ts`; the stored `papers/<id>/table.json` files are its output.
 *
 * Everything numeric is copied, never computed. Facts that the JSON does not hold (checkpoint file
 * names, the code commits read) come from METHODS.md and are marked where inferred.
 *
 * @module
 */
import type { Checkpoint, PaperMeta, PaperTableFile, ReportedRow } from "./schema.ts";

/** Printed model name → canonical architecture id. */
export const ARCH_OF_MODEL: Record<string, string> = {
  "ResNet-18": "resnet18",
  "ResNet-50": "resnet50",
  "MobileNetV2": "mobilenetv2",
  "MobileNetV2x1.0": "mobilenetv2",
  "MobileNetV2x0.75": "mobilenetv2_x0.75",
  "MobileNetV2x0.5": "mobilenetv2_x0.5",
  "MobileNetV2x0.35": "mobilenetv2_x0.35",
  "RegNetX-600MF": "regnetx_600mf",
  "RegNetX-3.2GF": "regnetx_3.2gf",
  "MnasNet-2.0": "mnasnet_x2.0",
};

/** Method name as the transcription spells it → harness method id. */
export const METHOD_ID: Record<string, string> = {
  "PD-Quant": "pdquant",
  "QDrop": "qdrop",
  "BRECQ": "brecq",
  "AdaRound": "adaround",
  "MRECG+BRECQ": "mrecg+brecq",
  "MRECG+QDrop": "mrecg+qdrop",
  "ACIQ-Mix": "aciq-mix",
  "ZeroQ": "zeroq",
  "LAPQ": "lapq",
  "AdaQuant": "adaquant",
  "Bit-Split": "bit-split",
};

/** The bit-widths PD-Quant's main table reports. */
export const PDQUANT_BITS: ReadonlyArray<readonly [number, number]> = [
  [4, 4],
  [2, 4],
  [4, 2],
  [2, 2],
];

// deno-lint-ignore no-explicit-any
type Json = any;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new RangeError(`Cannot convert: unknown ${what}`);
  return value;
}

function metricOf(m: string): "top1" | "map" {
  if (m === "top1_%") return "top1";
  if (m === "map_%") return "map";
  throw new RangeError(`Cannot convert: unknown metric ${m}`);
}

function originOf(methodNote: string | undefined, method: string): ReportedRow["origin"] {
  if (method === "PD-Quant" || method.startsWith("MRECG")) return "proposed";
  if (methodNote?.includes("re-run")) return "rerun";
  return "cited";
}

/** The printed row label of a record, read from the matching grid row of its table. */
function rowLabel(src: Json, rec: Json): string {
  const table = src.tables.find((t: Json) => t.table_id === rec.table_id);
  const printed = rec.method_printed ?? rec.method;
  const base = printed.replace(/\*$/, "");
  const row = table?.rows.find((r: Json) =>
    r.w_bits === rec.w_bits && r.a_bits === rec.a_bits &&
    (r.method_printed === printed || r.method_printed.replace(/\s*\[\d+\]$/, "") === printed ||
      r.method_printed.replace(/\*?\s*\[\d+\]$/, "") === base) &&
    r.values[rec.model] === rec.value
  );
  return `${row?.method_printed ?? printed} W${rec.w_bits}A${rec.a_bits}`;
}

const BRECQ_RELEASE = "BRECQ v1.0 release (github yhhhli/BRECQ releases/tag/v1.0)";
const BRECQ_FILES: Record<string, string> = {
  resnet18: "resnet18_imagenet.pth.tar",
  resnet50: "resnet50_imagenet.pth.tar",
  mobilenetv2: "mobilenetv2.pth.tar",
  regnetx_600mf: "regnet_600m.pth.tar",
  "regnetx_3.2gf": "regnet_3200m.pth.tar",
  "mnasnet_x2.0": "mnasnet.pth.tar",
};

function brecqCheckpoint(fp: Json): Checkpoint {
  const arch = need(ARCH_OF_MODEL[fp.model], `model ${fp.model}`);
  return {
    id: `brecq_v1.0/${arch}`,
    arch,
    model: fp.model,
    fp32: fp.top1,
    source_id: fp.source_id,
    origin: BRECQ_RELEASE,
    file: BRECQ_FILES[arch],
    onnx: `brecq_${arch}.onnx`,
  };
}

function mrecgCheckpoint(fp: Json): Checkpoint {
  const arch = need(ARCH_OF_MODEL[fp.model], `model ${fp.model}`);
  if (arch in BRECQ_FILES && !arch.startsWith("mobilenetv2")) return brecqCheckpoint(fp);
  const width = fp.model.replace("MobileNetV2x", "");
  return {
    id: `dli14/mobilenetv2_${width}`,
    arch,
    model: fp.model,
    fp32: fp.top1,
    source_id: fp.source_id,
    origin: "width-multiplier MobileNetV2 (d-li14/mobilenetv2.pytorch style), linked from the " +
      "bytedance/MRECG README",
    file: width === "0.5" ? "mobilenetv2_0.5-eaa6f9ad.pth" : undefined,
    onnx: `dli14_mobilenetv2_${width}.onnx`,
    inferred: "the checkpoint family is inferred from a file-name pattern (METHODS.md (a))",
  };
}

function metaOf(src: Json, id: string, short: string, extra: {
  code: PaperMeta["code"];
  checkpoints: Checkpoint[];
  sources?: PaperMeta["sources"];
}): PaperMeta {
  const secondary = [...(src.secondary_facts ?? [])];
  for (const c of src.headline_claims ?? []) {
    secondary.push(`headline claim (${c.source_id}): ${c.claim}`);
  }
  return {
    id,
    table_key: src.paper_key,
    title: src.title,
    short,
    authors: src.authors,
    arxiv: src.arxiv_id,
    venue: src.venue,
    code: extra.code,
    transcription_status: src.transcription_status,
    not_found: src.not_found ?? [],
    sources: { ...src.sources, ...(extra.sources ?? {}) },
    checkpoints: extra.checkpoints,
    secondary_facts: secondary,
  };
}

function strip<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** Convert one MRECG/ModCap record into a long row (`paper` names the table's own paper). */
function mrecgRow(mc: Json, rec: Json, checkpoints: Checkpoint[]): ReportedRow {
  const arch = need(ARCH_OF_MODEL[rec.model], `model ${rec.model}`);
  const method = need(METHOD_ID[rec.method], `method ${rec.method}`);
  const ck = checkpoints.find((c) => c.model === rec.model);
  return strip({
    paper: "mrecg",
    table: rec.table_id,
    model: rec.model,
    arch,
    checkpoint: ck?.id,
    w_bits: rec.w_bits,
    a_bits: rec.a_bits,
    method,
    method_printed: rec.method_printed,
    origin: originOf(rec.method_note, rec.method),
    setting: rec.setting,
    metric: metricOf(rec.metric),
    value: rec.value,
    fp32: rec.fp32_baseline ?? undefined,
    source: {
      paper: "mrecg",
      source_id: rec.source_id,
      table: rec.table,
      row: rowLabel(mc, rec),
      column: rec.model,
    },
    verified: rec.verified,
    version: rec.table_id === "modcap-T1-submission"
      ? "CVPR submission (Table 1 image)"
      : "official README (likely camera-ready)",
    primary: true,
    printed_delta: rec.printed_delta == null ? undefined : {
      value: rec.printed_delta,
      vs: method === "mrecg+brecq" ? "brecq" : "qdrop",
    },
    note: rec.method_note,
  } as ReportedRow);
}

const MRECG_CODE: PaperMeta["code"] = [
  { repo: "bytedance/MRECG", commit: "6e48c48", note: "official code (read for METHODS.md (a))" },
  {
    repo: "anonymouscvpr7568/MRECG",
    commit: "7364528",
    note: "anonymous submission release; acc.png is Table 1",
  },
];

/** Convert modcap.json into the stored MRECG table (every record, in source order). */
export function convertMrecg(mc: Json, fromPath: string): PaperTableFile {
  const checkpoints = mc.fp32_baselines.map(mrecgCheckpoint);
  const meta = metaOf(mc, "mrecg", "MRECG", { code: MRECG_CODE, checkpoints });
  const rows = mc.records.map((rec: Json) => mrecgRow(mc, rec, checkpoints));
  return { generated_by: "papers/convert_tables.ts", from: [fromPath], meta, rows };
}

/** Convert pdquant.json (plus MRECG Table 1's baselines for the same models) into PD-Quant's table. */
export function convertPdquant(
  pd: Json,
  mc: Json,
  fromPaths: string[],
): PaperTableFile {
  const checkpoints: Checkpoint[] = pd.fp32_baselines.map(brecqCheckpoint);
  const mrecgCheckpoints = mc.fp32_baselines.map(mrecgCheckpoint);
  const meta = metaOf(pd, "pdquant", "PD-Quant", {
    code: [{
      repo: "hustvl/PD-Quant",
      commit: "e12038e",
      note: "HEAD 2023-03-23; hyper-parameters from run_script.py and the README of 93312ff",
    }],
    checkpoints: [
      ...checkpoints,
      ...mrecgCheckpoints.filter((c: Checkpoint) => !checkpoints.some((k) => k.id === c.id)),
    ],
  });
  const rows: ReportedRow[] = [];
  const readme = pd.records.filter((r: Json) => r.source_id === "P1");
  for (const rec of readme) {
    const arch = need(ARCH_OF_MODEL[rec.model], `model ${rec.model}`);
    rows.push(strip({
      paper: "pdquant",
      table: rec.table_id,
      model: rec.model,
      arch,
      checkpoint: `brecq_v1.0/${arch}`,
      w_bits: rec.w_bits,
      a_bits: rec.a_bits,
      method: "pdquant",
      method_printed: rec.method_printed,
      origin: "proposed",
      setting: rec.setting,
      metric: metricOf(rec.metric),
      value: rec.value,
      fp32: rec.fp32_baseline,
      source: {
        paper: "pdquant",
        source_id: rec.source_id,
        table: rec.table,
        row: `${rec.method_printed} W${rec.w_bits}A${rec.a_bits}`,
        column: rec.model,
      },
      verified: rec.verified,
      version: "arXiv v1/v2",
      version_note: rec.version_note,
      primary: true,
    } as ReportedRow));
  }
  for (const abs of pd.abstract_values.filter((a: Json) => a.source_id === "P2")) {
    const arch = need(ARCH_OF_MODEL[abs.model], `model ${abs.model}`);
    rows.push({
      paper: "pdquant",
      table: "pdquant-abstract-v3",
      model: abs.model,
      arch,
      checkpoint: `brecq_v1.0/${arch}`,
      w_bits: abs.w_bits,
      a_bits: abs.a_bits,
      method: "pdquant",
      method_printed: "PD-Quant",
      origin: "proposed",
      metric: "top1",
      value: abs.value,
      source: {
        paper: "pdquant",
        source_id: abs.source_id,
        table: "abstract",
        row: `PD-Quant W${abs.w_bits}A${abs.a_bits}`,
        column: abs.model,
      },
      verified: true,
      version: abs.version,
      version_note: "CVPR/v3 revision of the README (v1/v2) cell; the other v3 cells are unknown",
      primary: false,
    });
  }
  for (const rec of pd.records.filter((r: Json) => r.source_id !== "P1")) {
    const arch = need(ARCH_OF_MODEL[rec.model], `model ${rec.model}`);
    const readmeRow = readme.find((r: Json) =>
      r.model === rec.model && r.w_bits === rec.w_bits && r.a_bits === rec.a_bits
    );
    rows.push(strip({
      paper: "pdquant",
      table: "pdquant-M2-summary",
      model: rec.model,
      arch,
      checkpoint: `brecq_v1.0/${arch}`,
      w_bits: rec.w_bits,
      a_bits: rec.a_bits,
      method: need(METHOD_ID[rec.method], `method ${rec.method}`),
      method_printed: rec.method,
      origin: "proposed",
      metric: metricOf(rec.metric),
      value: rec.value,
      source: {
        paper: "pdquant",
        source_id: rec.source_id,
        table: rec.table,
        row: `${rec.method} W${rec.w_bits}A${rec.a_bits}`,
        column: rec.model,
      },
      verified: rec.verified,
      version: "unknown (secondary summary)",
      version_note: readmeRow && readmeRow.value !== rec.value
        ? `differs from the README (v1/v2) value ${readmeRow.value}; possibly the v3 table`
        : undefined,
      primary: false,
      printed_delta: rec.printed_delta == null
        ? undefined
        : { value: rec.printed_delta, vs: need(METHOD_ID[rec.delta_vs], `method ${rec.delta_vs}`) },
    } as ReportedRow));
  }
  // MRECG Table 1's baselines for the architectures and bit-widths PD-Quant reports.
  const pdArchs = new Set(readme.map((r: Json) => ARCH_OF_MODEL[r.model]));
  for (const rec of mc.records) {
    if (rec.table_id !== "modcap-T1-submission" || rec.method.startsWith("MRECG")) continue;
    if (!pdArchs.has(ARCH_OF_MODEL[rec.model])) continue;
    if (!PDQUANT_BITS.some(([w, a]) => w === rec.w_bits && a === rec.a_bits)) continue;
    const row = mrecgRow(mc, rec, mrecgCheckpoints);
    row.inferred = "PD-Quant's own baseline rows were not retrieved; this is MRECG Table 1's " +
      "number for the same architecture and bit-width" +
      (row.arch === "mobilenetv2"
        ? ", on another MobileNetV2 checkpoint (FP32 72.20, not PD-Quant's 72.62)"
        : "") +
      (row.method === "qdrop"
        ? ". The QDROP rows equal the QDrop paper's own numbers; M2's printed PD-Quant deltas " +
          "imply PD-Quant printed other QDrop values (its own re-run)"
        : "");
    rows.push(row);
  }
  return { generated_by: "papers/convert_tables.ts", from: fromPaths, meta, rows };
}
