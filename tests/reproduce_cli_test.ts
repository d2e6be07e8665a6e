import { assert, assertEquals } from "../runtime/assert.ts";
import { parseRecords, readSamples, runKey } from "../papers/mod.ts";
import { writeReports } from "../reports/mod.ts";

/** Runs the reproduce CLI with `args` and `--results dir --no-report`; exit code and stderr. */
async function reproduceCli(args: string[], dir: string): Promise<{ code: number; err: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../cli/reproduce.ts", import.meta.url).pathname,
      ...args,
      "--results",
      dir,
      "--no-report",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, err: new TextDecoder().decode(out.stderr) };
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("reproduce refuses unknown paper names before running anything", () =>
  inTempDir(async (dir) => {
    // A second cell filter without its own --cells is a positional, i.e. a paper name.
    const { code, err } = await reproduceCli([
      "mrecg",
      "--cells",
      "mobilenetv2/w2a4/qdrop",
      "mobilenetv2/w2a4/brecq",
    ], dir);
    assertEquals(code, 2, err);
    assert(err.includes('<paper>: "mobilenetv2/w2a4/brecq" is not one of pdquant'), err);
    assertEquals([...Deno.readDirSync(dir)].length, 0);
  }));

Deno.test("reproduce names the flag and the value it refuses, and plans nothing", () =>
  inTempDir(async (dir) => {
    const cases: [string[], number, string][] = [
      [["pdquant", "--seeds", "0"], 2, "--seeds: expected at least 1, got 0"],
      [["pdquant", "--suite", "cifar"], 2, '--suite: "cifar" is not one of proxy'],
      [["pdquant", "--budget", "huge"], 2, '--budget: "huge" is not one of smoke'],
      [["pdquant", "--iters", "many"], 2, '--iters: expected an integer, got "many"'],
      [[], 2, "missing <paper>"],
      [
        ["pdquant", "--suite", "imagenet-subset", "--assets", "/nonexistent", "--dry-run"],
        1,
        "/nonexistent does not exist",
      ],
    ];
    for (const [args, want, text] of cases) {
      const { code, err } = await reproduceCli(args, dir);
      assertEquals(code, want, `${args.join(" ")}: ${err}`);
      assert(err.includes(text), `${args.join(" ")}: ${err}`);
      assert(!err.includes("    at "), `no stack trace: ${err}`);
    }
    assertEquals([...Deno.readDirSync(dir)].length, 0);
  }));

Deno.test("reproduce refuses --iters with a named budget before running anything", () =>
  inTempDir(async (dir) => {
    const { code, err } = await reproduceCli([
      "pdquant",
      "--budget",
      "smoke",
      "--iters",
      "5",
    ], dir);
    assert(code !== 0, "exit code");
    assert(err.includes("do not go with --budget smoke"), err);
    assertEquals([...Deno.readDirSync(dir)].length, 0);
  }));

Deno.test("reproduce --dry-run lists the planned runs and runs none", () =>
  inTempDir(async (dir) => {
    const { code, err } = await reproduceCli([
      "pdquant",
      "--cells",
      "resnet18/w4a4/",
      "--dry-run",
    ], dir);
    assertEquals(code, 0, err);
    const planned = err.split("\n").filter((l) => l.includes("to run ") && l.includes("|w4a4|"));
    assert(planned.length >= 2, err); // PD-Quant and its baselines
    assert(planned.some((l) => l.includes("|pdquant|")), err);
    assert(!err.includes("new runs"), err);
    assertEquals(
      [...Deno.readDirSync(dir)].filter((f) => f.name.endsWith(".jsonl")).length,
      0,
      "no records",
    );
  }));

Deno.test("reproduce --set replaces a recipe setting in a custom run of its own, and checks it", () =>
  inTempDir(async (dir) => {
    const ok = await reproduceCli([
      "pdquant",
      "--cells",
      "resnet18/w4a4/qdrop",
      "--iters",
      "5",
      "--set",
      "adaround_lr=0.01",
      "--dry-run",
    ], dir);
    assertEquals(ok.code, 0, ok.err);
    assert(ok.err.includes("custom (5 it/unit, adaround_lr=0.01)"), ok.err);
    assert(ok.err.includes("|custom(5it,"), ok.err);
    assert(ok.err.includes(",adaround_lr=0.01)|seed="), ok.err);
    const refused: [string[], string][] = [
      [["--set", "adaround_lr=0.01"], "needs the iterations per unit"],
      [["--iters", "5", "--set", "adaround_lr"], "--set takes KEY=VALUE"],
      [["--iters", "5", "--set", "no_such_key=1"], "has no such setting"],
      [["--budget", "smoke", "--set", "adaround_lr=0.01"], "do not go with --budget smoke"],
    ];
    for (const [args, text] of refused) {
      const { code, err } = await reproduceCli(["pdquant", "--dry-run", ...args], dir);
      assert(code !== 0, `exit code of ${args.join(" ")}`);
      assert(err.includes(text), `${args.join(" ")}: ${err}`);
    }
    assertEquals([...Deno.readDirSync(dir)].length, 0);
  }));

Deno.test("reproduce fdda: a smoke run records both protocols, stores its images beside the record, and the report shows them", () =>
  inTempDir(async (dir) => {
    const { code, err } = await reproduceCli([
      "fdda",
      "--cells",
      "resnet18/w4a4/fdda",
      "--max-runs",
      "1",
      "--jobs",
      "1",
    ], dir);
    assertEquals(code, 0, err);
    const lines = (await Deno.readTextFile(`${dir}/fdda.jsonl`)).trim().split("\n");
    assertEquals(lines.length, 1);
    const rec = parseRecords(lines.join("\n"), "fdda.jsonl").records[0];
    assertEquals([rec.method, rec.model.name, rec.budget], ["fdda", "proxy_resnet", "smoke"]);
    // The smoke recipe's 6 generator iterations: 3 epochs × 2, every epoch evaluated.
    const method = rec.config.method as Record<string, unknown>;
    assertEquals((rec.config.recipe as Record<string, unknown>).iters, 6);
    const sched = method.schedule as Record<string, number>;
    assertEquals([sched.epochs, sched.itersPerEpoch, sched.warmup], [3, 2, 1]);
    const sel = rec.selection!;
    assertEquals(sel.per_epoch.map((e) => e.epoch), [0, 1, 2]);
    assertEquals(sel.test_free.epoch, 2);
    assertEquals(sel.test_free.top1, rec.metrics.top1);
    assertEquals(
      sel.official!.top1,
      Math.max(...sel.per_epoch.map((e) => e.top1!)),
    );
    assert(rec.notes.some((n) => n.includes("it selects on the test set")));
    // The record stays small; the images are in the sidecar, two per class.
    assert(lines[0].length < 16_000, `record of ${lines[0].length} characters`);
    const sets = await readSamples([`${dir}/fdda.jsonl`]);
    assertEquals(sets.length, 1);
    assertEquals(sets[0].run, runKey(rec));
    assertEquals(sets[0].images.length, 20);
    assertEquals(new Set(sets[0].images.map((i) => i.name)).size, 10);
    const [page] = await writeReports({ papers: ["fdda"], resultsDir: dir, outDir: dir });
    const html = await Deno.readTextFile(page);
    assert(html.includes(`<table id="selection">`) && html.includes("selects on the test set"));
    assertEquals(html.match(/<img src="data:image\/png;base64,/g)?.length, 20);
    assert(html.includes("<figcaption>Ankle boot</figcaption>"));
  }));
