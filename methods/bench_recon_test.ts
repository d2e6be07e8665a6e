import { assert, assertEquals, assertRejects } from "../runtime/assert.ts";
import { loadOnnx } from "../models/onnx.ts";
import { benchRecon } from "./bench_recon.ts";

const PROXY = decodeURIComponent(
  new URL("../models/proxy/proxy_resnet.onnx", import.meta.url).pathname,
);

Deno.test("benchRecon times each unit's iterations and refuses a start past the units", async () => {
  const graph = loadOnnx(PROXY);
  const lines: string[] = [];
  const r = await benchRecon(graph, {
    units: 2,
    iters: 3,
    images: 4,
    log: (l) => lines.push(l),
  });
  assertEquals(r.units.length, 2);
  for (const u of r.units) {
    assertEquals(u.iterations_s.length, 2, u.name);
    assert(u.median_s > 0 && u.iterations_s.includes(u.median_s), u.name);
  }
  assertEquals(lines.length, 2, lines.join("\n"));
  assert(
    r.total_s > 0 && Math.abs(r.mean_s - (r.units[0].median_s + r.units[1].median_s) / 2) < 1e-12,
  );
  const layers = await benchRecon(graph, { layers: true, from: 1, units: 1, iters: 2, images: 4 });
  assertEquals(layers.units.map((u) => u.name), ["layer1"]);
  await assertRejects(() => benchRecon(graph, { from: 999 }), RangeError, "past the model's");
});
