/**
 * Reconstruction-iteration benchmark: the seconds one AdaRound + LSQ reconstruction iteration
 * takes (batch 32) on a few units of a real model, with QDrop's dropping and input mixing or
 * without (AdaRound/BRECQ are `dropProb: 0, inputMixProb: 1`). The units are blocks (BRECQ,
 * QDrop) or single layers (AdaRound's units), from unit `from` on; the calibration images are
 * random. Each unit's figure is the median of its iterations' seconds (from the reconstruction's
 * per-iteration log lines).
 *
 * The command is `deno task bench:recon` (`cli/bench_recon.ts`). Run it with `PTQ_PROFILE=1` for
 * the per-op table.
 *
 * @module
 */
import { Random } from "../runtime/mod.ts";
import type { Graph } from "../models/graph.ts";
import { foldBatchNorm } from "../models/fold_bn.ts";
import { placeQuantizers } from "./_quant/placement.ts";
import { QuantModel } from "./_quant/quantized_model.ts";
import { blockUnits, layerUnits } from "./_quant/units.ts";
import { RECON_DEFAULTS, reconstruct } from "./_quant/recon.ts";

/** The defaults of {@linkcode benchRecon} (QDrop's W4A4 on the first three blocks). */
export const RECON_BENCH_DEFAULTS = {
  layers: false,
  from: 0,
  units: 3,
  iters: 4,
  images: 32,
  wBits: 4,
  aBits: 4,
  dropProb: 0.5,
  inputMixProb: 0.5,
  weightLr: RECON_DEFAULTS.weightLr,
} as const;

/** Options of {@linkcode benchRecon} (defaults: {@linkcode RECON_BENCH_DEFAULTS}). */
export interface ReconBenchOptions {
  /** Single layers (AdaRound's units) instead of blocks (default false). */
  layers?: boolean;
  /** The first unit timed (default 0). */
  from?: number;
  /** How many units are timed (default 3). */
  units?: number;
  /** Iterations per unit (default 4; the median needs at least 2). */
  iters?: number;
  /** Random calibration images (default 32). */
  images?: number;
  /** Weight bits (default 4; first and last layer 8). */
  wBits?: number;
  /** Activation bits (default 4). */
  aBits?: number;
  /** QDrop's drop probability (default 0.5). */
  dropProb?: number;
  /** QDrop's input-mix probability (default 0.5). */
  inputMixProb?: number;
  /** AdaRound's learning rate (default: the reconstruction's, 1e-3). */
  weightLr?: number;
  /** Receives the reconstruction's per-unit summary lines. */
  log?: (line: string) => void;
}

/** One timed unit. */
export interface ReconBenchUnit {
  name: string;
  /** The median seconds per iteration. */
  median_s: number;
  /** The seconds of each iteration after the first logged one. */
  iterations_s: number[];
}

/** What {@linkcode benchRecon} measured. */
export interface ReconBenchResult {
  units: ReconBenchUnit[];
  /** The mean of the units' medians. */
  mean_s: number;
  /** Wall-clock of the whole reconstruction (caching the units' inputs included). */
  total_s: number;
}

/**
 * Reconstructs `opts.units` units of `graph` (BN is folded first) for `opts.iters` iterations
 * each and returns each unit's median seconds per iteration. A RangeError when `from` is past the
 * graph's units.
 */
export async function benchRecon(
  graph: Graph,
  opts: ReconBenchOptions = {},
): Promise<ReconBenchResult> {
  const given = Object.entries(opts).filter(([, v]) => v !== undefined);
  const o = { ...RECON_BENCH_DEFAULTS, ...Object.fromEntries(given) } as
    & typeof RECON_BENCH_DEFAULTS
    & ReconBenchOptions;
  const folded = foldBatchNorm(graph).graph;
  const all = o.layers ? layerUnits(folded) : blockUnits(folded);
  if (o.from >= all.length) {
    throw new RangeError(
      `unit ${o.from} is past the model's ${all.length} ${o.layers ? "layer" : "block"} units`,
    );
  }
  const units = all.slice(o.from, o.from + o.units);
  const placement = placeQuantizers(folded, { wBits: o.wBits, aBits: o.aBits });
  const model = await QuantModel.create(folded, placement, {});
  try {
    const shape = folded.inputs[0].shape.map((d) => (typeof d === "number" && d > 0 ? d : 32));
    shape[0] = o.images;
    const images = new Random(1).randn(shape);
    const stamps: number[][] = units.map(() => []);
    let unit = 0;
    const t0 = performance.now();
    await reconstruct(
      model,
      images,
      units,
      {
        ...RECON_DEFAULTS,
        iters: o.iters,
        weightLr: o.weightLr,
        dropProb: o.dropProb,
        inputMixProb: o.inputMixProb,
        lambda: 0.1,
        logEvery: 1,
        evalSamples: Math.min(32, o.images),
      },
      {},
      (msg) => {
        if (msg.includes(" iter ")) stamps[unit].push(performance.now());
        if (msg.startsWith("unit ")) {
          o.log?.(msg);
          unit++;
        }
      },
    );
    const total_s = (performance.now() - t0) / 1000;
    images.dispose();
    const timed = units.map((u, i) => {
      const s = stamps[i];
      const iterations_s = s.slice(1).map((v, j) => (v - s[j]) / 1000);
      const sorted = [...iterations_s].sort((x, y) => x - y);
      const median_s = sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN;
      return { name: u.name, median_s, iterations_s };
    });
    const mean_s = timed.reduce((s, u) => s + u.median_s, 0) / timed.length;
    return { units: timed, mean_s, total_s };
  } finally {
    model.dispose();
  }
}
