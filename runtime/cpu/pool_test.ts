import { assert, assertEquals } from "../_assert.ts";
import * as r from "../mod.ts";
import { clearPool, give, poolBytes, take } from "./pool.ts";

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

Deno.test("pool empties itself and stops pooling while the system is short of memory", () => {
  const GB = 2 ** 30;
  let available = 8 * GB;
  const clock = { t: 0 };
  const realNow = performance.now;
  performance.now = () => clock.t; // the probe is read at most every 200 ms
  try {
    clearPool({
      limitMb: 64,
      minElements: 4096,
      memoryProbe: () => ({ total: 16 * GB, available }),
    });
    // Each step: advance the clock, set the available memory, release one array, check the pool.
    const steps: [ms: number, availableGb: number, pooled: number, why: string][] = [
      [0, 8, 40_000, "plenty of memory: pooled"],
      [100, 1.5, 80_000, "under max(16 GB / 8, 1 GB), but not probed again within 200 ms"],
      [200, 1.5, 0, "short of memory: emptied, and the array is not kept"],
      [50, 4, 0, "still counted as short until the next probe"],
      [200, 4, 40_000, "memory back: pooling again"],
    ];
    for (const [ms, gb, pooled, why] of steps) {
      clock.t += ms;
      available = gb * GB;
      give(new Float32Array(10_000));
      assertEquals(poolBytes(), pooled, why);
    }
  } finally {
    performance.now = realNow;
    clearPool({});
  }
});
