import { assert, assertEquals, assertStringIncludes } from "../runtime/assert.ts";
import { torchPython } from "../runtime/torch_side.ts";
import { loadOnnx } from "../models/onnx.ts";
import {
  parseReconRows,
  reconTable,
  type ReconTableModel,
  runTorchRecon,
  torchReconSettings,
  torchReconSpecs,
} from "./torch_recon_side.ts";

const proxy = (name: string) =>
  loadOnnx(decodeURIComponent(new URL(`../models/proxy/${name}.onnx`, import.meta.url).pathname));

function torchImports(): boolean {
  try {
    return new Deno.Command(torchPython(), {
      args: ["-c", "import torch"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

Deno.test("torchReconSpecs: the proxy MobileNetV2's first units with their shapes and quantizers", () => {
  const entries = torchReconSpecs(proxy("proxy_mbv2"), { model: "p", units: 4 });
  assertEquals(entries.map((e) => e.id), [
    "p/layer0",
    "p/inverted-residual0",
    "p/inverted-residual1",
    "p/inverted-residual2",
  ]);
  const specs = entries.map((e) => {
    assert("spec" in e, "reason" in e ? e.reason : "");
    return e.spec;
  });
  const [stem, ir0, , ir2] = specs;
  assertEquals(Object.values(stem.inputs), [[1, 28, 28]]);
  assertEquals(stem.quantizedInputs, {});
  const stemConv = stem.nodes[0];
  assert(stemConv.op === "conv" && stemConv.wBits === 8 && !stemConv.intBias);
  assertEquals(Object.values(stem.acts), [4]);
  assertEquals(Object.values(ir0.inputs), [[16, 14, 14]]);
  assertEquals(Object.values(ir0.quantizedInputs), [4]);
  // Depthwise conv then projection: both on the int32 bias grid, both followed by a quantizer.
  const convs = ir0.nodes.filter((n) => n.op === "conv");
  assertEquals(convs.map((n) => n.op === "conv" && [n.groups, n.wBits, n.intBias]), [
    [16, 4, true],
    [1, 4, true],
  ]);
  assertEquals(Object.keys(ir0.acts).length, 2);
  // The residual block: the branch's last conv is not quantized, the join is.
  assertEquals(ir2.nodes.at(-1)!.op, "add");
  assertEquals(ir2.acts[ir2.output], 4);
  const last = ir2.nodes.filter((n) => n.op === "conv").at(-1)!;
  assert(last.op === "conv" && !last.intBias && !(last.out in ir2.acts));
});

Deno.test("torchReconSpecs says why a unit is not in the PyTorch side's ops", () => {
  const entries = torchReconSpecs(proxy("proxy_vit"), { model: "v", units: 2 });
  const reasons = entries.flatMap((e) => ("reason" in e ? [e.reason] : []));
  assert(reasons.length > 0 && reasons.every((r) => r.includes("not in the PyTorch side's ops")));
});

Deno.test("reconTable: times side by side with the ratio, and each way PyTorch can be missing", () => {
  const model = (torch?: ReconTableModel["torch"]): ReconTableModel => ({
    model: "m",
    iters: 4,
    units: [{ name: "a", median_s: 1 }, { name: "b", median_s: 3 }],
    torch,
  });
  const entries = [
    { id: "m/a", spec: {} as never },
    { id: "m/b", spec: {} as never },
  ];
  const ok = reconTable([model(entries)], {
    ok: true,
    info: {} as never,
    rows: [{ id: "m/a", median_s: 2, iterations_s: [2, 2] }, { id: "m/b", median_s: 1.5 }],
  });
  assertStringIncludes(ok, "| m | a | 4 | 1.000 | 2.000 | 0.50× |");
  assertStringIncludes(ok, "| m | b | 4 | 3.000 | 1.500 | 2.00× |");
  assertStringIncludes(ok, "| m | mean of 2 units | 4 | 2.000 | 1.750 | 1.14× |");
  const absent = reconTable([model(entries)], { ok: false, reason: "no torch" });
  assertStringIncludes(absent, "| m | a | 4 | 1.000 | not available |  |");
  assertStringIncludes(reconTable([model()], null), "| not run |");
  const reason = reconTable(
    [model([{ id: "m/a", reason: "Softmax is not in the PyTorch side's ops" }, entries[1]])],
    { ok: true, info: {} as never, rows: [] },
  );
  assertStringIncludes(reason, "not available (Softmax is not in the PyTorch side's ops)");
  assertStringIncludes(reason, "| m | b | 4 | 3.000 | no answer |  |");
  assertEquals(parseReconRows([{ id: "x", median_s: -1 }, { id: 3 }, null]), []);
});

Deno.test({
  name: "runTorchRecon times the proxy's units in PyTorch (skipped without torch)",
  ignore: !torchImports(),
  fn: async () => {
    const entries = torchReconSpecs(proxy("proxy_mbv2"), { model: "p", from: 3, units: 1 });
    const units = entries.flatMap((e) => ("spec" in e ? [e.spec] : []));
    const r = await runTorchRecon(
      [{ settings: torchReconSettings({ iters: 3, images: 4 }), units }],
      { threads: 1 },
    );
    assert(r.ok, r.ok ? "" : r.reason);
    const rows = parseReconRows(r.rows);
    assertEquals(rows.map((x) => [x.id, x.iterations_s.length]), [["p/inverted-residual2", 2]]);
    assert(rows[0].median_s > 0);
  },
});
