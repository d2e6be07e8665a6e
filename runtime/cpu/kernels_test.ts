/**
 * CPU kernels against onnxruntime-node on the same inputs (single-node ONNX graphs), for both the
 * pure-TypeScript reference backend and the fast (onnxruntime-routed) backend; the fast
 * convolution gradients against the reference ones; and the elementwise, reduction and movement
 * kernels against naive index arithmetic, including rank-0, size-0 and i32 edge cases.
 */
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { randn } from "../_test_util.ts";
import * as r from "../mod.ts";
import { CpuBackend, type Tensor } from "../mod.ts";
import { type MiniNode, runGraph } from "./ort.ts";
import { roundEven } from "./kernels.ts";

const ref = new CpuBackend({ fast: false });
const fast = new CpuBackend({ fast: true });
const BACKENDS = [["reference", ref], ["fast", fast]] as const;
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Runs one ONNX node on onnxruntime with float inputs in0..inN-1 and output `out`. */
function ort(inputs: [Float32Array, number[]][], node: Omit<MiniNode, "inputs" | "outputs">) {
  return runGraph({
    inputs: inputs.map(([, s]) => s),
    nodes: [{ ...node, inputs: inputs.map((_, i) => `in${i}`), outputs: ["out"] }],
  }, inputs.map(([d]) => d));
}

function onBoth(f: (b: CpuBackend, up: (d: Float32Array, s: number[]) => Tensor) => Tensor) {
  return BACKENDS.map(([name, b]) =>
    [name, r.tidy(() => f(b, (d, s) => r.upload(d, s, b)).dataSync())] as const
  );
}

Deno.test("conv2d forward matches onnxruntime's Conv (reference and fast backends)", () => {
  const cases: { x: number[]; w: number[]; o: r.Conv2dOptions }[] = [
    { x: [2, 3, 9, 8], w: [4, 3, 3, 3], o: { pads: [1, 1, 1, 1] } },
    { x: [2, 8, 16, 16], w: [16, 8, 3, 3], o: { strides: [2, 1], pads: [0, 1, 2, 1] } },
    { x: [1, 8, 15, 13], w: [8, 4, 3, 2], o: { groups: 2, dilations: [2, 3], pads: [2, 0, 1, 3] } },
    {
      x: [2, 16, 14, 14],
      w: [16, 1, 3, 3],
      o: { groups: 16, pads: [1, 1, 1, 1], strides: [2, 2] },
    },
    { x: [2, 16, 14, 14], w: [32, 16, 1, 1], o: {} },
  ];
  for (const c of cases) {
    const x = randn(size(c.x), 1), w = randn(size(c.w), 2);
    const a = r.convAttrs(c.o);
    const expected = ort([[x, c.x], [w, c.w]], {
      op: "Conv",
      attrs: { strides: a.strides, pads: a.pads, dilations: a.dilations, group: a.groups },
    }).data;
    for (const [name, got] of onBoth((_, up) => r.conv2d(up(x, c.x), up(w, c.w), undefined, c.o))) {
      assertClose(got, expected, {
        rtol: 1e-4,
        atol: 1e-4,
        msg: `${name} conv ${JSON.stringify(c)}`,
      });
    }
  }
});

Deno.test("matmul and gemm match onnxruntime's Gemm and MatMul", () => {
  for (const [m, k, n] of [[3, 5, 4], [64, 48, 40]]) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
      const sa = ta ? [k, m] : [m, k], sb = tb ? [n, k] : [k, n];
      const a = randn(m * k, 1), b = randn(k * n, 2), c = randn(n, 3);
      const expected = ort([[a, sa], [b, sb], [c, [n]]], {
        op: "Gemm",
        attrs: { transA: +ta, transB: +tb, alpha: 0.5, beta: 2 },
      }).data;
      for (
        const [name, got] of onBoth((_, up) =>
          r.gemm(up(a, sa), up(b, sb), up(c, [n]), { transA: ta, transB: tb, alpha: 0.5, beta: 2 })
        )
      ) assertClose(got, expected, { rtol: 1e-4, atol: 1e-4, msg: `${name} gemm ${m},${k},${n}` });
    }
  }
  // batched with broadcasting batch dimensions
  const sa = [2, 1, 20, 30], sb = [3, 30, 40];
  const a = randn(size(sa), 4), b = randn(size(sb), 5);
  const expected = ort([[a, sa], [b, sb]], { op: "MatMul" }).data;
  for (const [name, got] of onBoth((_, up) => r.matmul(up(a, sa), up(b, sb)))) {
    assertClose(got, expected, { rtol: 1e-4, atol: 1e-4, msg: `${name} batched matmul` });
  }
  // transposed batched operands agree between backends
  const [rt, ft] = onBoth((_, up) =>
    r.matmul(up(a, [2, 1, 30, 20]), up(b, [3, 40, 30]), true, true)
  );
  assertClose(ft[1], rt[1], { rtol: 1e-4, atol: 1e-4, msg: "batched transposed matmul" });
});

