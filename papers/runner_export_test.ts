import { assert, assertEquals } from "../runtime/assert.ts";
import { haveProxyResnet } from "./_fixtures.ts";
import { INT8_CHECK_IMAGES, reproduce } from "./runner.ts";
import { readRecords } from "./record.ts";

Deno.test({
  name:
    "a run records the fused-kernel top-1 of its export on the first 256 images, agreeing with the Q/DQ graph",
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
      assertEquals(r.exported_int8.n, Math.min(INT8_CHECK_IMAGES, r.metrics.n!));
      const m = r.notes.join(" ").match(/the same top-1 class as the Q\/DQ graph on (\d+)/);
      assert(m, r.notes.join("; "));
      assert(Number(m[1]) >= 0.99 * r.exported_int8.n!, `fused int8 agrees on only ${m[1]}`);
      assert(!r.notes.some((n) => n.includes("differ by more than")), r.notes.join("; "));
      assert(!r.notes.some((n) => n.includes("on only")), r.notes.join("; "));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
