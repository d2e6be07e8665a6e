import { assert, assertEquals, assertRejects, assertThrows } from "../runtime/assert.ts";
import { ortRun } from "../models/testing.ts";
import { toOnnx } from "../models/export.ts";
import { reconstructionUnits } from "../models/units.ts";
import { toQdqOnnx } from "./_quant/qdq.ts";
import { tinyGraph, tinyInputs } from "./testing.ts";
import { errorProfile, sqnrDb, withOutputs } from "./error_profile.ts";
import { METHODS } from "./mod.ts";

const batches = () => {
  const x = tinyInputs(32, 9);
  const host = Float32Array.from(x.dataSync());
  x.dispose();
  return [0, 1].map((i) => ({
    host: host.subarray(i * 16 * 192, (i + 1) * 16 * 192),
    shape: [16, 3, 8, 8],
  }));
};

async function rtn(w: number, a: number): Promise<Uint8Array> {
  const r = await METHODS.rtn.run(
    { graph: tinyGraph(), calib: tinyInputs(64, 1), modelName: "tiny" },
    { wBits: w, aBits: a as 4 },
  );
  return toQdqOnnx(r.model);
}

Deno.test("errorProfile: the FP model is exact, 8 bits beat 2 bits at every unit and the logits", async () => {
  const graph = tinyGraph();
  const p = await errorProfile(
    graph,
    [
      { label: "fp", bytes: toOnnx(graph) },
      { label: "w8a8", bytes: await rtn(8, 8) },
      { label: "w2a2", bytes: await rtn(2, 2) },
    ],
    batches(),
    { threads: 1 },
  );
  assertEquals(p.labels, ["fp", "w8a8", "w2a2"]);
  assertEquals(p.images, 32);
  const units = reconstructionUnits(graph);
  // Every unit but the one producing the logits, then the logits row.
  assertEquals(p.units.length, units.length);
  assertEquals(p.units.at(-1)!.unit, "logits");
  for (const u of p.units) {
    assertEquals(u.sqnr[0], Infinity, `${u.unit}: FP against itself`);
    assert(u.fpRms > 0, `${u.unit}: FP RMS ${u.fpRms}`);
    assert(u.sqnr[1] > u.sqnr[2], `${u.unit}: W8A8 ${u.sqnr[1]} dB ≤ W2A2 ${u.sqnr[2]} dB`);
  }
  assert(p.units.at(-1)!.sqnr[1] > 25, `W8A8 logits SQNR ${p.units.at(-1)!.sqnr[1]}`);
  // The logits' FP RMS is per element, over both batches.
  let sq = 0, n = 0;
  for (const b of batches()) {
    const o = await ortRun(toOnnx(graph), { input: { data: b.host, shape: b.shape } });
    for (const v of o[graph.outputs[0].name].data) (sq += v * v), n++;
  }
  const rms = Math.sqrt(sq / n);
  assert(
    Math.abs(p.units.at(-1)!.fpRms - rms) < 1e-4 * rms,
    `FP RMS ${p.units.at(-1)!.fpRms} vs ${rms}`,
  );
  assertEquals(p.agreement[0], 100);
  assertEquals(p.kl[0], 0);
  assert(p.kl[2] > p.kl[1] && p.kl[1] >= 0, `KL ${p.kl}`);
  assert(p.agreement[1] >= p.agreement[2], `agreement ${p.agreement}`);
});

Deno.test("errorProfile at every node: one row per node output, FP exact", async () => {
  const graph = tinyGraph();
  const p = await errorProfile(
    graph,
    [
      { label: "fp", bytes: toOnnx(graph) },
      { label: "w4a4", bytes: await rtn(4, 4) },
    ],
    batches(),
    { threads: 1, at: "nodes" },
  );
  assertEquals(p.units.length, graph.nodes.flatMap((n) => n.outputs).length);
  assertEquals(p.units[0].unit, graph.nodes[0].name);
  assertEquals(p.units[0].kind, "Conv");
  for (const u of p.units) {
    assertEquals(u.sqnr[0], Infinity, `${u.unit}: FP against itself`);
    assert(isFinite(u.sqnr[1]), `${u.unit}: W4A4 exact?`);
  }
});

Deno.test("errorProfile split by channel: shares add up to the value's error, kernel sums as dequantized", async () => {
  const graph = tinyGraph();
  const value = "c1.y";
  const node = graph.nodes.find((n) => n.outputs.includes(value))!;
  const w4 = await rtn(4, 8);
  const p = await errorProfile(
    graph,
    [{ label: "fp", bytes: toOnnx(graph) }, { label: "w4a8", bytes: w4 }],
    batches(),
    { threads: 1, at: "nodes", channels: value },
  );
  const c = p.channels!;
  const w = graph.initializers.get(node.inputs[1])!;
  assertEquals(c.value, value);
  assertEquals(c.fpEnergy.length, w.shape[0]);
  assertEquals(c.noise[0], c.fpEnergy.map(() => 0), "FP against itself");
  // Per-channel energies add up to the node row's SQNR.
  const row = p.units.find((u) => u.value === value)!;
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
  const db = sqnrDb(sum(c.fpEnergy), sum(c.noise[1]));
  assert(Math.abs(db - row.sqnr[1]) < 1e-3, `per-channel ${db} dB vs row ${row.sqnr[1]} dB`);
  const prod = c.producer!;
  assertEquals(prod.node, node.name);
  const host = w.dataSync(), k = host.length / w.shape[0];
  for (let o = 0; o < w.shape[0]; o++) {
    const s = sum(Array.from(host.subarray(o * k, (o + 1) * k)));
    assert(
      Math.abs(prod.fpKernelSum[o] - s) < 1e-4,
      `channel ${o}: ${prod.fpKernelSum[o]} vs ${s}`,
    );
  }
  assertEquals(prod.kernelSum[0], null, "the FP export has no dequantized weight");
  const q = prod.kernelSum[1]!;
  assertEquals(q.length, w.shape[0]);
  assert(
    q.some((x, o) => Math.abs(x - prod.fpKernelSum[o]) > 1e-6),
    "4-bit rounding changed no sum",
  );
  assertEquals(prod.bias, Array.from(graph.initializers.get(node.inputs[2])!.dataSync()));
});

Deno.test("errorProfile by channel names a value the model does not have", async () => {
  const graph = tinyGraph();
  await assertRejects(
    () =>
      errorProfile(graph, [{ label: "fp", bytes: toOnnx(graph) }], batches(), { channels: "nope" }),
    RangeError,
    'the FP model has no value "nope"',
  );
});

Deno.test("withOutputs names a value the model does not have", () => {
  const bytes = toOnnx(tinyGraph());
  assertThrows(
    () => withOutputs(bytes, ["c1.y", "nope"], "m.onnx"),
    RangeError,
    'm.onnx has no value "nope"',
  );
});

Deno.test("sqnrDb", () => {
  assertEquals(sqnrDb(100, 1), 20);
  assertEquals(sqnrDb(1, 0), Infinity);
});