Deno.test("max and average pooling match onnxruntime's MaxPool and AveragePool", () => {
  const xs = [2, 3, 11, 10];
  const x = randn(size(xs), 6);
  const cases = [
    { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
    { kernel: [2, 3], strides: [1, 2], pads: [0, 1, 1, 0] },
    { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] },
  ] as {
    kernel: [number, number];
    strides: [number, number];
    pads: [number, number, number, number];
  }[];
  for (const c of cases) {
    const attrs = { kernel_shape: c.kernel, strides: c.strides, pads: c.pads };
    const maxExp = ort([[x, xs]], { op: "MaxPool", attrs }).data;
    for (const [name, got] of onBoth((_, up) => r.maxPool2d(up(x, xs), c.kernel, c))) {
      assertClose(got, maxExp, { msg: `${name} maxpool ${JSON.stringify(c)}` });
    }
    for (const countIncludePad of [false, true]) {
      const avgExp = ort([[x, xs]], {
        op: "AveragePool",
        attrs: { ...attrs, count_include_pad: +countIncludePad },
      }).data;
      for (
        const [name, got] of onBoth((_, up) =>
          r.avgPool2d(up(x, xs), c.kernel, { ...c, countIncludePad })
        )
      ) {
        assertClose(got, avgExp, {
          rtol: 1e-5,
          atol: 1e-6,
          msg: `${name} avgpool ${countIncludePad}`,
        });
      }
    }
  }
});

Deno.test("softmax matches onnxruntime's Softmax on every axis", () => {
  const xs = [2, 3, 4, 5];
  const x = randn(size(xs), 7, 3);
  for (const axis of [-1, 1, 0, 2]) {
    const expected = ort([[x, xs]], { op: "Softmax", attrs: { axis } }).data;
    for (const [name, got] of onBoth((_, up) => r.softmax(up(x, xs), axis))) {
      assertClose(got, expected, { rtol: 1e-5, atol: 1e-7, msg: `${name} softmax axis ${axis}` });
    }
    const logExp = ort([[x, xs]], { op: "LogSoftmax", attrs: { axis } }).data;
    for (const [name, got] of onBoth((_, up) => r.logSoftmax(up(x, xs), axis))) {
      assertClose(got, logExp, { rtol: 1e-5, atol: 1e-5, msg: `${name} logSoftmax axis ${axis}` });
    }
  }
});

