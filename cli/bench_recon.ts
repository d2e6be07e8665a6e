/**
 * `deno task bench:recon`: seconds per reconstruction iteration ({@linkcode benchRecon}): batch
 * 32, AdaRound + LSQ, by default QDrop's W4A4 with drop 0.5 and input mix 0.5 (AdaRound/BRECQ are
 * `--drop 0 --mix 1`), on `--units` blocks, or single layers with `--layers` (AdaRound's units),
 * from unit `--from` of a real model, with `--images` random calibration images, and then
 * `--proxy-units` units of a proxy model (`--proxy`, default `proxy_mbv2`, 28×28) for
 * `--proxy-iters` iterations. Where `/usr/bin/python3` (or `PTQ_TORCH_PYTHON`) imports torch,
 * the same units run an equivalent iteration in PyTorch afterwards, in the same invocation
 * (`methods/torch_recon_side.ts`, `methods/torch_recon_bench.py`), with as many threads. Prints
 * what PyTorch ran with (or why not), what differs between the sides, and a table of each unit's
 * median seconds per iteration on both sides with the ratio ptq-bench / PyTorch, then each
 * model's mean and wall-clock; the reconstruction's per-unit lines go to stderr.
 *
 * @module
 */
import type { Graph } from "../models/graph.ts";
import { PROXY_MODELS } from "../models/proxy/mod.ts";
import {
  benchRecon,
  RECON_BENCH_DEFAULTS as D,
  type ReconBenchOptions,
  type ReconBenchResult,
} from "../methods/bench_recon.ts";
import {
  RECON_EQUIVALENCE,
  reconTable,
  type ReconTableModel,
  runTorchRecon,
  torchReconSettings,
  torchReconSpecs,
  type TorchUnitEntry,
} from "../methods/torch_recon_side.ts";
import { benchThreads, torchHeader, type TorchRun } from "../runtime/torch_side.ts";
import { useBackend } from "../runtime/select.ts";
import { parseFlags, run, type TaskSpec, UsageError } from "./_flags.ts";
import { BACKEND_FLAG } from "./_shared_flags.ts";
import { loadModelArg, loadOnnxInput } from "./_input.ts";

/** The proxy model timed beside the real one by default. */
export const DEFAULT_PROXY = "proxy_mbv2";

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
    {
      name: "proxy",
      type: "string",
      default: DEFAULT_PROXY,
      placeholder: "NAME|FILE.onnx|none",
      help: "a proxy model (models/proxy) also timed, after the real one; none: skip it",
    },
    {
      name: "proxy-from",
      type: "int",
      min: 0,
      default: 0,
      help: "the proxy's first unit timed (0-based)",
    },
    {
      name: "proxy-units",
      type: "int",
      min: 1,
      default: 4,
      help: "how many of the proxy's units are timed",
    },
    {
      name: "proxy-iters",
      type: "int",
      min: 2,
      default: 20,
      help: "iterations per proxy unit (its iterations are short and noisy)",
    },
    BACKEND_FLAG,
    { name: "no-torch", type: "boolean", help: "skip the PyTorch column" },
    { name: "stamps", type: "boolean", help: "also print each iteration's seconds (stderr)" },
  ],
  notes: [
    "PTQ_PROFILE=1 adds the per-op table; PTQ_CPU_POOL_MB=N caps the CPU buffer pool " +
    "(0: no pool).",
    "PTQ_TORCH_PYTHON=PATH: the interpreter whose torch runs the PyTorch column (default " +
    "/usr/bin/python3), with PTQ_CPU_THREADS threads (default: all cores); without torch the " +
    "column says why. Its OpenMP workers do not spin (OMP_WAIT_POLICY=passive), as ptq-bench's " +
    "do not, unless PTQ_ORT_SPIN=1 or OMP_WAIT_POLICY is set.",
  ],
} as const satisfies TaskSpec;

/** Loads `--proxy`: a proxy name of models/proxy, a registry name or an ONNX file. */
async function loadProxy(name: string): Promise<Graph> {
  const proxy = (PROXY_MODELS as Record<string, { file: URL }>)[name];
  if (proxy) return await loadOnnxInput(decodeURIComponent(proxy.file.pathname));
  return await loadModelArg(name, "proxy");
}

