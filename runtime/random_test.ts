/** The seeded generator: PCG32's reference outputs, determinism, distributions. */
import { assert, assertEquals } from "./assert.ts";
import * as r from "./mod.ts";

Deno.test("Random(42, 54) reproduces PCG32's reference sequence", () => {
  const g = new r.Random(42, 54);
  // pcg32-demo's first outputs for initstate 42, initseq 54
  const ref = [0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e];
  assertEquals(ref.map(() => g.nextU32()), ref);
});

Deno.test("the same seed gives the same bits and different seeds differ", () => {
  const a = new r.Random(7).normalArray(1000), b = new r.Random(7).normalArray(1000);
  const c = new r.Random(8).normalArray(1000);
  assertEquals(Array.from(a), Array.from(b));
  assert(a.some((v, i) => v !== c[i]), "seeds 7 and 8 gave the same sequence");
  assert(new r.Random(-1).nextU32() !== new r.Random(1).nextU32(), "negative seed collides");
  const f1 = new r.Random(3).fork(1).uniformArray(5), f2 = new r.Random(3).fork(1).uniformArray(5);
  assertEquals(Array.from(f1), Array.from(f2));
});

Deno.test("uniform, normal and bernoulli have the right moments", () => {
  const g = new r.Random(11);
  const n = 100_000;
  const u = g.uniformArray(n, -1, 3);
  const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
  const std = (a: Float32Array) => {
    const m = mean(a);
    return Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length);
  };
  assert(u.every((v) => v >= -1 && v < 3), "uniform out of range");
  assert(Math.abs(mean(u) - 1) < 0.02, `uniform mean ${mean(u)}`);
  const z = g.normalArray(n, 2, 0.5);
  assert(Math.abs(mean(z) - 2) < 0.01, `normal mean ${mean(z)}`);
  assert(Math.abs(std(z) - 0.5) < 0.01, `normal std ${std(z)}`);
  const b = g.bernoulli([n], 0.3);
  assert(Math.abs(mean(b.dataSync() as Float32Array) - 0.3) < 0.01, "bernoulli rate");
  b.dispose();
  const ints = Array.from({ length: 1000 }, () => g.int(10));
  assert(ints.every((v) => Number.isInteger(v) && v >= 0 && v < 10), "int out of range");
});

Deno.test("permutation is a permutation and sample draws distinct indices", () => {
  const g = new r.Random(5);
  for (const n of [0, 1, 2, 17, 1000]) {
    const p = g.permutation(n);
    assertEquals([...p].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
  }
  const s = g.sample(50, 20);
  assertEquals(new Set(s).size, 20);
});

Deno.test("a whole training step on cpu is bit-identical for the same seed", () => {
  const step = (seed: number) =>
    r.tidy(() => {
      const g = new r.Random(seed);
      const w = r.keep(g.randn([4, 3, 3, 3], 0, 0.3).variable());
      const fc = r.keep(g.randn([4 * 4 * 4, 5], 0, 0.1).variable());
      const x = g.randn([8, 3, 8, 8]);
      const labels = Array.from({ length: 8 }, () => g.int(5));
      const opt = new r.Adam([w, fc], { lr: 0.01 });
      for (let i = 0; i < 2; i++) {
        opt.zeroGrad();
        r.tidy(() => {
          const h = r.maxPool2d(r.relu(r.conv2d(x, w, undefined, { pads: [1, 1, 1, 1] })), [2, 2]);
          r.backward(r.crossEntropy(r.matmul(r.flatten(h), fc), labels));
        });
        opt.step();
      }
      const out = [...w.dataSync(), ...fc.dataSync()];
      opt.zeroGrad();
      opt.dispose();
      w.dispose();
      fc.dispose();
      return out;
    });
  const a = step(1), b = step(1), c = step(2);
  assertEquals(a, b);
  assert(a.some((v, i) => v !== c[i]), "different seeds trained identically");
});

Deno.test("randomMask: 0/1 with the asked probability, deterministic per key, independent of the values", () => {
  const n = 1 << 20;
  const x = r.zeros([n]);
  const mask = (p: number, k0: number, k1: number, t = x) =>
    r.runOp("randomMask", [t], { p, k0, k1 }).dataSync() as Float32Array;
  for (const p of [0.1, 0.5, 0.9]) {
    const m = mask(p, 12345, 678);
    let ones = 0, pairs = 0;
    for (let i = 0; i < n; i++) {
      assert(m[i] === 0 || m[i] === 1);
      ones += m[i];
      if (i > 0) pairs += m[i] * m[i - 1];
    }
    const sd = Math.sqrt(n * p * (1 - p));
    assert(Math.abs(ones - n * p) < 5 * sd, `p=${p}: ${ones} ones of ${n}`);
    // neighbouring elements are independent: P(both) = p²
    const sdPairs = Math.sqrt(n * p * p * (1 - p * p));
    assert(Math.abs(pairs - n * p * p) < 6 * sdPairs, `p=${p}: ${pairs} adjacent pairs`);
  }
  assertEquals(
    Array.from(mask(0.5, 1, 2)),
    Array.from(mask(0.5, 1, 2, new r.Random(3).randn([n]))),
  );
  const a = mask(0.5, 1, 2), b = mask(0.5, 1, 3), c = mask(0.5, 2, 2);
  let ab = 0, ac = 0;
  for (let i = 0; i < n; i++) {
    ab += +(a[i] === b[i]);
    ac += +(a[i] === c[i]);
  }
  for (const same of [ab, ac]) assert(Math.abs(same - n / 2) < 5 * Math.sqrt(n / 4), `${same}`);
  assertEquals(mask(0, 1, 2).some((v) => v !== 0), false);
  assertEquals(mask(1, 1, 2).every((v) => v === 1), true);
});

Deno.test("a restored state continues the same sequence, Box-Muller's spare included", () => {
  const g = new r.Random(9);
  g.normal(); // leaves a spare normal behind
  const st = g.state();
  const a = [g.normal(), g.nextU32(), g.normal(), g.uniform()];
  const h = new r.Random(1);
  h.restore(JSON.parse(JSON.stringify(st)));
  assertEquals([h.normal(), h.nextU32(), h.normal(), h.uniform()], a);
});
