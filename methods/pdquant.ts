/**
 * PD-Quant — Liu, Wang, Gu, Yan, Ren, Wu, Ren, Sun, Luo, "PD-Quant: Post-Training Quantization
 * based on Prediction Difference Metric", CVPR 2023 (arXiv 2212.07048); official code
 * `hustvl/PD-Quant` (a modified QDrop codebase), read at e12038e.
 *
 * Objective, per reconstruction unit (graph-derived blocks; stem and classifier as layers):
 *
 * `min_{V, s_a}  ‖B̂(x̃) − B(x′)‖²  +  KL(softmax(z_fp / T) ‖ softmax(z_q / T)) / λ_r
 *                 + λ Σ (1 − |2h(V) − 1|^β)`
 *
 * - `x′` is the FP block input after **distribution correction (DC)**, as `GetDcFpLayerInpOut`
 *   (`quant/data_utils.py`) computes it: per batch of 32,
 *   `x′ = argmin Σ_BN [Σ_n ‖μ_n(BN_in(x′)) − μ_run‖² + ‖σ_n(BN_in(x′)) − √(σ²_run + ε)‖²] / B
 *   + lp_loss(x′, x) / λ_c`, where μ_n/σ_n are the per-sample channel mean and **unbiased** std
 *   (`torch.var` over H·W, `σ = √(var + ε)`, ε = 1e-6) of the input of each BatchNorm inside the
 *   unit, and `lp_loss(x′, x) = (x′ − x)².sum(1).mean()` (`quant/quant_layer.py`): summed over
 *   channels, **averaged over batch and spatial positions** (`Σ (x′ − x)² / (B·H·W)`). 500 Adam
 *   steps (lr `bn_lr` 1e-3) from `x′ = x`, ReduceLROnPlateau on the total loss (factor 0.1,
 *   patience 100, rel. threshold 1e-4, min lr 1e-5).
 * - `x̃` mixes the quantized and corrected FP inputs element-wise (QDrop, p = 0.5) and activation
 *   quantization is dropped with p = 0.5 inside the block; `B(x′)` is the FP block output on `x′`.
 * - `z_q` are the network logits with the block run on the *pure quantized* input and the
 *   not-yet-calibrated blocks in FP; `z_fp` the FP logits of the uncorrected image (as the official code
 *   computes them). The KL is divided by `λ_r` (= 0.1), as the code does.
 * - AdaRound `V`: Adam lr 3e-3; activation steps: Adam lr 4e-5, cosine to 0. Every term's
 *   gradient reaches both parameter groups, as in the code.
 *
 * Per-model hyper-parameters (run_script.py): ResNet T 4, λ_c 0.02, λ 0.01; RegNetX T 4,
 * λ_c 0.01, λ 0.01; MobileNetV2 T 1, λ_c 0.005, λ 0.1; MnasNet T 1, λ_c 0.001, λ 0.2.
 *
 * Deviations from the paper and its official code: the `deviations` list of the registry
 * entry below (data, shown in every report).
 *
 * @module
 */
import { z } from "zod";
import {
  Adam,
  add,
  backward,
  concat,
  div,
  keep,
  klDivergence,
  mean,
  mul,
  noGrad,
  reshape,
  slice,
  sqrt,
  square,
  sub,
  sum,
  type Tensor,
  tidy,
  upload,
  variance,
} from "../runtime/mod.ts";
import { execute } from "../models/execute.ts";
import type { FoldedBatchNorm } from "../models/fold_bn.ts";
import type { Graph, Node } from "../models/graph.ts";
import { type Method, type MethodContext, parseConfig, reconFields } from "./_quant/config.ts";
import { runBaseline } from "./_quant/baseline.ts";
import { BIAS_ROUNDING_DEVIATION } from "./_quant/quantized_model.ts";
import { DROP_KEYS, RECON_KEYS, to } from "./_quant/recipe_keys.ts";
import type { ReconHooks } from "./_quant/recon.ts";