/** One model's ptq-bench timing, refusing a start past its units as a usage error. */
async function timeModel(
  graph: Graph,
  o: ReconBenchOptions,
  flag: string,
): Promise<ReconBenchResult> {
  try {
    return await benchRecon(graph, o);
  } catch (e) {
    if (e instanceof RangeError && /past the model/.test(e.message)) {
      throw new UsageError(`--${flag}: ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/** Runs the benchmark; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v } = parseFlags(SPEC, args);
  for (const f of ["drop", "mix"] as const) {
    if (v[f] > 1) throw new UsageError(`--${f}: expected at most 1, got ${v[f]}`);
  }
  const log = (line: string) => console.error(line);
  // Before any model is loaded, so that weights and calibration images live on it.
  await useBackend(v.backend);
  const common = {
    layers: v.layers,
    images: v.images,
    wBits: v.w,
    aBits: v.a,
    dropProb: v.drop,
    inputMixProb: v.mix,
    weightLr: v.lr,
    log,
  };
  const sides: { name: string; graph: Graph; opts: ReconBenchOptions; flag: string }[] = [
    {
      name: v.model,
      graph: await loadModelArg(v.model),
      opts: { ...common, from: v.from, units: v.units, iters: v.iters },
      flag: "from",
    },
  ];
  if (v.proxy !== "none") {
    sides.push({
      name: v.proxy,
      graph: await loadProxy(v.proxy),
      opts: {
        ...common,
        from: v["proxy-from"],
        units: v["proxy-units"],
        iters: v["proxy-iters"],
      },
      flag: "proxy-from",
    });
  }
  const results: ReconBenchResult[] = [];
  for (const side of sides) {
    log(`ptq-bench: ${side.name}, units ${side.opts.from}.., ${side.opts.iters} iterations`);
    results.push(await timeModel(side.graph, side.opts, side.flag));
  }
  const threads = benchThreads();
  let torch: TorchRun | null = null;
  const entries: TorchUnitEntry[][] = sides.map(() => []);
  if (!v["no-torch"]) {
    sides.forEach((side, i) => {
      entries[i] = torchReconSpecs(side.graph, { model: side.name, ...side.opts });
    });
    log(`pytorch: the same units in PyTorch, ${threads} threads`);
    torch = await runTorchRecon(
      sides.map((side, i) => ({
        settings: torchReconSettings(side.opts),
        units: entries[i].flatMap((e) => ("spec" in e ? [e.spec] : [])),
      })),
      { threads, log: (l) => log(`  ${l}`) },
    );
  }
  if (v.stamps) {
    for (const r of results) {
      for (const u of r.units) {
        console.error(`${u.name}: ${u.iterations_s.map((s) => s.toFixed(2)).join(" ")} s`);
      }
    }
  }
  console.log(
    `ptq-bench: ${v.backend} backend, ${threads} threads (PTQ_CPU_THREADS); W${v.w}A${v.a} (first/last ` +
      `layer W8), drop ${v.drop}, input mix ${v.mix}, batch ${
        Math.min(32, v.images)
      }, ${v.images} random images; ` +
      `${v.layers ? "layer" : "block"} units`,
  );
  console.log(torchHeader(torch));
  if (torch) { for (const line of RECON_EQUIVALENCE) console.log(`- ${line}`); }
  console.log(
    "ptq-bench / PyTorch is ptq-bench's seconds per iteration over PyTorch's (below 1: " +
      "ptq-bench faster); each figure is the median over iterations 2..N.\n",
  );
  const models: ReconTableModel[] = sides.map((side, i) => ({
    model: side.name,
    iters: side.opts.iters!,
    units: results[i].units,
    torch: torch ? entries[i] : undefined,
  }));
  console.log(reconTable(models, torch));
  console.log("");
  sides.forEach((side, i) => {
    const r = results[i];
    console.log(
      `${side.name}: mean ${r.mean_s.toFixed(3)} s/iteration over ${r.units.length} units; ` +
        `total ${r.total_s.toFixed(1)} s`,
    );
  });
  return 0;
}

if (import.meta.main) Deno.exit(await run(SPEC, main, Deno.args));
