import { assert, assertEquals, haveProxyResnet } from "./_testing.ts";
import { reproduce } from "./runner.ts";
import { readRecords } from "./record.ts";

Deno.test({
  name: "two cells planning the same computation run it once; the copy says so; a rerun adds none",
  ignore: !haveProxyResnet(),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      // ResNet-18 and ResNet-50 both stand on proxy_resnet with the same AdaRound recipe.
      const cells = ["mrecg/resnet18/w4a4/adaround", "mrecg/resnet50/w4a4/adaround"];
      const logs: string[] = [];
      const s = await reproduce({
        paper: "mrecg",
        cells,
        resultsDir: dir,
        log: (m) => logs.push(m),
      });
      assertEquals(s.ran, 2);
      assertEquals(logs.filter((l) => l.includes("record copied, not re-run")).length, 1);
      const { records } = await readRecords(s.resultsFile);
      assertEquals(records.map((r) => r.cell).sort(), cells);
      const [a, b] = records;
      assertEquals(a.metrics, b.metrics);
      assert(b.notes.some((n) => n.startsWith("same computation as run ")), b.notes.join("; "));
      const again = await reproduce({ paper: "mrecg", cells, resultsDir: dir, log: () => {} });
      assertEquals([again.ran, again.alreadyRecorded], [0, 2]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