Deno.test("fast conv2d gradients (onnxruntime ConvTranspose / swapped Conv) match the reference", () => {
  const cases: { x: number[]; w: number[]; o: r.Conv2dOptions }[] = [
    { x: [4, 8, 12, 12], w: [16, 8, 3, 3], o: { pads: [1, 1, 1, 1] } },
    { x: [2, 8, 13, 12], w: [8, 8, 3, 3], o: { strides: [2, 2], pads: [1, 0, 2, 1] } },
    {
      x: [2, 8, 16, 15],
      w: [8, 8, 3, 3],
      o: { strides: [2, 1], dilations: [1, 2], pads: [2, 1, 0, 1] },
    },
    {
      x: [2, 16, 14, 14],
      w: [16, 1, 3, 3],
      o: { groups: 16, strides: [2, 2], pads: [1, 1, 1, 1] },
    },
    { x: [2, 16, 12, 12], w: [32, 4, 3, 3], o: { groups: 4, pads: [1, 1, 1, 1] } },
    { x: [4, 32, 10, 10], w: [16, 32, 1, 1], o: {} }, // pointwise: batched MatMul graphs
    { x: [4, 8, 10, 10], w: [32, 8, 1, 1], o: {} },
  ];
  for (const c of cases) {
    const x = randn(size(c.x), 1), w = randn(size(c.w), 2);
    const grads = BACKENDS.map(([, b]) => {
      const xt = r.upload(x, c.x, b).variable(), wt = r.upload(w, c.w, b).variable();
      r.tidy(() => {
        const y = r.conv2d(xt, wt, undefined, c.o);
        r.backward(y, r.upload(randn(y.size, 3), y.shape, b));
      });
      const out = [xt.grad!.dataSync(), wt.grad!.dataSync()];
      xt.dispose();
      wt.dispose();
      return out;
    });
    assertClose(grads[1][0], grads[0][0], {
      rtol: 1e-4,
      atol: 1e-3,
      msg: `dx ${JSON.stringify(c)}`,
    });
    assertClose(grads[1][1], grads[0][1], {
      rtol: 1e-4,
      atol: 1e-3,
      msg: `dw ${JSON.stringify(c)}`,
    });
  }
});

/** Naive broadcast reference: y[o] = f(a[ia(o)], b[ib(o)]). */
function naiveBinary(
  f: (p: number, q: number) => number,
  a: Float32Array,
  sa: number[],
  b: Float32Array,
  sb: number[],
) {
  const out = r.broadcastShapes(sa, sb);
  const y = new Float32Array(size(out));
  const idx = (s: number[], o: number) => {
    let flat = 0, rem = o;
    const coords = out.map(() => 0);
    for (let d = out.length - 1; d >= 0; d--) {
      coords[d] = rem % out[d];
      rem = Math.floor(rem / out[d]);
    }
    const lead = out.length - s.length;
    for (let d = 0; d < s.length; d++) flat = flat * s[d] + (s[d] === 1 ? 0 : coords[d + lead]);
    return flat;
  };
  for (let o = 0; o < y.length; o++) y[o] = f(a[idx(sa, o)], b[idx(sb, o)]);
  return y;
}

Deno.test("broadcast elementwise kernels match naive indexing on every broadcasting pattern", () => {
  const pairs: [number[], number[]][] = [
    [[2, 3, 4, 5], [1, 3, 1, 1]],
    [[2, 3, 4, 5], [2, 3, 1, 1]],
    [[2, 3, 4, 5], [5]],
    [[2, 1, 4, 1], [1, 3, 1, 5]],
    [[3, 1], [1, 4]],
    [[4, 5], [2, 3, 4, 5]],
    [[], [2, 3]],
    [[1], [1, 1, 1]],
    [[2, 0, 3], [1, 3]],
  ];
  const ops: [string, (p: number, q: number) => number][] = [
    ["add", (p, q) => p + q],
    ["sub", (p, q) => p - q],
    ["mul", (p, q) => p * q],
    ["div", (p, q) => p / q],
    ["maximum", (p, q) => Math.max(p, q)],
    ["minimum", (p, q) => Math.min(p, q)],
    ["lt", (p, q) => +(p < q)],
    ["ge", (p, q) => +(p >= q)],
    ["eq", (p, q) => +(p === q)],
  ];
  for (const [sa, sb] of pairs) {
    const a = randn(size(sa), 1), b = randn(size(sb), 2).map((v, i) => (i % 3 ? v : a[0]));
    for (const [op, f] of ops) {
      for (const [x, sx, y, sy] of [[a, sa, b, sb], [b, sb, a, sa]] as const) {
        const got = r.tidy(() =>
          r.runOp(op as "add", [r.upload(x, sx), r.upload(y, sy)], {}).dataSync()
        );
        assertClose(got, naiveBinary(f, x, sx, y, sy), { msg: `${op} [${sx}] [${sy}]` });
      }
    }
  }
  const w = r.tidy(() =>
    r.where(r.tensor([1, 0, 1], [3, 1]), r.upload(randn(4, 1), [1, 4]), r.tensor([-1, -2, -3, -4]))
      .dataSync()
  );
  const a = randn(4, 1);
  assertClose(w, [...a, -1, -2, -3, -4, ...a]);
});

