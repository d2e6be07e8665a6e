/**
 * `deno task error-profile --model NAME|FILE.onnx --qdq [LABEL=]FILE.onnx [--qdq …] [--images N]
 * [--data DIR] [--size S] [--at units|nodes] [--channels VALUE [--top N]] [--json FILE]`
 *
 * Where along the network each quantized model's error comes from: the SQNR (dB) of every
 * reconstruction unit's output of each exported QDQ model (`deno task quantize --out`) against the
 * BN-folded FP model, on the first `--images` (default 256) images of `--data` (default: the
 * shared 1,300-image ImageNet validation subset), plus top-1 agreement with the FP model and the
 * mean KL(FP ‖ quantized) of the predictions. `--at nodes` compares every node's output instead
 * (the dequantized value where an activation quantizer sits). Prints a table; `--json` writes a record with the
 * files' sha256 and the commit.
 *
 * @module
 */
import { parseCli } from "../runtime/cli_args.ts";
import { loadOnnx, sha256Hex } from "../models/onnx.ts";
import { foldBatchNorm } from "../models/fold_bn.ts";
import { ImageNetDataset } from "../datasets/imagenet.ts";
import { gitCommit } from "../papers/runner.ts";
import { resolveModelInput } from "./_quant/model_input.ts";
import {
  type ChannelError,
  type ErrorProfile,
  errorProfile,
  type ProfiledModel,
} from "./error_profile.ts";

const DATA = new URL(
  "../../shared/assets/imagenet/ilsvrc2012_val_subset1300_227px/",
  import.meta.url,
);

const USAGE = "usage: deno task error-profile --model NAME|FILE.onnx --qdq [LABEL=]FILE.onnx " +
  "[--qdq …] [--images N] [--data DIR] [--size N] [--at units|nodes] [--channels VALUE [--top N]] " +
  "[--json FILE]";

const { values: a } = parseCli(USAGE, {
  args: Deno.args,
  options: {
    model: { type: "string" },
    qdq: { type: "string", multiple: true },
    images: { type: "string", default: "256" },
    data: { type: "string", default: DATA.pathname },
    size: { type: "string" },
    json: { type: "string" },
    at: { type: "string", default: "units" },
    channels: { type: "string" },
    top: { type: "string", default: "8" },
  },
});
if (!a.model || !a.qdq?.length) {
  console.error(USAGE);
  Deno.exit(2);
}
if (a.at !== "units" && a.at !== "nodes") {
  console.error(`--at must be "units" or "nodes", got "${a.at}"`);
  Deno.exit(2);
}
const top = Number(a.top);
if (!Number.isInteger(top) || top < 1) {
  console.error(`--top must be a positive integer, got "${a.top}"`);
  Deno.exit(2);
}
const images = Number(a.images);
if (!Number.isInteger(images) || images < 1) {
  console.error(`--images must be a positive integer, got "${a.images}"`);
  Deno.exit(2);
}

const { path, name, spec } = resolveModelInput(a.model, a.size);
const { graph } = foldBatchNorm(loadOnnx(path));
const models: (ProfiledModel & { file: string; sha256: string })[] = [];
for (const q of a.qdq) {
  const eq = q.indexOf("=");
  const file = eq > 0 && !q.slice(0, eq).includes("/") ? q.slice(eq + 1) : q;
  const label = file === q ? file.split("/").pop()!.replace(/(\.qdq)?\.onnx$/, "") : q.slice(0, eq);
  const bytes = await Deno.readFile(file).catch((e) => {
    console.error(`error-profile: cannot read ${file}: ${(e as Error).message}`);
    Deno.exit(2);
  });
  models.push({ label, file, bytes, sha256: sha256Hex(bytes) });
}

const data = await ImageNetDataset.fromList(a.data!);
async function* batches() {
  for await (const b of data.batches({ spec, batchSize: 32, limit: images })) {
    yield { host: b.images, shape: b.shape };
  }
}
const t0 = performance.now();
const p = await errorProfile(graph, models, batches(), { at: a.at, channels: a.channels })
  .catch((e) => {
    console.error(`error-profile: ${(e as Error).message}`);
    Deno.exit(2);
  });
