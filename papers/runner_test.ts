import { assert, assertEquals } from "../runtime/assert.ts";
import { haveProxyResnet } from "./_fixtures.ts";
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
        checkpointDir: `${dir}/checkpoints`,
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

Deno.test({
  name:
    "a run killed mid-reconstruction continues from its last finished unit; the checkpoint goes once recorded",
  ignore: !haveProxyResnet(),
  async fn() {
    const dir = await Deno.makeTempDir();
    const checkpointDir = `${dir}/checkpoints`;
    try {
      const cells = ["pdquant/resnet18/w4a4/qdrop"];
      const base = { paper: "pdquant", cells, resultsDir: dir, checkpointDir };
      // The log line of the second finished unit stands in for a kill.
      const first = await reproduce({
        ...base,
        log: (m) => {
          if (m.includes("unit 2/")) throw new Error("killed");
        },
      });
      assertEquals([first.ran, first.failed.length], [0, 1]);
      assertEquals(
        [...Deno.readDirSync(checkpointDir)].filter((f) => f.name.endsWith(".json")).length,
        1,
      );
      const logs: string[] = [];
      const second = await reproduce({ ...base, log: (m) => logs.push(m) });
      assertEquals(second.ran, 1);
      assert(
        logs.some((l) => l.includes("resumed from a checkpoint") && l.includes("1/")),
        logs.join("\n"),
      );
      assert(!logs.some((l) => l.includes("unit 1/")), "unit 1 is not redone");
      assertEquals([...Deno.readDirSync(checkpointDir)].length, 0);
      // The resumed run's result is the uninterrupted one's.
      const whole = await reproduce({ ...base, resultsDir: `${dir}/whole`, log: () => {} });
      const [a] = (await readRecords(second.resultsFile)).records;
      const [b] = (await readRecords(whole.resultsFile)).records;
      // top-1, top-5 and every unit's losses (not the seconds each unit took)
      const timeless = (m: typeof a.metrics) => ({
        ...m,
        unit_losses: m.unit_losses?.map(({ seconds: _, ...u }) => u),
      });
      assertEquals(timeless(a.metrics), timeless(b.metrics));
      assert(a.metrics.unit_losses!.every((u) => u.seconds !== undefined));
      // The record says it was resumed, and which process did the first unit.
      assertEquals(b.resumed, undefined);
      assertEquals(a.resumed?.units_done, 1);
      assertEquals(a.resumed?.earlier.map((g) => [g.from, g.to, g.commit]), [
        [0, 1, a.versions.ptq_bench.slice(0, 12)],
      ]);
      assert(
        a.notes.some((n) => n.startsWith("resumed from a unit checkpoint with 1 of")),
        a.notes.join("\n"),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
