/**
 * FDDA's BN statistics: where they are read (every BatchNorm input), the teacher's global
 * running statistics, and the per-class "BNS centres" of the real calibration images.
 *
 * The official code (zysxmu/FDDA at 3d50d5f) hooks every `nn.BatchNorm2d` of the FP model and
 * takes the per-channel mean and *biased* variance of the BN input over batch and spatial axes
 * (`trainer_DBNS_CBNS.py` `hook_fn_forward`, `BNScenters.py` `hook_fn_forward`); the centres are
 * those statistics of one image per class (batch 1, `BNScenters.py` `only_find_BN`), and the
 * classes whose image the teacher classifies correctly form the "correct set"
 * (`trainer_DBNS_CBNS.py` `__init__`, `teacher_output_Categorical_correct`).
 *
 * Here the graph has BatchNorm folded into its convolutions (`models/fold_bn.ts`): the BN input
 * `z` of a folded layer is recovered exactly from the folded output `y` per channel,
 * `z = a·y + b` with `a = √(σ² + ε)/γ` and `b = μ − β·a`, so `mean(z) = a·mean(y) + b` and
 * `var(z) = a²·var(y)`. A BatchNormalization node that could not be folded is read at its input.
 * A graph with no BN at all (BN folded before export, such as the shared TF MobileNets) gets
 * *recovered* sites instead: every Conv output, with the global targets taken as the statistics
 * of the real calibration images there (a deviation of the harness, stated by the method).
 *
 * @module
 */
import {
  add,
  batchStats,
  keep,
  mul,
  noGrad,
  reshape,
  slice,
  type Tensor,
  tidy,
  upload,
} from "../../runtime/mod.ts";
import { execute } from "../../models/execute.ts";
import type { FoldedBatchNorm } from "../../models/fold_bn.ts";
import type { Graph } from "../../models/graph.ts";

/** One place where FDDA matches BN-input statistics. */
export interface BnSite {
  /** The graph value read (a folded layer's output, a BN node's input, or a Conv output). */
  value: string;
  /** The BN node (or, for recovered sites, the Conv node) it stands for. */
  name: string;
  channels: number;
  /** `z = a·y + b` per channel (`[C]` tensors), or null where the value is the BN input itself. */
  affine: { a: Tensor; a2: Tensor; b: Tensor } | null;
  /** Global targets `[C]`: the BN's running mean / variance, or (recovered) the real images'. */
  mean: Tensor;
  var: Tensor;
  /** True for a Conv output standing in for a BN folded before export. */
  recovered: boolean;
}

