/**
 * Fake-quant and AdaRound invariants: outputs on the grid, STE and LSQ gradients, the rectified
 * sigmoid's range and initialisation, hard rounding, and the rounding regularizer.
 */
import { assert, assertClose, assertEquals } from "./assert.ts";
import { gradcheck, randn } from "./_test_util.ts";
import * as r from "./mod.ts";

const schemes = (bits: number) => [
  { name: "symmetric", qmin: -(2 ** (bits - 1)), qmax: 2 ** (bits - 1) - 1, z: 0 },
  { name: "asymmetric", qmin: 0, qmax: 2 ** bits - 1, z: Math.floor(2 ** bits / 3) },
];

Deno.test("fakeQuant outputs lie on the grid (q - z) * s, per-tensor and per-channel, 2-8 bits", () => {
  const x = randn(4 * 50, 1, 2);
  const sPer = [0.05, 0.3, 0.11, 1.7];
  for (let bits = 2; bits <= 8; bits++) {
    for (const { name, qmin, qmax, z } of schemes(bits)) {
      r.tidy(() => {
        const xt = r.tensor(x, [4, 50]);
        // per-tensor: scalar scale and zero point
        const s = 4 / (qmax - qmin);
        const y = r.fakeQuant(xt, r.tensor(s), z, qmin, qmax).dataSync();
        // per-channel: scale and zero point of shape [C, 1]
        const zc = [z, z + 1, z, Math.max(qmin, z - 1)];
        const yc = r.fakeQuant(xt, r.tensor(sPer, [4, 1]), r.tensor(zc, [4, 1]), qmin, qmax)
          .dataSync();
        for (let i = 0; i < x.length; i++) {
          const c = Math.floor(i / 50);
          for (const [v, sc, zp] of [[y[i], s, z], [yc[i], sPer[c], zc[c]]]) {
            const q = v / sc + zp;
            assert(
              Math.abs(q - Math.round(q)) < 1e-3,
              `${name} ${bits}b: ${v} is off the grid (q=${q})`,
            );
            assert(
              Math.round(q) >= qmin && Math.round(q) <= qmax,
              `${name} ${bits}b: q=${q} out of range`,
            );
            // inside the range the error is at most half a step
            const inside = x[i] / sc + zp >= qmin && x[i] / sc + zp <= qmax;
            if (inside) {
              assert(Math.abs(v - x[i]) <= sc / 2 + 1e-6, `${name} ${bits}b: error > s/2`);
            }
          }
        }
      });
    }
  }
});

Deno.test("fakeQuant's STE gradient is 1 inside the range and 0 outside", () => {
  const qmin = -8, qmax = 7, s = 0.25;
  const xs = [-3, -2.1, -1.9, -0.3, 0, 0.62, 1.7, 1.8, 2.5];
  const x = r.tensor(xs).variable();
  r.backward(r.sum(r.fakeQuant(x, r.tensor(s), 0, qmin, qmax)));
  // x/s in [-8.5, 7.5) rounds into the range: -2.1/0.25 = -8.4 -> -8 inside; 1.9 -> 7.6 -> 8 clipped
  const expected = xs.map((v) => (Math.round(v / s) >= qmin && Math.round(v / s) <= qmax ? 1 : 0));
  assertEquals(Array.from(x.grad!.dataSync()), expected);
  x.dispose();
});

Deno.test("fakeQuant's LSQ step-size gradient is round(x/s) - x/s inside, qmin - z or qmax - z outside", () => {
  for (const { qmin, qmax, z } of [...schemes(4), ...schemes(3)]) {
    const xs = Float32Array.from(randn(40, 2, 1.5));
    const s = r.full([40], 0.2).variable(); // one scale per element, so each gradient is visible
    r.tidy(() => r.backward(r.sum(r.fakeQuant(r.tensor(xs), s, z, qmin, qmax))));
    const expected = Array.from(xs, (v) => {
      const u = Math.fround(v / Math.fround(0.2));
      const q = Math.round(u) + z;
      return q < qmin ? qmin - z : q > qmax ? qmax - z : Math.round(u) - u;
    });
    assertClose(s.grad!.dataSync(), expected, { atol: 1e-5 });
    s.dispose();
  }
});

Deno.test("fakeQuant's gradient to a per-channel scale sums its channel's LSQ terms", () => {
  const xs = [0.1, 0.72, -0.33, 2.5, -1.07, 0.2, 5, -0.9];
  const sc = [0.3, 0.13];
  const s = r.tensor(sc, [2, 1]).variable();
  r.tidy(() => r.backward(r.sum(r.fakeQuant(r.tensor(xs, [2, 4]), s, 1, -8, 7))));
  const expected = sc.map((v, c) =>
    xs.slice(c * 4, c * 4 + 4).reduce((acc, x) => {
      const u = Math.fround(x / Math.fround(v));
      const q = Math.round(u) + 1;
      return acc + (q < -8 ? -9 : q > 7 ? 6 : Math.round(u) - u);
    }, 0)
  );
  assertClose(s.grad!.dataSync(), expected, { atol: 1e-5 });
  s.dispose();
});

