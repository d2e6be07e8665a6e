import { assert, assertEquals } from "../runtime/assert.ts";
import { main, SPEC } from "./train_proxy.ts";
import { main as benchMain, SPEC as BENCH } from "./bench_runtime.ts";
import { runTask } from "./_testing.ts";

Deno.test("train-proxy and bench:runtime refuse bad flags before any work", async () => {
  const cases: [typeof SPEC | typeof BENCH, (a: string[]) => Promise<number>, string[], string][] =
    [
      [
        SPEC,
        main,
        ["--model", "proxy_nope"],
        '--model: "proxy_nope" is not one of all, proxy_resnet',
      ],
      [SPEC, main, ["--epochs", "0"], "--epochs: expected at least 1, got 0"],
      [SPEC, main, ["--lr", "fast"], '--lr: expected a number, got "fast"'],
      [SPEC, main, ["--x"], "unknown flag --x"],
      [BENCH, benchMain, ["--iters", "two"], '--iters: expected an integer, got "two"'],
      [BENCH, benchMain, ["--no-webgpu=maybe"], '--no-webgpu: expected true or false, got "maybe"'],
    ];
  for (const [spec, fn, args, message] of cases) {
    const r = await runTask(spec, fn, args);
    assertEquals(r.code, 2, r.err);
    assert(r.err.startsWith(`${spec.name}: ${message}`), r.err);
  }
});
