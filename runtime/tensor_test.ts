/**
 * Tensor mechanics: autograd (accumulation, noGrad, valueAndGrad, shared subexpressions, seeds)
 * and memory (tidy, keep, backward and views release what they should).
 */
import { assert, assertClose, assertEquals, assertThrows } from "./assert.ts";
import * as r from "./mod.ts";

const live = () => r.cpu.memory().liveBuffers;

Deno.test("gradients accumulate across two backward calls", () => {
  const x = r.tensor([1, 2, 3]).variable();
  r.tidy(() => r.backward(r.sum(r.mul(x, x))));
  r.tidy(() => r.backward(r.sum(r.mul(x, 3))));
  assertEquals(Array.from(x.grad!.dataSync()), [5, 7, 9]);
  x.dispose();
});

Deno.test("a subexpression used twice accumulates both paths", () => {
  const x = r.tensor([1, -2]).variable();
  r.tidy(() => {
    const a = r.mul(x, 3);
    r.backward(r.sum(r.add(r.mul(a, a), a))); // d/dx (9x^2 + 3x) = 18x + 3
  });
  assertEquals(Array.from(x.grad!.dataSync()), [21, -33]);
  x.grad!.dispose();
  x.grad = null;
  r.tidy(() => r.backward(r.sum(r.add(x, x)))); // one op reading the same tensor twice
  assertEquals(Array.from(x.grad!.dataSync()), [2, 2]);
  x.dispose();
});

Deno.test("noGrad scopes record nothing", () => {
  const x = r.tensor([1, 2]).variable();
  const y = r.noGrad(() => r.mul(x, 2));
  assert(!y.requiresGrad && y.node === null, "noGrad recorded a node");
  assert(!r.noGrad(() => r.reshape(x, [2, 1])).requiresGrad, "noGrad view recorded");
  assert(r.isGradEnabled(), "grad mode not restored");
  assertThrows(() => r.backward(r.sum(y)), TypeError, "does not depend");
  const d = r.detach(x);
  assert(!d.requiresGrad && d.node === null, "detach kept history");
  for (const t of [x, y, d]) t.dispose();
});

Deno.test("valueAndGrad returns gradients without touching .grad", () => {
  const w = r.tensor([1, 2]).variable();
  const before = r.tensor([10, 10]);
  w.grad = before;
  const c = r.tensor([0, 0]); // a constant that becomes a parameter only inside valueAndGrad
  const base = live();
  const { value, grads } = r.tidy(() =>
    r.valueAndGrad(() => r.sum(r.mul(r.mul(w, w), r.add(c, 1))), [w, c])
  );
  assertEquals(Array.from(value.dataSync()), [5]);
  assertEquals(Array.from(grads[0].dataSync()), [2, 4]);
  assertEquals(Array.from(grads[1].dataSync()), [1, 4]);
  assert(w.grad === before && !c.requiresGrad && c.grad === null, ".grad or requiresGrad changed");
  assert(!value.requiresGrad, "value carries a tape");
  assertEquals(live(), base + 3, "valueAndGrad left other buffers alive");
  for (const t of [value, ...grads, w, c]) t.dispose();
  // inside tidy the results are owned by the scope
  const b2 = live();
  r.tidy(() => void r.valueAndGrad(() => r.sum(r.mul(w2, w2)), [w2]));
  assertEquals(live(), b2);
});
const w2 = r.tensor([1, 2]);

Deno.test("backward on a non-scalar needs a seed of the root's size", () => {
  const x = r.tensor([1, 2, 3]).variable();
  r.tidy(() => {
    const y = r.mul(x, 2);
    assertThrows(() => r.backward(y), RangeError, "seed");
    assertThrows(() => r.backward(y, r.tensor([1, 1])), RangeError, "seed");
    r.backward(y, r.tensor([1, 0, -1]));
  });
  assertEquals(Array.from(x.grad!.dataSync()), [2, 0, -2]);
  // backward straight from a leaf
  r.tidy(() => r.backward(x, r.tensor([1, 1, 1])));
  assertEquals(Array.from(x.grad!.dataSync()), [3, 1, -1]);
  x.dispose();
});