Deno.test("AdaRound's h(V) lies in [0, 1] and init makes h = frac(W/s)", () => {
  const v = r.tensor(Float32Array.from({ length: 41 }, (_, i) => -20 + i));
  const h = r.rectifiedSigmoid(v).dataSync();
  assert(h.every((x) => x >= 0 && x <= 1), "h(V) out of [0, 1]");
  assert(h[0] === 0 && h[40] === 1, "h saturates at 0 and 1");
  v.dispose();
  const w = randn(30, 3), s = 0.1;
  const frac = Array.from(w, (x) => x / s - Math.floor(x / s));
  const v0 = r.tensor(frac.map((f) => r.adaroundInit(f)));
  assertClose(r.rectifiedSigmoid(v0).dataSync(), frac, { atol: 1e-5 });
  // the soft weight at init reproduces W inside the range
  const wt = r.tensor(w);
  assertClose(r.adaroundWeight(wt, v0, r.tensor(s), 0, -128, 127).dataSync(), w, { atol: 1e-5 });
  v0.dispose();
  wt.dispose();
});

Deno.test("AdaRound's hard rounding gives floor(W/s) + (V >= 0) on the grid", () => {
  const w = randn(24, 4), s = 0.07, z = 3, qmin = 0, qmax = 15;
  const vs = randn(24, 5);
  r.tidy(() => {
    const y = r.adaroundWeight(r.tensor(w), r.tensor(vs), r.tensor(s), z, qmin, qmax, true)
      .dataSync();
    const expected = Array.from(w, (x, i) => {
      const q = Math.min(
        qmax,
        Math.max(qmin, Math.floor(Math.fround(x / s)) + (vs[i] >= 0 ? 1 : 0) + z),
      );
      return (q - z) * s;
    });
    assertClose(y, expected, { atol: 1e-6 });
  });
});

Deno.test("AdaRound's regularizer value and gradient are correct", () => {
  const vs = [-2, -0.5, 0.1, 0.7, 1.9, 3];
  for (const beta of [2, 8, 20]) {
    const h = vs.map((v) => Math.min(1, Math.max(0, (1 / (1 + Math.exp(-v))) * 1.2 - 0.1)));
    const expected = h.reduce((acc, x) => acc + 1 - Math.abs(2 * x - 1) ** beta, 0);
    const got = r.tidy(() => r.adaroundRegularizer(r.tensor(vs), beta).dataSync()[0]);
    assertClose([got], [expected], { rtol: 1e-5 });
    gradcheck((v) => r.adaroundRegularizer(v, beta), [{ data: vs, shape: [6] }], { eps: 1e-3 });
  }
  gradcheck(
    (w, v) => r.adaroundWeight(w, v, r.tensor(0.1), 2, 0, 15),
    [{ data: [0.013, 0.52, -0.14], shape: [3], grad: false }, { data: [-1, 0.3, 1.2], shape: [3] }],
  );
});

Deno.test("fused fakeQuant equals the composite: forward bit for bit, STE and LSQ gradients", () => {
  const cases: { x: number[]; s: number[]; sShape: number[]; z: number[] | number }[] = [
    { x: [64, 8, 5, 5], s: [1], sShape: [], z: 0 }, // per-tensor, symmetric
    { x: [64, 8, 5, 5], s: [1], sShape: [], z: 5 }, // per-tensor, asymmetric
    { x: [8, 3, 3, 3], s: [8], sShape: [8, 1, 1, 1], z: [8] }, // per-channel weights
    { x: [4, 6], s: [1], sShape: [1, 1], z: [1] },
  ];
  for (const { x: xShape, s: sSize, sShape, z } of cases) {
    for (const [qmin, qmax] of [[-8, 7], [0, 15], [-128, 127]]) {
      const n = xShape.reduce((a, b) => a * b, 1);
      const xs = randn(n, qmax + xShape[0], 1.5);
      const ss = Array.from(randn(sSize[0], qmin + 40, 0.02), (v) => Math.abs(v) + 0.05);
      const zs = typeof z === "number"
        ? z
        : Array.from({ length: z[0] }, (_, i) => (i * 3) % (qmax - qmin + 1) + qmin);
      const run = (fn: typeof r.fakeQuant) =>
        r.tidy(() => {
          const xt = r.tensor(xs, xShape).variable();
          const st = r.tensor(ss, sShape).variable();
          const zt = typeof zs === "number" ? zs : r.tensor(zs, sShape);
          const y = fn(xt, st, zt, qmin, qmax);
          // a non-uniform upstream gradient
          const w = r.tensor(randn(n, 99, 1), xShape);
          r.backward(r.sum(r.mul(y, w)));
          const out = [y.dataSync(), xt.grad!.dataSync(), st.grad!.dataSync()];
          xt.dispose();
          st.dispose();
          return out;
        });
      const [yf, gxf, gsf] = run(r.fakeQuant);
      const [yc, gxc, gsc] = run(r.fakeQuantComposite);
      const what = `[${xShape}] s[${sShape}] z=${JSON.stringify(z)} [${qmin}, ${qmax}]`;
      assertEquals(Array.from(yf), Array.from(yc), `forward ${what}`);
      assertClose(gxf, gxc, { atol: 1e-6, rtol: 1e-6 });
      // The composite sums g·r and −g·s·x/s² separately (two sums that nearly cancel); the
      // fused rule sums g·(r − x/s): they agree to the accumulated rounding of n terms.
      assertClose(gsf, gsc, { atol: 1e-7 * n / sSize[0], rtol: 1e-5 });
      assert(gxf.some((v) => v === 0) || qmax === 127, `${what}: some elements clip`);
    }
  }
});

