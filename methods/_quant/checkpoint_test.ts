import { assert, assertEquals } from "../../runtime/assert.ts";
import { noGrad, tidy } from "../../runtime/mod.ts";
import { tinyGraph, tinyInputs } from "../testing.ts";
import { METHODS } from "../mod.ts";
import type { MethodContext, MethodResult } from "./config.ts";
import type { QuantModel } from "./quantized_model.ts";

const calib = () => tinyInputs(64, 1);
const run = (id: keyof typeof METHODS, ctx: Partial<MethodContext>, cfg: Record<string, unknown>) =>
  (METHODS[id].run as (c: unknown, r: unknown) => Promise<MethodResult>)(
    { graph: tinyGraph(), calib: calib(), modelName: "tiny", ...ctx },
    cfg,
  );
const outputs = (m: QuantModel) =>
  tidy(() => noGrad(() => Array.from(m.forward(calib()).dataSync())));

class Killed extends Error {}

// QDrop draws batches and masks from two generators: both must continue where they were.
// PD-Quant also runs the rest of the network (which nodes are "later" must be restored) and
// corrects the FP inputs of each unit.
for (const id of ["qdrop", "pdquant"] as const) {
  Deno.test(`${id}: a reconstruction killed after a unit resumes from its checkpoint, bit-identical`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const cfg = { wBits: 4, aBits: 4, iters: 8, seed: 3 };
      const whole = await run(id, {}, cfg);
      const checkpoint = { dir, key: "qdrop|tiny|test" };
      const first = { started: "2026-01-01T00:00:00.000Z", commit: "aaaaaaa" };
      let killed = false;
      try {
        await run(id, {
          checkpoint: { ...checkpoint, process: first },
          log: (m) => {
            if (m.startsWith("unit 2/")) throw new Killed();
          },
        }, cfg);
      } catch (e) {
        killed = e instanceof Killed;
      }
      assert(killed, "the first attempt stops in unit 2");
      const files = [...Deno.readDirSync(dir)].map((f) => f.name);
      assertEquals(files.filter((f) => f.endsWith(".json")).length, 1, files.join());
      const logs: string[] = [];
      const seen: unknown[] = [];
      const resumed = await run(id, {
        checkpoint: {
          ...checkpoint,
          process: { started: "2026-01-02T00:00:00.000Z", commit: "bbbbbbb" },
          onResume: (r) => seen.push(r),
        },
        log: (m) => logs.push(m),
      }, cfg);
      // The record of a resumed run can say which process did which units.
      assertEquals(seen, [{ unitsDone: 1, earlier: [{ ...first, from: 0, to: 1 }] }]);
      const saved = JSON.parse(
        Deno.readTextFileSync(
          `${dir}/${[...Deno.readDirSync(dir)].find((f) => f.name.endsWith(".json"))!.name}`,
        ),
      );
      assertEquals(
        saved.segments.map((g: { commit: string; from: number }) => [g.commit, g.from]),
        [
          ["aaaaaaa", 0],
          ["bbbbbbb", 1],
        ],
      );
      assertEquals(saved.segments[1].to, whole.units.length);
      assert(
        logs.some((m) => m.includes("1/")) && logs.some((m) => m.startsWith("resumed")),
        logs.join("\n"),
      );
      assert(!logs.some((m) => m.startsWith("unit 1/")), "unit 1 is not redone");
      assertEquals(outputs(resumed.model), outputs(whole.model));
      assertEquals(resumed.units.map((u) => u.lossAfter), whole.units.map((u) => u.lossAfter));
      for (const [k, q] of whole.model.acts) {
        assertEquals(resumed.model.acts.get(k)!.scale!.dataSync()[0], q.scale!.dataSync()[0], k);
      }
      // The same key with other loop options (code or config changed) starts over.
      const again: string[] = [];
      await run(id, { checkpoint, log: (m) => again.push(m) }, { ...cfg, seed: 4 });
      assert(again.some((m) => m.includes("starting over")), again.join("\n"));
      // A damaged checkpoint is an error that names the file, not a silent restart.
      const json = [...Deno.readDirSync(dir)].find((f) => f.name.endsWith(".json"))!.name;
      await Deno.writeTextFile(`${dir}/${json}`, '{"version": 1, "key"');
      let msg = "";
      await run(id, { checkpoint }, cfg).catch((e) => (msg = (e as Error).message));
      assert(msg.includes(json) && msg.includes("not valid JSON"), msg);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
