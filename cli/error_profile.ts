/**
 * `deno task error-profile`: where along the network each quantized model's error comes from
 * ({@linkcode errorProfile}): the SQNR (dB) of every reconstruction unit's output (or every node's,
 * `--at nodes`) of each exported QDQ model (`deno task quantize --out`) against the BN-folded FP
 * model, on the first `--limit` images of `--data`, plus top-1 agreement with the FP model and the
 * mean KL(FP ‖ quantized) of the predictions. Prints a table; `--json` writes a record with the
 * files' sha256 and the commit.
 *
 * @module
 */
import { sha256Hex } from "../models/onnx.ts";
import { foldBatchNorm } from "../models/fold_bn.ts";
import { IMAGENET_SUBSET } from "../models/eval.ts";
import { resolveModelInput } from "../models/model_input.ts";
import { ImageNetDataset } from "../datasets/imagenet.ts";
import {
  channelTable,
  errorProfile,
  type ProfiledModel,
  profileTable,
} from "../methods/error_profile.ts";
import { gitCommit } from "../papers/runner.ts";
import { ASSETS_FLAG, assetsRoot } from "./_assets.ts";
import { parseFlags, run, type TaskSpec, UsageError } from "./_flags.ts";
import { loadOnnxInput, parseInput, readInputBytes, requireFolder } from "./_input.ts";

/** The flags of `deno task error-profile`. */
export const SPEC = {
  name: "error-profile",
  summary:
    "where each exported QDQ model's error comes from: SQNR per unit (or node) against the " +
    "FP model, top-1 agreement, KL; `--channels` splits one value's error by channel, with the " +
    "producing conv's kernel sums",
  flags: [
    {
      name: "model",
      type: "string",
      required: true,
      placeholder: "NAME|FILE.onnx",
      help: "the FP model the QDQ models were quantized from: a registry name or an ONNX file",
    },
    {
      name: "qdq",
      type: "path",
      required: true,
      multiple: true,
      placeholder: "[LABEL=]FILE.onnx",
      help: "an exported QDQ model (`deno task quantize --out`), labelled LABEL in the tables " +
        "(default label: the file name)",
    },
    { name: "limit", type: "int", min: 1, default: 256, help: "the first N images of the data" },
    {
      name: "data",
      type: "path",
      placeholder: "DIR",
      help: `an ImageNet folder with labels.txt (default: <assets>/${IMAGENET_SUBSET})`,
    },
    ASSETS_FLAG,
    {
      name: "size",
      type: "int",
      min: 1,
      help: "input size of an ONNX file (default: the registry's, 224 for a file)",
    },
    {
      name: "at",
      type: "string",
      values: ["units", "nodes"],
      default: "units",
      help: "compare each reconstruction unit's output, or every node's (the dequantized value " +
        "where an activation quantizer sits)",
    },
    {
      name: "channels",
      type: "string",
      placeholder: "VALUE",
      help: "split this value's error by channel, with the producing conv's kernel sums",
    },
    {
      name: "top",
      type: "int",
      min: 1,
      default: 8,
      help: "how many channels `--channels` lists",
    },
    {
      name: "json",
      type: "path",
      placeholder: "FILE",
      help: "also write a record (files' sha256, commit, every row)",
    },
  ],
} as const satisfies TaskSpec;

/** `[LABEL=]FILE.onnx` → label and file (an `=` inside a path is part of the file name). */
function labelled(q: string): { label: string; file: string } {
  const eq = q.indexOf("=");
  const file = eq > 0 && !q.slice(0, eq).includes("/") ? q.slice(eq + 1) : q;
  const label = file === q ? file.split("/").pop()!.replace(/(\.qdq)?\.onnx$/, "") : q.slice(0, eq);
  return { label, file };
}

/** Profiles the models; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v } = parseFlags(SPEC, args);
  const dataDir = v.data ?? `${assetsRoot(v.assets)}/${IMAGENET_SUBSET}`;
  const { path, name, spec } = resolveModelInput(
    v.model,
    v.size === undefined ? undefined : String(v.size),
  );
  const { graph } = foldBatchNorm(await loadOnnxInput(path));
  const models: (ProfiledModel & { file: string; sha256: string })[] = [];
  for (const q of v.qdq) {
    const { label, file } = labelled(q);
    const bytes = await readInputBytes(file, "QDQ model");
    models.push({ label, file, bytes, sha256: sha256Hex(bytes) });
  }
  await requireFolder(dataDir, "data folder");
  const data = await parseInput(dataDir, () => ImageNetDataset.fromList(dataDir));
  async function* batches() {
    for await (const b of data.batches({ spec, batchSize: 32, limit: v.limit })) {
      yield { host: b.images, shape: b.shape };
    }
  }
  const t0 = performance.now();
  const p = await errorProfile(graph, models, batches(), { at: v.at, channels: v.channels })
    .catch((e) => {
      if (e instanceof RangeError && e.message.startsWith("--")) throw new UsageError(e.message);
      throw e;
    });
  const seconds = (performance.now() - t0) / 1000;
  console.log(profileTable(p, v.at));
  if (p.channels) console.log(channelTable(p.labels, p.channels, v.top));
  console.log(`${p.images} images of ${dataDir}, ${seconds.toFixed(1)} s`);

  if (v.json) {
    const record = {
      schema: "ptq-bench/error-profile@1",
      ptq_bench: gitCommit(),
      created: new Date().toISOString(),
      model: { name, path, sha256: sha256Hex(await Deno.readFile(path)) },
      data: dataDir,
      images: p.images,
      at: v.at,
      models: models.map((m) => ({ label: m.label, file: m.file, sha256: m.sha256 })),
      // JSON has no Infinity: an exact match is written as null.
      units: p.units.map((u) => ({ ...u, sqnr: u.sqnr.map((x) => (isFinite(x) ? x : null)) })),
      agreement: p.agreement,
      kl: p.kl,
      ...(p.channels ? { channels: p.channels } : {}),
      seconds,
    };
    await Deno.writeTextFile(v.json, JSON.stringify(record, null, 1) + "\n");
    console.log(`wrote ${v.json}`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
