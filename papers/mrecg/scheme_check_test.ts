import { assertEquals, assertThrows } from "../../runtime/assert.ts";
import { foldBatchNorm, loadModel, resolveModel } from "../../models/mod.ts";
import { buildProxy } from "../../models/proxy/architectures.ts";
import { mrecgUnits, schemeGroups } from "../../methods/mrecg.ts";
import { SCHEMES } from "./recipes.ts";
import { schemeCheck } from "./scheme_check.ts";

const total = (s: (number | number[])[]) =>
  s.reduce<number>((n, e) => n + (Array.isArray(e) ? e.length : 1), 0);

Deno.test("MRECG's official schemes span the official units: ResNet-18 10, ResNet-50 18, MobileNetV2 18, RegNetX-600MF 18", () => {
  const units = { resnet18: 10, resnet50: 18, mobilenetv2: 18, regnetx_600mf: 18 };
  assertEquals(Object.fromEntries(Object.entries(SCHEMES).map(([m, s]) => [m, total(s)])), units);
  // Entries are reconstruction calls (one `extract_block` each), merges are stage boundaries:
  // ResNet-18's (3, 3) is layer1.1 + layer2.0, (4, 4) layer2.1 + layer3.0.
  assertEquals(schemeGroups(SCHEMES.resnet18, 10).filter((g) => g.length > 1), [[2, 3], [4, 5]]);
});

Deno.test("the proxies have fewer official units than any official scheme, so MRECG picks merges by capacity there", () => {
  const units = (name: "proxy_resnet" | "proxy_mbv2" | "proxy_mbv2_w05") =>
    mrecgUnits(foldBatchNorm(buildProxy(name, 0)).graph).length;
  assertEquals([units("proxy_resnet"), units("proxy_mbv2"), units("proxy_mbv2_w05")], [8, 9, 9]);
  assertThrows(
    () => schemeCheck(buildProxy("proxy_mbv2", 0)),
    RangeError,
    "The merge scheme covers 18 units but the graph has 9 reconstruction units",
  );
});

let shared = true;
try {
  resolveModel("mobilenet_v2_tf2ptq");
} catch {
  shared = false;
}

Deno.test({
  name: "the shared MobileNetV2 has the official scheme's 18 units (20 graph-derived blocks)",
  ignore: !shared,
  fn() {
    const graph = loadModel("mobilenet_v2_tf2ptq");
    const r = schemeCheck(graph);
    assertEquals([r.units, r.graphUnits, r.invertedResiduals, r.candidates], [18, 20, 17, 15]);
    assertEquals(r.official, [2, 5, 8, 9, 11, 12, 15]);
  },
});
