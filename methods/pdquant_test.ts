import { assert, assertClose, assertEquals, assertThrows } from "../runtime/assert.ts";
import { abs, mean, noGrad, Random, sub, type Tensor, upload } from "../runtime/mod.ts";
import { foldBatchNorm } from "../models/fold_bn.ts";
import type { Graph, Node } from "../models/graph.ts";
import {
  bnConsts,
  bnStatLoss,
  dcCloseness,
  type DcOptions,
  distributionCorrection,
} from "./pdquant.ts";

const host = async (t: Tensor) => Array.from(await t.data() as Float32Array);

Deno.test("PD-Quant's DC closeness sums over channels and averages over batch and positions", async () => {
  // [B=2, C=2, H=1, W=2]: squared differences 1 4 0 1 | 9 0 1 1 = 17, over B·H·W = 4 positions.
  const x = upload(new Float32Array([1, 2, 0, 1, 3, 0, 1, 1]), [2, 2, 1, 2]);
  const x0 = upload(new Float32Array(8), [2, 2, 1, 2]);
  assertClose(await host(dcCloseness(x, x0)), [17 / 4]);
  // Shifting x0 changes nothing but the difference: (2 − 1)² · 8 / 4.
  const ones = upload(new Float32Array(8).fill(1), [2, 2, 1, 2]);
  const twos = upload(new Float32Array(8).fill(2), [2, 2, 1, 2]);
  assertClose(await host(dcCloseness(twos, ones)), [2]);
  // [B, F] (a Linear layer's input): summed over features, averaged over the batch only.
  const f = upload(new Float32Array([1, 2, 3, 4]), [2, 2]);
  assertClose(await host(dcCloseness(f, upload(new Float32Array(4), [2, 2]))), [30 / 2]);
  assertThrows(
    () => dcCloseness(upload(new Float32Array(2), [2]), upload(new Float32Array(2), [2])),
    RangeError,
    "[B, C, …]",
  );
});

Deno.test("PD-Quant's DC statistic uses the unbiased per-sample std with ε = 1e-6 on both sides", async () => {
  // One sample, one channel, values 1 and 3: mean 2, unbiased variance 2 (biased: 1). With
  // β = 0, k = 1 and running variance 1: (2·1)² + (√(2 + 1e-6) − √(1 + 1e-6))².
  const y = upload(new Float32Array([1, 3]), [1, 1, 1, 2]);
  const b = {
    output: "y",
    k: upload(new Float32Array([1]), [1, 1, 1, 1]),
    k2: upload(new Float32Array([1]), [1, 1, 1, 1]),
    beta: upload(new Float32Array([0]), [1, 1, 1, 1]),
    std: upload(new Float32Array([Math.sqrt(1 + 1e-6)]), [1, 1, 1, 1]),
  };
  const expected = 4 + (Math.sqrt(2 + 1e-6) - Math.sqrt(1 + 1e-6)) ** 2;
  assertClose(await host(bnStatLoss(y, b)), [expected], { rtol: 1e-5 });
  // k scales the centred mean and the std: k = 2 gives (2·2)² + (√(2·4 + 1e-6) − √(1 + 1e-6))².
  const b2 = {
    ...b,
    k: upload(new Float32Array([2]), [1, 1, 1, 1]),
    k2: upload(new Float32Array([4]), [1, 1, 1, 1]),
  };
  const expected2 = 16 + (Math.sqrt(8 + 1e-6) - Math.sqrt(1 + 1e-6)) ** 2;
  assertClose(await host(bnStatLoss(y, b2)), [expected2], { rtol: 1e-5 });
});

/**
 * `Conv(4→8, 3×3)-BN-Relu-Conv(8→8, 3×3)-BN` on `[N, 4, 8, 8]`, with BN running statistics that
 * the random inputs do not have (means 0.5, variances 2–4).
 */
function bnGraph(seed = 0): Graph {
  const r = new Random(seed);
  const init = new Map<string, Tensor>();
  const t = (name: string, data: Float32Array, shape: number[]) => {
    init.set(name, upload(data, shape));
    return name;
  };
  const conv = (name: string, x: string, o: number, i: number): Node => ({
    name,
    opType: "Conv",
    inputs: [x, t(`${name}.w`, r.normalArray(o * i * 9, 0, Math.sqrt(2 / (i * 9))), [o, i, 3, 3])],
    outputs: [`${name}.y`],
    attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1], group: 1 },
  });
  const bn = (name: string, x: string, c: number): Node => ({
    name,
    opType: "BatchNormalization",
    inputs: [
      x,
      t(`${name}.g`, r.uniformArray(c, 0.5, 1.5), [c]),
      t(`${name}.b`, r.uniformArray(c, -0.2, 0.2), [c]),
      t(`${name}.m`, new Float32Array(c).fill(0.5), [c]),
      t(`${name}.v`, r.uniformArray(c, 2, 4), [c]),
    ],
    outputs: [`${name}.y`],
    attrs: { epsilon: 1e-5 },
  });
  return {
    name: "bn-tiny",
    inputs: [{ name: "input", shape: ["N", 4, 8, 8] }],
    outputs: [{ name: "bn2.y", shape: ["N", 8, 8, 8] }],
    nodes: [
      conv("c1", "input", 8, 4),
      bn("bn1", "c1.y", 8),
      { name: "r1", opType: "Relu", inputs: ["bn1.y"], outputs: ["r1.y"], attrs: {} },
      conv("c2", "r1.y", 8, 8),
      bn("bn2", "c2.y", 8),
    ],
    initializers: init,
    constants: new Map(),
    opset: 13,
  };
}

/** Mean |x′ − x| after DC of `[8, 4, 8, 8]` random inputs through {@linkcode bnGraph}. */
async function dcShift(lambC: number, dcSteps: number): Promise<number> {
  const { graph, bn } = foldBatchNorm(bnGraph());
  const bns = await Promise.all(
    graph.nodes.filter((n) => bn.has(n.name)).map((n) => bnConsts(bn.get(n.name)!, n.outputs[0])),
  );
  assertEquals(bns.length, 2);
  const x = new Random(1).randn([8, 4, 8, 8]);
  const c: DcOptions = { dcSteps, dcBatch: 8, bnLr: 1e-3, lambC };
  const { input: corrected } = await distributionCorrection(
    graph,
    graph.nodes,
    { input: x },
    bns,
    c,
  );
  const shift = (await noGrad(() => mean(abs(sub(corrected, x)))).data())[0];
  corrected.dispose();
  return shift;
}

Deno.test("PD-Quant's DC moves the input of a BN model H·W times more freely than per-sample normalisation", async () => {
  // ResNet's λ_c (0.02), 200 Adam steps. A closeness of Σ (x′ − x)² / B (per-sample, the old
  // normalisation) is H·W = 64 times stronger: the official term with λ_c / 64. Measured: mean
  // |x′ − x| 0.050 with the official term, 0.0009 per-sample.
  const official = await dcShift(0.02, 200);
  const perSample = await dcShift(0.02 / 64, 200);
  assert(official > 0.02, `DC barely moves the input: mean |x′ − x| = ${official}`);
  assert(official > 10 * perSample, `official ${official} vs per-sample ${perSample}`);
  // Without steps the input is returned unchanged.
  assertEquals(await dcShift(0.02, 0), 0);
});
