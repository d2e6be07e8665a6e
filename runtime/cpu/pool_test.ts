import { assert, assertEquals } from "../assert.ts";
import * as r from "../mod.ts";
import { clearPool, give, poolBytes, STALE_MS, take } from "./pool.ts";

/** These tests must not depend on how much memory the machine running them has free. */
const noProbe = () => undefined;

Deno.test("pool hands a released array back zero-filled, and only for the same dtype and length", () => {
  clearPool({ limitMb: 64, minElements: 4096, memoryProbe: noProbe });
  const a = take("f32", 10_000).fill(7);
  give(a);
  assertEquals(poolBytes(), 40_000);
  assert(take("i32", 10_000) !== (a as unknown), "an i32 request must not get an f32 array");
  assert(take("f32", 10_001) !== a, "another length must not get it");
  const b = take("f32", 10_000);
  assert(b === a, "the same array comes back");
  assertEquals(b.reduce((p, q) => p + Math.abs(q), 0), 0);
  assertEquals(poolBytes(), 0);
  clearPool({});
});

Deno.test("pool skips views into a larger buffer, small arrays, and anything over its limit", () => {
  clearPool({ limitMb: 0.05, minElements: 4096, memoryProbe: noProbe }); // ~52 KB
  give(new Float32Array(100_000).subarray(0, 20_000));
  give(new Float32Array(100));
  assertEquals(poolBytes(), 0);
  give(new Float32Array(10_000));
  give(new Float32Array(10_000));
  assertEquals(poolBytes(), 40_000, "the second array does not fit");
  clearPool({});
});

Deno.test("kernels that accumulate give the same result in reused (dirty) buffers", () => {
  clearPool({ minElements: 4096, memoryProbe: noProbe });
  const rng = new r.Random(3);
  // Small enough to stay in the TypeScript kernel, whose input gradient accumulates with +=.
  const dy = r.tensor(rng.normalArray(2 * 8 * 12 * 12), [2, 8, 12, 12]);
  const w = r.tensor(rng.normalArray(72), [8, 1, 3, 3]);
  const attrs = {
    ...r.convAttrs({ strides: [2, 2], pads: [1, 1, 1, 1], groups: 8 }),
    inputShape: [2, 8, 24, 24],
  };
  const grad = () => r.runOp("conv2dBackwardInput", [dy, w], attrs);
  const first = grad();
  const want = Array.from(first.dataSync());
  first.dispose();
  const dirty = [0, 1, 2].map(() =>
    r.tensor(new Float32Array(want.length).fill(1e9), [want.length])
  );
  for (const t of dirty) t.dispose();
  assert(poolBytes() >= 3 * want.length * 4, "released arrays went to the pool");
  const again = grad();
  assertEquals(Array.from(again.dataSync()), want);
  for (const t of [again, dy, w]) t.dispose();
  clearPool({});
});

/** Runs `fn` with `performance.now` on a settable clock (the pool reads it for ages and probes). */
function withClock(fn: (clock: { t: number }) => void): void {
  const clock = { t: 1_000_000 };
  const realNow = performance.now;
  performance.now = () => clock.t;
  try {
    fn(clock);
  } finally {
    performance.now = realNow;
    clearPool({});
  }
}

Deno.test("pool lowers its capacity by the memory shortfall, and grows it back once memory is plentiful", () => {
  const GB = 2 ** 30, MB = 2 ** 20;
  let available = 8 * GB;
  withClock((clock) => {
    // 4 MB arrays, capacity 64 MB; the floor is max(16 GB / 8, 1 GB) = 2 GB available.
    clearPool({
      limitMb: 64,
      minElements: 1024,
      memoryProbe: () => ({ total: 16 * GB, available }),
    });
    const give4 = () => give(new Float32Array(MB));
    for (let i = 0; i < 10; i++) give4();
    assertEquals(poolBytes(), 40 * MB, "plenty of memory: pooled");
    clock.t += 100;
    available = 2 * GB - 12 * MB;
    give4();
    assertEquals(poolBytes(), 44 * MB, "short, but not probed again within 200 ms");
    clock.t += 200;
    give4();
    // The cut: capacity min(64, 44) - 12 = 32 MB, so 8 arrays stay; the new one does not fit.
    assertEquals(
      poolBytes(),
      32 * MB,
      "short of memory: lowered by the 12 MB shortfall, not emptied",
    );
    clock.t += 200;
    give4();
    assertEquals(
      poolBytes(),
      32 * MB,
      "a second cut waits a second (the collector frees the first)",
    );
    take("f32", MB);
    give4();
    assertEquals(poolBytes(), 32 * MB, "still pooling within the lowered capacity");
    clock.t += 1000;
    available = 3 * GB;
    give4();
    assertEquals(
      poolBytes(),
      32 * MB,
      "memory above the floor but not 2 GB above it: capacity held",
    );
    clock.t += 200;
    available = 5 * GB;
    for (let i = 0; i < 10; i++) give4();
    assertEquals(poolBytes(), 64 * MB, "plenty again: capacity back to its limit");
  });
});

Deno.test("pool drops lengths nothing has used for a while, and makes room with them", () => {
  const MB = 2 ** 20;
  withClock((clock) => {
    clearPool({ limitMb: 16, minElements: 1024, memoryProbe: () => undefined });
    give(new Float32Array(MB));
    give(new Float32Array(MB));
    give(new Float32Array(2 * MB));
    assertEquals(poolBytes(), 16 * MB);
    clock.t += 1000;
    give(new Float32Array(3 * MB));
    assertEquals(
      poolBytes(),
      16 * MB,
      "full, and nothing is stale yet: the new length is not kept",
    );
    clock.t += STALE_MS - 500;
    take("f32", MB); // the 4 MB class is in use
    clock.t += 1000;
    give(new Float32Array(3 * MB));
    // The 8 MB class went stale and made room; the 4 MB class (used 1 s ago) stays.
    assertEquals(poolBytes(), 4 * MB + 12 * MB);
    assert(take("f32", 3 * MB).length === 3 * MB);
    assertEquals(poolBytes(), 4 * MB);
    clock.t += STALE_MS + 300;
    give(new Float32Array(4 * MB)); // the periodic probe drops what went stale meanwhile
    assertEquals(poolBytes(), 16 * MB, "only the length just released");
  });
});
