/**
 * `deno task bench:recon`: seconds per reconstruction iteration ({@linkcode benchRecon}): batch
 * 32, AdaRound + LSQ, by default QDrop's W4A4 with drop 0.5 and input mix 0.5 (AdaRound/BRECQ are
 * `--drop 0 --mix 1`), on `--units` blocks, or single layers with `--layers` (AdaRound's units),
 * from unit `--from` of a real model, with `--images` random calibration images. Prints each
 * unit's median seconds per iteration, their mean and the wall-clock; the reconstruction's
 * per-unit lines go to stderr.
 *
 * @module
 */
import { benchRecon, RECON_BENCH_DEFAULTS as D } from "../methods/bench_recon.ts";
import { parseFlags, run, type TaskSpec, UsageError } from "./_flags.ts";
import { loadModelArg } from "./_input.ts";

/** The flags of `deno task bench:recon`. */
export const SPEC = {
  name: "bench:recon",
  summary: "seconds per reconstruction iteration (AdaRound + LSQ, QDrop's dropping) on a few " +
    "units of a real model ([docs/benchmarks.md](docs/benchmarks.md))",
  flags: [
    {
      name: "model",
      type: "string",
      default: "mobilenet_v2_tf2ptq",
      placeholder: "NAME|FILE.onnx",
      help: "a registry name (models/registry.ts) or an ONNX file",
    },
    {
      name: "layers",
      type: "boolean",
      help: "time single layers (AdaRound's units) instead of blocks (BRECQ's, QDrop's)",
    },
    { name: "from", type: "int", min: 0, default: D.from, help: "the first unit timed (0-based)" },
    { name: "units", type: "int", min: 1, default: D.units, help: "how many units are timed" },
    {
      name: "iters",
      type: "int",
      min: 2,
      default: D.iters,
      help: "reconstruction iterations per unit (the median is over the gaps between them)",
    },
    {
      name: "images",
      type: "int",
      min: 1,
      default: D.images,
      help: "random calibration images (the batch is 32)",
    },
    {
      name: "w",
      type: "int",
      min: 1,
      default: D.wBits,
      placeholder: "BITS",
      help: "weight bits (first and last layer 8)",
    },
    {
      name: "a",
      type: "int",
      min: 1,
      default: D.aBits,
      placeholder: "BITS",
      help: "activation bits",
    },
    {
      name: "drop",
      type: "number",
      min: 0,
      default: D.dropProb,
      placeholder: "P",
      help: "QDrop's drop probability, up to 1; 0 with --mix 1 is AdaRound/BRECQ",
    },
    {
      name: "mix",
      type: "number",
      min: 0,
      default: D.inputMixProb,
      placeholder: "P",
      help: "QDrop's input-mix probability, up to 1",
    },
    {
      name: "lr",
      type: "number",
      min: 0,
      default: D.weightLr,
      placeholder: "LR",
      help: "AdaRound's learning rate",
    },
    { name: "stamps", type: "boolean", help: "also print each iteration's seconds (stderr)" },
  ],
  notes: [
    "PTQ_PROFILE=1 adds the per-op table; PTQ_CPU_POOL_MB=N caps the CPU buffer pool " +
    "(0: no pool).",
  ],
} as const satisfies TaskSpec;

/** Runs the benchmark; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v } = parseFlags(SPEC, args);
  for (const f of ["drop", "mix"] as const) {
    if (v[f] > 1) throw new UsageError(`--${f}: expected at most 1, got ${v[f]}`);
  }
  const graph = await loadModelArg(v.model);
  let r;
  try {
    r = await benchRecon(graph, {
      layers: v.layers,
      from: v.from,
      units: v.units,
      iters: v.iters,
      images: v.images,
      wBits: v.w,
      aBits: v.a,
      dropProb: v.drop,
      inputMixProb: v.mix,
      weightLr: v.lr,
      log: (line) => console.error(line),
    });
  } catch (e) {
    if (e instanceof RangeError && /past the model/.test(e.message)) {
      throw new UsageError(`--from: ${e.message}`, { cause: e });
    }
    throw e;
  }
  if (v.stamps) {
    for (const u of r.units) {
      console.error(`${u.name}: ${u.iterations_s.map((s) => s.toFixed(2)).join(" ")} s`);
    }
  }
  for (const u of r.units) console.log(`${u.name}: ${u.median_s.toFixed(3)} s/iteration (median)`);
  console.log(
    `mean ${r.mean_s.toFixed(3)} s/iteration over ${r.units.length} units; ` +
      `total ${r.total_s.toFixed(1)} s`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