Deno.test("fused fakeQuant handles NaN, infinities, huge and tiny inputs and fractional zero points", () => {
  // Rows with such values leave the kernel's branch-free loop for its exact one; each row here
  // mixes ordinary values with one special value so both loops' results are checked.
  const specials = [NaN, Infinity, -Infinity, 3e38, -3e38, 1e9, 5e6, 1e-40, -0, 0.25, 0.75, 2.5];
  const s = 0.5, qmin = -8, qmax = 7;
  for (const z of [0, 3, 1.5]) {
    for (const sp of specials) {
      const xs = [0.1, -1.3, sp, 4.75, -9, 2.25, 100];
      r.tidy(() => {
        const xt = r.tensor(xs, [7]).variable();
        const y = r.fakeQuant(xt, r.tensor(s), z, qmin, qmax);
        r.backward(r.sum(y));
        const got = Array.from(y.dataSync());
        const gx = Array.from(xt.grad!.dataSync());
        const want = xs.map((v) => {
          if (Number.isNaN(v)) return NaN;
          const q = Math.min(Math.max(roundHalfEven(Math.fround(v / s)) + z, qmin), qmax);
          return Math.fround(Math.fround(q - z) * s);
        });
        const wantG = xs.map((v) => {
          const a = roundHalfEven(Math.fround(v / s)) + z;
          return a >= qmin && a <= qmax ? 1 : 0;
        });
        assertEquals(got, want, `forward z=${z} special=${sp}`);
        assertEquals(gx, wantG, `STE gradient z=${z} special=${sp}`);
      });
    }
  }
});

/** Round half to even, the rounding of the runtime's `round`. */
function roundHalfEven(v: number): number {
  if (!Number.isFinite(v)) return v;
  const f = Math.floor(v), d = v - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

Deno.test("fakeQuant with QDrop's drop equals where(randomMask, x, fakeQuant(x)): forward and both gradients bit for bit", () => {
  // 9,000 elements: more than one of the kernel's blocks, so the flat index carries across them.
  for (
    const [shape, sShape, s, p] of [
      [[2, 5, 30, 30], [], [0.07], 0.5],
      [[3, 7, 11], [1], [0.2], 0.25],
      [[4, 4], [], [0.1], 1],
      [[4, 4], [], [0.1], 0],
    ] as [number[], number[], number[], number][]
  ) {
    const n = shape.reduce((a, b) => a * b, 1);
    const xs = randn(n, 7 + n, 1);
    const w = randn(n, 3, 1);
    const drop = { p, k0: 0x9e3779b9, k1: 12345 };
    const run = (fused: boolean) =>
      r.tidy(() => {
        const x = r.tensor(xs, shape).variable();
        const st = r.tensor(s, sShape).variable();
        const y = fused
          ? r.fakeQuant(x, st, 1, 0, 15, drop)
          : r.where(r.runOp("randomMask", [x], drop), x, r.fakeQuant(x, st, 1, 0, 15));
        r.backward(r.sum(r.mul(y, r.tensor(w, shape))));
        const out = [y.dataSync(), x.grad!.dataSync(), st.grad!.dataSync()].map((a) =>
          Array.from(a)
        );
        x.dispose();
        st.dispose();
        return out;
      });
    const [yf, gxf, gsf] = run(true), [yc, gxc, gsc] = run(false);
    const what = `[${shape}] p=${p}`;
    assertEquals(yf, yc, `forward ${what}`);
    assertEquals(gxf.map((v) => v + 0), gxc.map((v) => v + 0), `x gradient ${what}`);
    assertEquals(gsf, gsc, `scale gradient ${what}`);
    const kept = yf.filter((v, i) => v === xs[i]).length / n;
    if (p === 0.5) assert(kept > 0.45 && kept < 0.6, `${what}: about half kept, got ${kept}`);
  }
});
