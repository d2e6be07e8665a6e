import { batchNormTrain, noGrad, Random } from "../../runtime/mod.ts";
import type { Graph } from "../graph.ts";
import { assert } from "../../runtime/assert.ts";
import { compare } from "../testing.ts";
import { buildProxy, type ProxyName } from "./architectures.ts";
import { type ProxyData, trainForward, trainProxy } from "./train.ts";

function syntheticData(n: number): ProxyData {
  const r = new Random(11);
  return {
    trainImages: r.normalArray(n * 784),
    trainLabels: Int32Array.from({ length: n }, (_, i) => i % 10),
    testImages: r.normalArray(10 * 784),
    testLabels: Int32Array.from({ length: 10 }, (_, i) => i),
  };
}

function weights(g: Graph): Map<string, Float32Array> {
  return new Map([...g.initializers].map(([k, t]) => [k, Float32Array.from(t.dataSync())]));
}

for (const name of ["proxy_resnet", "proxy_vit"] as ProxyName[]) {
  Deno.test(`${name}: a 2-step training run is deterministic bit for bit and moves the weights`, () => {
    const data = syntheticData(40);
    const run = () =>
      trainProxy(name, data, {
        seed: 1,
        recipe: { batch: 8, subset: 32, epochs: 1, warmup: 1 },
        maxSteps: 2,
      });
    const a = run(), b = run();
    assert(a.steps === 2 && b.steps === 2, `steps ${a.steps}, ${b.steps}`);
    const wa = weights(a.graph), wb = weights(b.graph), w0 = weights(buildProxy(name, 1));
    let moved = 0;
    for (const [k, v] of wa) {
      const u = wb.get(k)!, z = w0.get(k)!;
      for (let i = 0; i < v.length; i++) {
        if (!Object.is(v[i], u[i])) throw new Error(`${k}[${i}]: ${v[i]} vs ${u[i]}`);
      }
      if (v.some((x, i) => x !== z[i])) moved++;
    }
    assert(moved > wa.size / 2, `only ${moved} of ${wa.size} initializers changed`);
    assert(
      a.graph.initializers.values().every((t) => !t.requiresGrad),
      "parameters still require grad",
    );
  });
}

Deno.test("training-mode BatchNormalization uses batch statistics and updates running ones as torch", () => {
  const c = 3;
  const r = new Random(2);
  const gamma = r.rand([c], 0.5, 1.5), beta = r.randn([c]);
  const rm = r.randn([c]), rv = r.rand([c], 0.5, 1.5);
  const rm0 = rm.dataSync(), rv0 = rv.dataSync();
  const graph: Graph = {
    name: "bn",
    inputs: [{ name: "x", shape: ["N", c, 5, 5] }],
    outputs: [{ name: "y", shape: ["N", c, 5, 5] }],
    nodes: [{
      name: "bn",
      opType: "BatchNormalization",
      inputs: ["x", "g", "b", "m", "v"],
      outputs: ["y"],
      attrs: { epsilon: 1e-5 },
    }],
    initializers: new Map([["g", gamma], ["b", beta], ["m", rm], ["v", rv]]),
    constants: new Map(),
  };
  const x = r.randn([4, c, 5, 5], 0.3, 2);
  const y = noGrad(() => trainForward(graph, x));
  const ref = noGrad(() => batchNormTrain(x, gamma, beta, 1e-5));
  assert(compare(y.dataSync(), ref.y.dataSync()).rel < 1e-5, "output differs from batchNormTrain");
  const n = 4 * 5 * 5;
  const mean = ref.mean.dataSync(), v = ref.var.dataSync();
  const m1 = rm.dataSync(), v1 = rv.dataSync();
  for (let i = 0; i < c; i++) {
    const wantM = 0.9 * rm0[i] + 0.1 * mean[i];
    const wantV = 0.9 * rv0[i] + 0.1 * v[i] * n / (n - 1);
    assert(Math.abs(m1[i] - wantM) < 1e-5, `running_mean[${i}] ${m1[i]} vs ${wantM}`);
    assert(Math.abs(v1[i] - wantV) < 1e-4, `running_var[${i}] ${v1[i]} vs ${wantV}`);
  }
});