Deno.test("tidy releases everything it does not return; keep survives", () => {
  const base = live();
  const kept = r.tidy(() => {
    const a = r.add(r.tensor([1, 2]), 1);
    r.keep(r.mul(a, 2));
    const b = r.tidy(() => r.exp(r.mul(a, 3)));
    return { out: r.add(b, a), list: [r.neg(a)] };
  });
  assertEquals(live(), base + 3); // out, list[0], the kept tensor
  kept.out.dispose();
  kept.list[0].dispose();
  assertEquals(live(), base + 1);
  assertThrows(() => kept.out.dataSync(), ReferenceError, "disposed");
  assertThrows(() => r.tidy(() => Promise.resolve(1)), TypeError);
});

Deno.test("backward leaves no garbage beyond the leaf gradients", () => {
  const w = r.tensor([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]]).variable();
  const k = r.tensor([0.5, -0.5, 0.25, 0.1, 0.2, 0.3, -0.1, 0.05, 0.4], [1, 1, 3, 3]).variable();
  const x = r.tensor(Float32Array.from({ length: 50 }, (_, i) => Math.sin(i)), [1, 2, 5, 5]);
  const base = live();
  for (let i = 0; i < 2; i++) {
    r.tidy(() => {
      const h = r.conv2d(x, r.expand(k, [2, 1, 3, 3]), undefined, {
        pads: [1, 1, 1, 1],
        groups: 2,
      });
      const p = r.maxPool2d(r.relu(h), [2, 2]);
      const f = r.matmul(r.reshape(p, [4, 2]), r.transpose(r.slice(w, [0], [2], [1]), [1, 0]));
      const loss = r.add(
        r.mean(r.square(r.softmax(f))),
        r.sum(r.concat([r.sum(w, 0), r.max(w, 0)], 0)),
      );
      r.backward(loss);
    });
    assertEquals(live(), base + 2, "backward left buffers beyond w.grad and k.grad");
  }
  assertEquals(w.grad!.shape, [2, 3]);
  for (const t of [w, k, x]) t.dispose();
  assertEquals(live(), base - 3); // w, k, x and both gradients released
});

Deno.test("backward's peak memory stays below holding every gradient to the end", () => {
  // a chain of 30 elementwise ops on 1e5 elements: eager release keeps a few buffers live
  const x = r.full([100_000], 0.5).variable();
  r.tidy(() => {
    let y = x;
    for (let i = 0; i < 30; i++) y = r.mul(r.add(y, 0.01), 0.99);
    const before = r.cpu.memory();
    const peak0 = before.peakBytes;
    r.backward(r.sum(y));
    const after = r.cpu.memory();
    // forward held ~60 buffers of 400 kB; backward may add only a handful at once
    assert(
      after.peakBytes - Math.max(peak0, before.liveBytes) < 10 * 400_000,
      "backward held its gradients",
    );
  });
  assertClose(x.grad!.dataSync().slice(0, 1), [0.99 ** 30], { rtol: 1e-5 });
  x.dispose();
});

Deno.test("assign replaces values in place and releases the old storage", () => {
  const p = r.tensor([1, 2]);
  const base = live();
  r.tidy(() => p.assign(r.add(p, 1)));
  assertEquals(Array.from(p.dataSync()), [2, 3]);
  assertEquals(live(), base);
  assertThrows(() => p.assign(r.tensor([1, 2, 3])), RangeError);
  p.dispose();
});

Deno.test("size-0 and rank-0 tensors flow through ops and autograd", () => {
  r.tidy(() => {
    const e = r.zeros([0, 3]);
    assertEquals(r.add(e, 1).shape, [0, 3]);
    assertEquals(r.matmul(r.zeros([2, 0]), r.zeros([0, 3])).dataSync().length, 6);
    assertEquals(Array.from(r.matmul(r.zeros([2, 0]), r.zeros([0, 3])).dataSync()), [
      0,
      0,
      0,
      0,
      0,
      0,
    ]);
    assertEquals(r.transpose(e).shape, [3, 0]);
    const s = r.tensor(2).variable();
    r.backward(r.mul(s, s));
    assertEquals(Array.from(s.grad!.dataSync()), [4]);
    assertEquals(s.grad!.shape, []);
    s.dispose();
  });
});