Deno.test("unary kernels compute their functions; round is half-to-even", () => {
  const x = Float32Array.from([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999997, -3.7, 3.2, 8388609]);
  const get = (f: (t: Tensor) => Tensor) => r.tidy(() => f(r.upload(x, [x.length])).dataSync());
  // The sign of zero is not checked (`+ 0` maps -0 to 0): round(-0.5) gives +0 here, IEEE -0.
  assertEquals(Array.from(get(r.round), (v) => v + 0), [-2, -2, 0, 0, 2, 2, 0, -4, 3, 8388609]);
  assertEquals(Array.from(get(r.roundSte)), Array.from(get(r.round)));
  assertEquals(Array.from(get(r.floor)), Array.from(x, Math.floor));
  assertEquals(roundEven(2 ** 52 + 1), 2 ** 52 + 1);
  assertClose(get(r.sigmoid), Array.from(x, (v) => 1 / (1 + Math.exp(-v))), { rtol: 1e-6 });
  assertClose(get(r.erf), [
    -0.999593,
    -0.966105,
    -0.520500,
    0.520500,
    0.966105,
    0.999593,
    0.520500,
    -1,
    0.999999,
    1,
  ], {
    atol: 2e-6,
  });
  assertClose(get((t) => r.clip(t, -1, 2)), Array.from(x, (v) => Math.min(2, Math.max(-1, v))));
  assertEquals(Array.from(get(r.relu)), Array.from(x, (v) => Math.max(v, 0)));
});

Deno.test("reductions handle several axes, negative axes, keepDims, i32 and empty inputs", () => {
  const xs = [2, 3, 4];
  const x = randn(24, 1);
  const naiveSum = (axes: number[]) => {
    const out = xs.map((d, i) => (axes.includes(i) ? 1 : d));
    const y = new Float32Array(size(out));
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) {
        for (let k = 0; k < 4; k++) {
          const o = [i, j, k].map((v, d) => (axes.includes(d) ? 0 : v));
          y[(o[0] * out[1] + o[1]) * out[2] + o[2]] += x[(i * 3 + j) * 4 + k];
        }
      }
    }
    return y;
  };
  for (const axes of [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2]]) {
    const got = r.tidy(() => r.sum(r.upload(x, xs), axes, true));
    assertEquals(got.shape, xs.map((d, i) => (axes.includes(i) ? 1 : d)));
    assertClose(got.dataSync(), naiveSum(axes), { rtol: 1e-5, atol: 1e-5 });
    got.dispose();
  }
  r.tidy(() => {
    const t = r.upload(x, xs);
    assertEquals(r.sum(t, -1).shape, [2, 3]);
    // runOp directly with a negative axis
    assertClose(
      r.runOp("sum", [t], { axes: [-1], keepDims: false }).dataSync(),
      r.sum(t, 2).dataSync(),
    );
    assertClose(
      r.runOp("max", [t], { axes: [-2], keepDims: true }).dataSync(),
      r.max(t, 1, true).dataSync(),
    );
    assertEquals(r.argmax(t).shape, [2, 3]);
    assertEquals(Array.from(r.argmax(r.tensor([[1, 5, 2], [7, 0, 7]])).dataSync()), [1, 0]);
    assertEquals(Array.from(r.argmax(r.tensor([[1, 5, 2], [7, 0, 8]]), 0).dataSync()), [1, 0, 1]);
    const i = r.tensor(Int32Array.from([-5, -3, -9, -4]), [2, 2]);
    assertEquals(Array.from(r.max(i, 1).dataSync()), [-3, -4]);
    assertEquals(Array.from(r.min(r.neg(r.cast(i, "f32")), 1).dataSync()), [3, 4]);
    assertEquals(r.max(i, 1).dtype, "i32");
    assertEquals(Array.from(r.sum(r.zeros([0, 3]), 0).dataSync()), [0, 0, 0]);
    assertEquals(Array.from(r.sum(r.tensor(5)).dataSync()), [5]);
    assertEquals(Array.from(r.topk(r.tensor([[3, 1, 4, 1, 5]]), 3).dataSync()), [4, 2, 0]);
  });
});

