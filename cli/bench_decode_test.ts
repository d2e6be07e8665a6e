import { assert, assertEquals } from "../runtime/assert.ts";
import { main, SPEC } from "./bench_decode.ts";
import { runTask } from "./_testing.ts";

const JPEG = new URL("../datasets/fixtures/ycc444_19x13.jpg", import.meta.url);

Deno.test("bench:decode times a labelled folder and refuses a missing or corrupt one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ptq_cli_bench_decode_" });
  try {
    for (const f of ["a.jpg", "b.jpg", "c.jpg"]) await Deno.copyFile(JPEG, `${dir}/${f}`);
    await Deno.writeTextFile(`${dir}/labels.txt`, "a.jpg 0\nb.jpg 1\nc.jpg 2\n");
    const ok = await runTask(SPEC, main, ["--data", dir, "--spec", "plain", "--batch", "2"]);
    assertEquals(ok.code, 0, ok.err);
    assert(/^3 images, plain spec: \d+\.\d\d s, \d+ images\/s\n$/.test(ok.out), ok.out);
    const limited = await runTask(SPEC, main, ["--data", dir, "--limit", "1"]);
    assertEquals(limited.code, 0, limited.err);
    assert(limited.out.startsWith("1 images, tf spec"), limited.out);

    const missing = await runTask(SPEC, main, ["--data", `${dir}/nope`]);
    assertEquals(missing.code, 1);
    assert(missing.err.includes(`${dir}/nope does not exist`), missing.err);

    await Deno.writeTextFile(`${dir}/labels.txt`, "a.jpg zero\n");
    const corrupt = await runTask(SPEC, main, ["--data", dir]);
    assertEquals(corrupt.code, 1);
    assert(corrupt.err.includes("labels.txt:1"), corrupt.err);

    const usage = await runTask(SPEC, main, ["--spec", "pil"]);
    assertEquals(usage.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