const seconds = (performance.now() - t0) / 1000;
console.log(table(p));
if (p.channels) console.log(channelTable(p.labels, p.channels, top));
console.log(`${p.images} images of ${a.data}, ${seconds.toFixed(1)} s`);

if (a.json) {
  const record = {
    schema: "ptq-bench/error-profile@1",
    ptq_bench: gitCommit(),
    created: new Date().toISOString(),
    model: { name, path, sha256: sha256Hex(await Deno.readFile(path)) },
    data: a.data,
    images: p.images,
    at: a.at,
    models: models.map((m) => ({ label: m.label, file: m.file, sha256: m.sha256 })),
    // JSON has no Infinity: an exact match is written as null.
    units: p.units.map((u) => ({ ...u, sqnr: u.sqnr.map((x) => (isFinite(x) ? x : null)) })),
    agreement: p.agreement,
    kl: p.kl,
    ...(p.channels ? { channels: p.channels } : {}),
    seconds,
  };
  await Deno.writeTextFile(a.json, JSON.stringify(record, null, 1) + "\n");
  console.log(`wrote ${a.json}`);
}

function table(p: ErrorProfile): string {
  const w = Math.max(8, ...p.units.map((u) => u.unit.length));
  const cols = p.labels.map((l) => Math.max(8, l.length));
  const head = [
    "unit".padEnd(w),
    "FP RMS".padStart(8),
    ...p.labels.map((l, i) => l.padStart(cols[i])),
  ];
  const lines = [head.join("  "), head.map((h) => "-".repeat(h.length)).join("  ")];
  for (const u of p.units) {
    lines.push([
      u.unit.padEnd(w),
      u.fpRms.toPrecision(3).padStart(8),
      ...u.sqnr.map((x, i) => (isFinite(x) ? x.toFixed(2) : "exact").padStart(cols[i])),
    ].join("  "));
  }
  const foot = (title: string, xs: number[], d: number) =>
    [title.padEnd(w), "".padStart(8), ...xs.map((x, i) => x.toFixed(d).padStart(cols[i]))].join(
      "  ",
    );
  lines.push(foot("top-1 = FP (%)", p.agreement, 2), foot("KL(FP‖Q)", p.kl, 4));
  return `SQNR (dB) of each ${a.at === "nodes" ? "node" : "unit"}'s output against the FP model\n` +
    lines.join("\n");
}

/** The `top` channels by the last model's share of the value's error. */
function channelTable(labels: string[], c: ChannelError, top: number): string {
  const total = c.noise.map((z) => z.reduce((s, x) => s + x, 0));
  const last = c.noise.length - 1;
  const order = c.fpEnergy.map((_, i) => i).sort((i, j) => c.noise[last][j] - c.noise[last][i]);
  const k = c.producer;
  const head = [
    "channel",
    ...labels.map((l) => `${l} share %`),
    ...(k ? ["Σw FP", ...labels.map((l) => `Σw ${l}`), "bias"] : []),
  ];
  const rows = order.slice(0, top).map((i) => [
    String(i),
    ...c.noise.map((z, m) => (total[m] > 0 ? (100 * z[i]) / total[m] : 0).toFixed(1)),
    ...(k
      ? [
        k.fpKernelSum[i].toFixed(4),
        ...k.kernelSum.map((s) => (s ? s[i].toFixed(4) : "—")),
        k.bias[i].toFixed(3),
      ]
      : []),
  ]);
  const w = head.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (r: string[]) => r.map((x, j) => x.padStart(w[j])).join("  ");
  return [
    `${c.value}: the ${Math.min(top, order.length)} of ${order.length} channels with most of ` +
    `${labels[last]}'s error${
      k ? ` (produced by ${k.node}; Σw: kernel sum per output channel)` : ""
    }`,
    line(head),
    w.map((n) => "-".repeat(n)).join("  "),
    ...rows.map(line),
  ].join("\n");
}
