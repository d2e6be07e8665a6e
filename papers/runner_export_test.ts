import { assert, assertEquals } from "../runtime/assert.ts";
import { haveProxyResnet } from "./_fixtures.ts";
import { reproduce } from "./runner.ts";
import { readRecords } from "./record.ts";

Deno.test({
  name: "a run records the fused-kernel top-1 of its export, equal to the simulated one",
  ignore: !haveProxyResnet(),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const s = await reproduce({
        paper: "mrecg",
        cells: ["mrecg/resnet18/w4a4/adaround"],
        resultsDir: dir,
        checkpointDir: `${dir}/checkpoints`,
        log: () => {},
      });
      assertEquals(s.ran, 1);
      const [r] = (await readRecords(s.resultsFile)).records;
      assert(r.exported_int8 !== undefined, "no exported_int8 in the record");
      assertEquals(r.exported_int8.n, r.metrics.n);
      assert(
        Math.abs(r.exported_int8.top1! - r.metrics.top1!) <= 0.1,
        `fused ${r.exported_int8.top1} vs simulated ${r.metrics.top1}`,
      );
      assert(!r.notes.some((n) => n.includes("differ by more than")), r.notes.join("; "));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