/** Host copy of a tensor's values. */
function host(t: Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

/**
 * The BN sites of a folded graph, in the graph's node order (the order PyTorch's forward hooks
 * fill `mean_list`): every folded layer of `bn`, and every BatchNormalization node left in the
 * graph. With neither, every Conv output is a recovered site whose global targets are zero until
 * {@linkcode captureCentres} fills them from the real images.
 */
export function bnSites(graph: Graph, bn?: ReadonlyMap<string, FoldedBatchNorm>): BnSite[] {
  const sites: BnSite[] = [];
  for (const node of graph.nodes) {
    const folded = bn?.get(node.name);
    if (folded) {
      const p = folded.params;
      const gamma = host(p.gamma), beta = host(p.beta);
      const c = gamma.length;
      const a = new Float32Array(c), a2 = new Float32Array(c), b = new Float32Array(c);
      const rm = host(p.runningMean);
      const rv = host(p.runningVar);
      for (let i = 0; i < c; i++) {
        const g = Math.abs(gamma[i]) < 1e-12 ? 1e-12 : gamma[i];
        a[i] = Math.sqrt(rv[i] + p.eps) / g;
        a2[i] = a[i] * a[i];
        b[i] = rm[i] - beta[i] * a[i];
      }
      sites.push({
        value: node.outputs[0],
        name: folded.node,
        channels: c,
        affine: { a: keep(upload(a, [c])), a2: keep(upload(a2, [c])), b: keep(upload(b, [c])) },
        mean: keep(upload(Float32Array.from(rm), [c])),
        var: keep(upload(Float32Array.from(rv), [c])),
        recovered: false,
      });
    } else if (node.opType === "BatchNormalization") {
      const rm = graph.initializers.get(node.inputs[3]);
      const rv = graph.initializers.get(node.inputs[4]);
      if (!rm || !rv) continue;
      sites.push({
        value: node.inputs[0],
        name: node.name,
        channels: rm.size,
        affine: null,
        mean: keep(upload(Float32Array.from(host(rm)), [rm.size])),
        var: keep(upload(Float32Array.from(host(rv)), [rv.size])),
        recovered: false,
      });
    }
  }
  if (sites.length) return sites;
  for (const node of graph.nodes) {
    const w = node.opType === "Conv" ? graph.initializers.get(node.inputs[1]) : undefined;
    if (!w) continue;
    const c = w.shape[0];
    sites.push({
      value: node.outputs[0],
      name: node.name,
      channels: c,
      affine: null,
      mean: keep(upload(new Float32Array(c), [c])),
      var: keep(upload(new Float32Array(c), [c])),
      recovered: true,
    });
  }
  return sites;
}

/** Releases a site list's tensors. */
export function disposeSites(sites: readonly BnSite[]): void {
  for (const s of sites) {
    for (const t of [s.mean, s.var, s.affine?.a, s.affine?.a2, s.affine?.b]) t?.dispose();
  }
}

/**
 * The per-channel mean and biased variance `[C]` of the BN input at a site, over the batch and
 * spatial axes, from the site's value `y` (`[B, C, …]`); differentiable.
 */
export function siteStats(y: Tensor, site: BnSite): { mean: Tensor; var: Tensor } {
  const s = batchStats(y);
  if (!site.affine) return s;
  return { mean: add(mul(s.mean, site.affine.a), site.affine.b), var: mul(s.var, site.affine.a2) };
}

/** Per-class BN-input centres and the correct set. */
export interface Centres {
  /** The classes that have a real image (sorted). */
  classes: number[];
  /** Per class, per site: the centre's mean and biased variance (host arrays). */
  mean: Map<number, Float32Array[]>;
  var: Map<number, Float32Array[]>;
  /** Classes whose real images the teacher classifies correctly (argmax = label), all of them. */
  correct: Set<number>;
  /** Logits width of the model (the number of classes). */
  numClasses: number;
}

/**
 * Runs the FP teacher on the real calibration images and computes, per class, the BN-input
 * statistics of its images at every site (with one image per class, the official batch-1
 * centres; several images of a class are pooled as one batch), and the correct set. For
 * recovered sites it also sets the global targets to the statistics of all the images.
 */
export async function captureCentres(
  graph: Graph,
  sites: readonly BnSite[],
  images: Tensor,
  labels: ArrayLike<number>,
  chunk = 32,
): Promise<Centres> {
  const n = images.shape[0];
  if (labels.length !== n) throw new RangeError(`${labels.length} labels for ${n} images`);
  const input = graph.inputs[0].name, output = graph.outputs[0].name;
  // Per image, per site: the mean and the mean of squares of z over the spatial positions.
  const m1: Float64Array[] = sites.map((s) => new Float64Array(n * s.channels));
  const m2: Float64Array[] = sites.map((s) => new Float64Array(n * s.channels));
  const hits: boolean[] = new Array(n);
  let numClasses = 0;
  for (let s0 = 0; s0 < n; s0 += chunk) {
    const e = Math.min(n, s0 + chunk);
    const outs = tidy(() =>
      noGrad(() => {
        const x = slice(images, [s0], [e], [0]);
        const ys = execute(graph, {
          feeds: { [input]: x },
          fetch: [...sites.map((s) => s.value), output],
        });
        return [ys[output], ...sites.map((s) => ys[s.value])].map((t) => keep(t));
      })
    );
    const logits = host(outs[0]);
    numClasses = outs[0].shape[1];
    for (let i = 0; i < e - s0; i++) {
      let best = 0;
      for (let k = 1; k < numClasses; k++) {
        if (logits[i * numClasses + k] > logits[i * numClasses + best]) best = k;
      }
      hits[s0 + i] = best === labels[s0 + i];
    }
    sites.forEach((site, j) => {
      const y = outs[j + 1];
      const yd = host(y);
      const c = site.channels;
      const hw = y.size / (y.shape[0] * c);
      const a = site.affine ? host(site.affine.a) : null;
      const b = site.affine ? host(site.affine.b) : null;
      for (let i = 0; i < e - s0; i++) {
        for (let ch = 0; ch < c; ch++) {
          let s1 = 0, s2 = 0;
          const base = (i * c + ch) * hw;
          for (let k = 0; k < hw; k++) {
            const z = a ? a[ch] * yd[base + k] + b![ch] : yd[base + k];
            s1 += z;
            s2 += z * z;
          }
          m1[j][(s0 + i) * c + ch] = s1 / hw;
          m2[j][(s0 + i) * c + ch] = s2 / hw;
        }
      }
    });
    for (const t of outs) t.dispose();
    await Promise.resolve();
  }
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) byClass.set(labels[i], [...(byClass.get(labels[i]) ?? []), i]);
  const pooled = (j: number, idx: readonly number[]) => {
    const c = sites[j].channels;
    const mean = new Float32Array(c), v = new Float32Array(c);
    for (let ch = 0; ch < c; ch++) {
      let s1 = 0, s2 = 0;
      for (const i of idx) (s1 += m1[j][i * c + ch]), (s2 += m2[j][i * c + ch]);
      const mu = s1 / idx.length;
      mean[ch] = mu;
      v[ch] = Math.max(0, s2 / idx.length - mu * mu);
    }
    return { mean, var: v };
  };
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const mean = new Map<number, Float32Array[]>(), vars = new Map<number, Float32Array[]>();
  const correct = new Set<number>();
  for (const k of classes) {
    const idx = byClass.get(k)!;
    const st = sites.map((_, j) => pooled(j, idx));
    mean.set(k, st.map((s) => s.mean));
    vars.set(k, st.map((s) => s.var));
    if (idx.every((i) => hits[i])) correct.add(k);
  }
  const all = Array.from({ length: n }, (_, i) => i);
  sites.forEach((site, j) => {
    if (!site.recovered) return;
    const g = pooled(j, all);
    site.mean.assign(upload(g.mean, [site.channels]));
    site.var.assign(upload(g.var, [site.channels]));
  });
  return { classes, mean, var: vars, correct, numClasses };
}

/** A site's centre of class `k` as `[C]` tensors (mean, variance). */
export function centreTensors(
  centres: Centres,
  k: number,
): { mean: Tensor[]; var: Tensor[] } {
  const m = centres.mean.get(k), v = centres.var.get(k);
  if (!m || !v) throw new RangeError(`No BNS centre for class ${k}`);
  return {
    mean: m.map((a) => upload(a, [a.length])),
    var: v.map((a) => upload(a, [a.length])),
  };
}

/** `[C]` → `[1, C, 1, 1]` (a broadcastable per-channel view). */
export function perChannel(t: Tensor): Tensor {
  return reshape(t, [1, t.size, 1, 1]);
}