const config = z.object({
  ...reconFields,
  /** AdaRound learning rate (the PD-Quant code uses 3e-3). */
  weightLr: z.number().positive().default(3e-3),
  /** Temperature of the prediction-difference KL (`--T`). */
  T: z.number().positive().optional(),
  /** DC closeness weight: the term is divided by λ_c (`--lamb_c`). */
  lambC: z.number().positive().optional(),
  /** The PD loss is divided by λ_r (`--lamb_r`, 0.1). */
  lambR: z.number().positive().default(0.1),
  /** DC Adam learning rate (`--bn_lr`, 1e-3). */
  bnLr: z.number().positive().default(1e-3),
  /** DC Adam steps per batch (500). */
  dcSteps: z.number().int().nonnegative().default(500),
  /** DC batch size (32). */
  dcBatch: z.number().int().positive().default(32),
  /** QDrop activation-drop probability inside the block (`--prob` 0.5). */
  dropProb: z.number().min(0).max(1).default(0.5),
  /** Block-input mixing probability (`--input_prob` 0.5). */
  inputMixProb: z.number().min(0).max(1).default(0.5),
  /** Switches for ablations: distribution correction and the PD loss. */
  dc: z.boolean().default(true),
  pd: z.boolean().default(true),
}).strict();

/** PD-Quant's per-family defaults (run_script.py of hustvl/PD-Quant). */
export function pdquantDefaults(modelName: string): { T: number; lambC: number; lambda: number } {
  const m = modelName.toLowerCase();
  if (/mnas/.test(m)) return { T: 1, lambC: 0.001, lambda: 0.2 };
  if (/mobilenet|mbv2/.test(m)) return { T: 1, lambC: 0.005, lambda: 0.1 };
  if (/regnet/.test(m)) return { T: 4, lambC: 0.01, lambda: 0.01 };
  return { T: 4, lambC: 0.02, lambda: 0.01 };
}

/** The ε of DC's std, inside the square root on both sides (`self.eps` of the official code). */
const DC_EPS = 1e-6;

/** Per-channel constants of one folded BN, as `[1, C, 1, 1]` tensors. */
export interface BnConsts {
  output: string;
  /** `k = sqrt(var + eps) / gamma`: BN input = (y − beta)·k + mean. */
  k: Tensor;
  /** `k²`: the BN input's variance is the folded output's times k². */
  k2: Tensor;
  beta: Tensor;
  /** Target std of the BN input: `sqrt(running var + 1e-6)`. */
  std: Tensor;
}

/** The DC constants of one folded BN whose folded layer writes `outputName`. */
export async function bnConsts(info: FoldedBatchNorm, outputName: string): Promise<BnConsts> {
  const p = info.params;
  const gamma = await p.gamma.data() as Float32Array;
  const rv = await p.runningVar.data() as Float32Array;
  return noGrad(() => {
    const c = p.gamma.size;
    const shape = [1, c, 1, 1];
    const k = new Float32Array(c);
    const k2 = new Float32Array(c);
    const std = new Float32Array(c);
    for (let i = 0; i < c; i++) {
      const g = Math.abs(gamma[i]) < 1e-12 ? 1e-12 : gamma[i];
      k[i] = Math.sqrt(rv[i] + p.eps) / g;
      k2[i] = k[i] * k[i];
      std[i] = Math.sqrt(rv[i] + DC_EPS);
    }
    return {
      output: outputName,
      k: keep(upload(k, shape, p.gamma.backend)),
      k2: keep(upload(k2, shape, p.gamma.backend)),
      beta: keep(reshape(p.beta, shape)),
      std: keep(upload(std, shape, p.gamma.backend)),
    };
  });
}

/**
 * The DC statistic loss of one BN from its folded layer's output `y` `[B, C, H, W]`, summed over
 * samples (the caller divides by B): `Σ_n Σ_c (μ_nc(z) − μ_run)² + (σ_nc(z) − √(σ²_run + ε))²`
 * with `z = (y − β)k + μ_run` the BN input and `σ_nc(z) = √(var_nc(z) + ε)`, `var` unbiased over
 * H·W as `torch.var`; i.e. `((μ_nc(y) − β)k)² + (√(var_nc(y)·k² + ε) − √(σ²_run + ε))²`.
 * (With H·W = 1 torch's unbiased variance is NaN; the biased one, 0, is used instead.)
 */
export function bnStatLoss(y: Tensor, b: BnConsts): Tensor {
  const hw = y.shape[2] * y.shape[3];
  const mu = mean(y, [2, 3], true);
  const unbiased = mul(variance(y, [2, 3], true), hw > 1 ? hw / (hw - 1) : 1);
  const sd = sqrt(add(mul(unbiased, b.k2), DC_EPS));
  const dm = mul(sub(mu, b.beta), b.k);
  const ds = sub(sd, b.std);
  return add(sum(square(dm)), sum(square(ds)));
}