Deno.test("movement ops match naive indexing and carry i32 tensors", () => {
  r.tidy(() => {
    const x = r.tensor(Int32Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
    const tr = r.transpose(x, [2, 0, 1]);
    assertEquals(tr.dtype, "i32");
    assertEquals(tr.shape, [4, 2, 3]);
    const td = tr.dataSync();
    for (let k = 0; k < 4; k++) {
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 3; j++) assert(td[(k * 2 + i) * 3 + j] === (i * 3 + j) * 4 + k);
      }
    }
    assertEquals(Array.from(r.slice(x, [1, 0, 3], [2, 3, 0], [0, 1, 2], [1, 2, 1]).dataSync()), []);
    assertEquals(Array.from(r.slice(x, [1, -3, 1], [2, 3, 100], [0, 1, 2], [1, 2, 2]).dataSync()), [
      13,
      15,
      21,
      23,
    ]);
    assertEquals(
      Array.from(r.pad(r.tensor(Int32Array.from([1, 2]), [1, 2]), [0, 1, 1, 0], 7).dataSync()),
      [
        7,
        1,
        2,
        7,
        7,
        7,
      ],
    );
    assertEquals(Array.from(r.pad(r.tensor([1, 2, 3, 4]), [-1, 1]).dataSync()), [2, 3, 4, 0]);
    assertEquals(Array.from(r.concat([x, x], -1).dataSync()).slice(0, 8), [0, 1, 2, 3, 0, 1, 2, 3]);
    assertEquals(r.concat([r.zeros([2, 0]), r.ones([2, 2])], 1).shape, [2, 2]);
    const g = r.gather(x, r.tensor(Int32Array.from([-1, 0]), [2]), 1);
    assertEquals(Array.from(g.dataSync()), [
      8,
      9,
      10,
      11,
      0,
      1,
      2,
      3,
      20,
      21,
      22,
      23,
      12,
      13,
      14,
      15,
    ]);
    assertThrows(() => r.gather(x, r.tensor(Int32Array.from([3]), [1]), 1), RangeError);
    const e = r.expand(r.tensor(Int32Array.from([1, 2]), [2, 1]), [2, 2, 3]);
    assertEquals(e.dtype, "i32");
    assertEquals(Array.from(e.dataSync()), [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2]);
    const u = r.upsampleNearest(r.tensor([1, 2, 3, 4], [1, 1, 2, 2]), [1, 2]);
    assertEquals(Array.from(u.dataSync()), [1, 1, 2, 2, 3, 3, 4, 4]);
    // rank-0 tensors through movement ops
    const s = r.tensor(3);
    assertEquals(r.transpose(s).shape, []);
    assertEquals(Array.from(r.expand(s, [2]).dataSync()), [3, 3]);
    assertEquals(Array.from(r.reshape(s, [1, 1]).dataSync()), [3]);
    assertEquals(Array.from(r.pad(s, []).dataSync()), [3]);
    // i32 arithmetic stays i32 with integer numbers, promotes with fractions or f32 tensors
    assertEquals(r.add(x, 1).dtype, "i32");
    assertEquals(r.add(x, 0.5).dtype, "f32");
    assertEquals(
      Array.from(r.add(r.tensor(Int32Array.from([1]), [1]), r.tensor([0.5])).dataSync()),
      [1.5],
    );
    assertEquals(Array.from(r.cast(r.tensor([1.7, -1.7]), "i32").dataSync()), [1, -1]);
  });
});

Deno.test("shape errors are RangeErrors that name the shapes", () => {
  r.tidy(() => {
    assertThrows(() => r.add(r.zeros([2, 3]), r.zeros([4])), RangeError, "[2,3] and [4]");
    assertThrows(() => r.matmul(r.zeros([2, 3]), r.zeros([4, 2])), RangeError, "inner dimensions");
    assertThrows(() => r.reshape(r.zeros([2, 3]), [4]), RangeError, "[2,3]");
    assertThrows(() => r.sum(r.zeros([2, 3]), 2), RangeError, "out of range");
    assertThrows(
      () => r.conv2d(r.zeros([1, 3, 4, 4]), r.zeros([2, 2, 3, 3])),
      RangeError,
      "channels",
    );
  });
});