/**
 * DC's closeness term before the division by λ_c: the official `lp_loss(x′, x)` (p = 2,
 * reduction `'none'`), `(x′ − x)².sum(1).mean()`: summed over channels (axis 1) and averaged over
 * the batch and every other axis, `Σ (x′ − x)² / (B·H·W)` for `[B, C, H, W]`, `/ B` for `[B, F]`.
 */
export function dcCloseness(x: Tensor, x0: Tensor): Tensor {
  if (x.rank < 2) {
    throw new RangeError(`DC closeness needs [B, C, …] inputs, got shape [${x.shape}]`);
  }
  return div(sum(square(sub(x, x0))), x.size / x.shape[1]);
}

/** DC's optimisation settings. */
export interface DcOptions {
  dcSteps: number;
  dcBatch: number;
  bnLr: number;
  lambC: number;
}

/**
 * Distribution correction of a unit's FP inputs `[N, …]` (returns new tensors): per batch of
 * `dcBatch`, Adam on the inputs of `nodes` against the BN statistics of `bns` plus
 * {@linkcode dcCloseness} / λ_c.
 */
export async function distributionCorrection(
  graph: Graph,
  nodes: Node[],
  inputs: Record<string, Tensor>,
  bns: BnConsts[],
  c: DcOptions,
): Promise<Record<string, Tensor>> {
  const names = Object.keys(inputs);
  const n = inputs[names[0]].shape[0];
  const parts: Record<string, Tensor[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (let s = 0; s < n; s += c.dcBatch) {
    const e = Math.min(n, s + c.dcBatch);
    const b = e - s;
    const x0 = Object.fromEntries(
      names.map((k) => [k, keep(noGrad(() => slice(inputs[k], [s], [e], [0])))]),
    );
    const xs = names.map((k) => keep(noGrad(() => add(x0[k], 0))).variable());
    // ReduceLROnPlateau(mode min, factor 0.1, patience 100, threshold 1e-4 rel), min lr 1e-5.
    let lr = c.bnLr, best = Infinity, bad = 0;
    const opt = new Adam(xs, { lr: () => lr });
    for (let step = 0; step < c.dcSteps; step++) {
      const lossT = tidy(() => {
        const feeds = Object.fromEntries(names.map((k, i) => [k, xs[i]]));
        const ys = execute(graph, { feeds, nodes, fetch: bns.map((bn) => bn.output) });
        let loss: Tensor | null = null;
        for (const bn of bns) {
          const l = bnStatLoss(ys[bn.output], bn);
          loss = loss ? add(loss, l) : l;
        }
        loss = div(loss!, b);
        for (let i = 0; i < xs.length; i++) {
          loss = add(loss, div(dcCloseness(xs[i], x0[names[i]]), c.lambC));
        }
        backward(loss);
        return loss;
      });
      const lossVal = (await lossT.data())[0];
      lossT.dispose();
      opt.step();
      opt.zeroGrad();
      if (lossVal < best * (1 - 1e-4)) (best = lossVal), (bad = 0);
      else if (++bad > 100) (lr = Math.max(lr * 0.1, 1e-5)), (bad = 0);
    }
    opt.dispose();
    names.forEach((k, i) => {
      xs[i].requiresGrad = false;
      parts[k].push(xs[i]);
      x0[k].dispose();
    });
    await Promise.resolve();
  }
  return Object.fromEntries(names.map((k) => {
    const ps = parts[k];
    if (ps.length === 1) return [k, ps[0]];
    const all = keep(noGrad(() => concat(ps, 0)));
    for (const p of ps) p.dispose();
    return [k, all];
  }));
}

/** The hooks that turn the shared block reconstruction into PD-Quant. */
export function pdquantHooks(
  ctx: MethodContext,
  c: {
    T: number;
    lambC: number;
    lambR: number;
    bnLr: number;
    dcSteps: number;
    dcBatch: number;
    dc: boolean;
    pd: boolean;
  },
  stats: { dcUnits: number },
): ReconHooks {
  const bnMap = ctx.bn ?? new Map<string, FoldedBatchNorm>();
  return {
    correctFpInputs: c.dc && c.dcSteps > 0
      ? async (u) => {
        const bns = await Promise.all(
          u.unit.nodes.filter((nd) => bnMap.has(nd.name) && nd.opType === "Conv")
            .map((nd) => bnConsts(bnMap.get(nd.name)!, nd.outputs[0])),
        );
        if (!bns.length) return u.fpInputs;
        stats.dcUnits++;
        try {
          return await distributionCorrection(u.graph, u.unit.nodes, u.fpInputs, bns, c);
        } finally {
          for (const b of bns) for (const t of [b.k, b.k2, b.beta, b.std]) t.dispose();
        }
      }
      : undefined,
    extraLoss: c.pd
      ? (it) => {
        const zq = it.runRest(it.runUnit(it.quantInputs, true));
        return div(klDivergence(it.fpLogits(), zq, c.T), c.lambR);
      }
      : undefined,
  };
}

/** PD-Quant: QDrop block reconstruction + prediction-difference loss + distribution correction. */
export const pdquant: Method<typeof config> = {
  id: "pdquant",
  paper: {
    title: "PD-Quant: Post-Training Quantization based on Prediction Difference Metric",
    authors: "Liu, Wang, Gu, Yan, Ren, Wu, Ren, Sun, Luo",
    venue: "CVPR 2023",
    url: "https://arxiv.org/abs/2212.07048",
  },
  config,
  deviations: [
    "BN statistics for DC come from the BatchNorm layers folded away before quantization (`models/fold_bn.ts`); the BN input is recovered exactly from the folded layer's output. Models exported with BN already folded (such as the shared TF MobileNets) carry no BN statistics: DC then has nothing to match and leaves the inputs unchanged (its closeness term alone is minimised at `x′ = x`), so PD-Quant reduces to QDrop + the PD loss there. The run's config records `dcUnits` (how many units DC corrected).",
    "DC corrects the whole calibration set in batches of `dcBatch` (32), the last one partial when N is not a multiple of 32; the official code corrects `int(N / 32)` whole batches (N = 1,024 there, so nothing is left over).",
    "The block output that feeds the PD loss is computed with QDrop's activation dropping active (the quantizers are in training mode in the official code); inputs are purely quantized.",
    "Blocks come from the graph structure, not from named PyTorch modules; masks come from the run's seeded generator, not torch's.",
    "Budgets below `paper` (smoke, quick, custom) cut the iterations per unit and, for smoke, the calibration set; every record names its budget.",
    "Budgets below `paper` also scale DC's 500 Adam steps by the iterations' factor (`scaled_by_budget`).",
    "Batches are drawn without replacement; PD-Quant draws indices with replacement (`torch.randint`).",
    "The local-loss and PD-loss forwards are two passes with independent QDrop masks; the official code runs the block once on the concatenated [mixed; quantized] batch (same distribution).",
    "The weight grid's zero point for each candidate range of the 2-D L_p search is found by an integer ternary search (then exhaustively among the last few), not by enumerating all 2^b, and ties go to the widest range; where the error is not unimodal in the zero point the official enumeration can pick a different, near-equal grid.",
    "The rounding regularizer switches on at 0-based iteration warmup·iters and β lags the official 1-based counter by one iteration (β ends at ≈ 2.001, not 2).",
    "Calibration images are a seeded sample in the model's evaluation preprocessing; the official codes take the first N images of a shuffled train loader with RandomResizedCrop(224) and horizontal flip.",
    BIAS_ROUNDING_DEVIATION,
  ],
  recipeKeys: {
    ...RECON_KEYS,
    ...DROP_KEYS,
    T: to("T"),
    lamb_c: to("lambC"),
    lamb_r: to("lambR"),
    bn_lr: to("bnLr"),
    dc_steps: to("dcSteps"),
    dc_batch: to("dcBatch"),
  },
  async run(ctx, raw) {
    const c = parseConfig(config, raw, "pdquant");
    const d = pdquantDefaults(ctx.modelName);
    const resolved = {
      ...c,
      T: c.T ?? d.T,
      lambC: c.lambC ?? d.lambC,
      lambda: c.lambda ?? d.lambda,
    };
    const stats = { dcUnits: 0 };
    const res = await runBaseline(ctx, resolved, {
      granularity: "block",
      adaround: true,
      lsq: true,
      dropProb: c.dropProb,
      inputMixProb: c.inputMixProb,
      hooks: pdquantHooks(ctx, resolved, stats),
    });
    res.config = { ...res.config, T: resolved.T, lambC: resolved.lambC, dcUnits: stats.dcUnits };
    return res;
  },
};
