import {
  assert,
  assertEquals,
  assertLess,
  assertRejects,
  assertThrows,
} from "../runtime/assert.ts";
import { Random, type Tensor, upload } from "../runtime/mod.ts";
import { execute } from "../models/execute.ts";
import type { Graph, Node } from "../models/graph.ts";
import { runUnits } from "../models/units.ts";
import { blockUnits, mqbenchUnits } from "./_quant/units.ts";
import { mrecg, mrecgUnits, schemeGroups } from "./mrecg.ts";

/**
 * Torchvision-shaped inference graphs (BN folded away: Conv with bias, Relu / Clip, Add,
 * MaxPool, GlobalAveragePool, Flatten, Gemm) with narrow channels, for unit counting.
 */
class Net {
  readonly nodes: Node[] = [];
  readonly init = new Map<string, Tensor>();
  readonly rng = new Random(0);
  #k = 0;

  #node(opType: string, inputs: string[], attrs: Node["attrs"] = {}): string {
    const name = `${opType.toLowerCase()}${this.#k++}`;
    this.nodes.push({ name, opType, inputs, outputs: [`${name}.y`], attrs });
    return `${name}.y`;
  }
  #param(shape: number[], std: number): string {
    const name = `p${this.#k++}`;
    const n = shape.reduce((a, b) => a * b, 1);
    this.init.set(name, upload(this.rng.normalArray(n, 0, std), shape));
    return name;
  }
  conv(x: string, cin: number, cout: number, k: number, stride = 1, group = 1): string {
    const w = this.#param([cout, cin / group, k, k], Math.sqrt(2 / ((cin / group) * k * k)));
    const p = (k - 1) / 2;
    return this.#node("Conv", [x, w, this.#param([cout], 0.1)], {
      kernel_shape: [k, k],
      pads: [p, p, p, p],
      strides: [stride, stride],
      group,
    });
  }
  relu(x: string): string {
    return this.#node("Relu", [x]);
  }
  relu6(x: string): string {
    return this.#node("Clip", [x, "zero", "six"]);
  }
  add(a: string, b: string): string {
    return this.#node("Add", [a, b]);
  }
  maxpool(x: string): string {
    return this.#node("MaxPool", [x], {
      kernel_shape: [3, 3],
      pads: [1, 1, 1, 1],
      strides: [2, 2],
    });
  }
  head(x: string, c: number): string {
    const f = this.#node("Flatten", [this.#node("GlobalAveragePool", [x])], { axis: 1 });
    return this.#node("Gemm", [f, this.#param([10, c], Math.sqrt(1 / c)), this.#param([10], 0.1)], {
      transB: 1,
    });
  }
  graph(name: string, out: string): Graph {
    return {
      name,
      inputs: [{ name: "input", shape: ["N", 3, 32, 32] }],
      outputs: [{ name: out, shape: ["N", 10] }],
      nodes: this.nodes,
      initializers: this.init,
      constants: new Map([
        ["zero", { data: [0], shape: [], float: true }],
        ["six", { data: [6], shape: [], float: true }],
      ]),
      opset: 13,
    };
  }
}

/** ResNet-18 (BasicBlock [2, 2, 2, 2]) or ResNet-50 (Bottleneck [3, 4, 6, 3]), widths / 8. */
function resnet(bottleneck: boolean): Graph {
  const n = new Net();
  let x = n.maxpool(n.relu(n.conv("input", 3, 8, 7, 2)));
  let cin = 8;
  const depths = bottleneck ? [3, 4, 6, 3] : [2, 2, 2, 2];
  depths.forEach((d, s) => {
    const planes = 8 << s, cout = bottleneck ? planes * 4 : planes;
    for (let i = 0; i < d; i++) {
      const stride = s > 0 && i === 0 ? 2 : 1;
      let y: string;
      if (bottleneck) {
        y = n.relu(n.conv(x, cin, planes, 1));
        y = n.relu(n.conv(y, planes, planes, 3, stride));
        y = n.conv(y, planes, cout, 1);
      } else {
        y = n.conv(n.relu(n.conv(x, cin, planes, 3, stride)), planes, planes, 3);
      }
      const short = stride !== 1 || cin !== cout ? n.conv(x, cin, cout, 1, stride) : x;
      x = n.relu(n.add(y, short));
      cin = cout;
    }
  });
  return n.graph(bottleneck ? "resnet50-shaped" : "resnet18-shaped", n.head(x, cin));
}

/** torchvision's MobileNetV2 (17 inverted residuals, the first without expansion), widths / 4. */
function mobilenetV2(): Graph {
  const n = new Net();
  const settings = [[1, 4, 1, 1], [6, 6, 2, 2], [6, 8, 3, 2], [6, 16, 4, 2], [6, 24, 3, 1], [
    6,
    40,
    3,
    2,
  ], [6, 80, 1, 1]];
  let x = n.relu6(n.conv("input", 3, 8, 3, 2));
  let cin = 8;
  for (const [t, c, reps, s] of settings) {
    for (let i = 0; i < reps; i++) {
      const stride = i === 0 ? s : 1, hid = cin * t;
      let y = t === 1 ? x : n.relu6(n.conv(x, cin, hid, 1));
      y = n.relu6(n.conv(y, hid, hid, 3, stride, hid));
      y = n.conv(y, hid, c, 1);
      x = stride === 1 && cin === c ? n.add(x, y) : y;
      cin = c;
    }
  }
  x = n.relu6(n.conv(x, cin, 64, 1));
  return n.graph("mobilenetv2-shaped", n.head(x, 64));
}

/** RegNetX-600MF: stem, stages of depth [1, 3, 5, 7] (grouped bottlenecks, projection first). */
function regnetX600(): Graph {
  const n = new Net();
  let x = n.relu(n.conv("input", 3, 8, 3, 2));
  let cin = 8;
  [1, 3, 5, 7].forEach((d, s) => {
    const w = 8 << s;
    for (let i = 0; i < d; i++) {
      const stride = i === 0 ? 2 : 1;
      let y = n.relu(n.conv(x, cin, w, 1));
      y = n.relu(n.conv(y, w, w, 3, stride, w / 4));
      y = n.conv(y, w, w, 1);
      const short = stride !== 1 || cin !== w ? n.conv(x, cin, w, 1, stride) : x;
      x = n.relu(n.add(short, y));
      cin = w;
    }
  });
  return n.graph("regnetx600-shaped", n.head(x, cin));
}

/** A MobileNetV1-like chain: stem, three depthwise-separable pairs, classifier; no joins. */
function mobilenetV1(): Graph {
  const n = new Net();
  let x = n.relu(n.conv("input", 3, 8, 3, 2));
  let cin = 8;
  for (const c of [16, 16, 16]) {
    x = n.relu(n.conv(x, cin, cin, 3, 1, cin));
    x = n.relu(n.conv(x, cin, c, 1));
    cin = c;
  }
  return n.graph("mobilenetv1-like", n.head(x, cin));
}

/** The official MobileNetV2 scheme (configs/qdrop/mbv2_2_4.yaml of bytedance/MRECG). */
const MBV2_SCHEME = [1, 2, [3, 3], 4, [5, 5], 6, [7, 7, 7], [8, 8, 8], 9, [10, 10], 11];

Deno.test("MRECG's official units: ResNet-18 10, ResNet-50 18, MobileNetV2 18, RegNetX-600MF 18", () => {
  const cases: [Graph, number, number][] = [
    [resnet(false), 10, 10],
    [resnet(true), 18, 18],
    [mobilenetV2(), 18, 20],
    [regnetX600(), 18, 18],
  ];
  for (const [g, official, graph] of cases) {
    assertEquals(mqbenchUnits(g).length, official, g.name);
    assertEquals(mrecgUnits(g).length, official, g.name);
    assertEquals(mrecgUnits(g, "graph").length, graph, g.name);
    assertEquals(blockUnits(g).length, graph, g.name);
  }
});

Deno.test("MRECG's MobileNetV2 units chain the stem with the first inverted residual and the last conv with the classifier", () => {
  const g = mobilenetV2();
  const units = mqbenchUnits(g);
  const blocks = blockUnits(g);
  assertEquals(units.length, 18);
  assertEquals(units[0].layers, [...blocks[0].layers, ...blocks[1].layers]);
  assertEquals(units[0].layers.length, 3);
  assertEquals(units[0].kind, "block");
  assertEquals(units.slice(1, 17).map((u) => u.name), blocks.slice(2, 18).map((u) => u.name));
  assert(units.slice(1, 17).every((u) => u.kind === "inverted-residual"));
  assertEquals(units[17].layers, [...blocks[18].layers, ...blocks[19].layers]);
  // The official scheme's 11 entries cover the 18 units; its merges sit at stage boundaries
  // (IR2+IR3, IR5+IR6, IR8+IR9+IR10, IR11+IR12+IR13, IR15+IR16; unit i ≥ 1 is IR i).
  const groups = schemeGroups(MBV2_SCHEME, units.length);
  assertEquals(groups.filter((gr) => gr.length > 1), [
    [2, 3],
    [5, 6],
    [8, 9, 10],
    [11, 12, 13],
    [15, 16],
  ]);
  // The units partition the graph in order and reproduce it.
  assertEquals(units.flatMap((u) => u.nodes.map((n) => n.name)), g.nodes.map((n) => n.name));
  const x = new Random(2).randn([2, 3, 32, 32]);
  const out = g.outputs[0].name;
  const whole = execute(g, { feeds: { input: x } })[out].dataSync();
  const seq = runUnits(g, units, { input: x })[out].dataSync();
  for (let i = 0; i < whole.length; i++) assertLess(Math.abs(whole[i] - seq[i]), 1e-5);
});

Deno.test("MRECG's official units chain at most three layers and may cut a depthwise-separable pair", () => {
  const g = mobilenetV1();
  const units = mqbenchUnits(g);
  assertEquals(blockUnits(g).length, 5);
  assertEquals(units.map((u) => u.layers.length), [3, 3, 2]);
  assertEquals(units.flatMap((u) => u.nodes.map((n) => n.name)), g.nodes.map((n) => n.name));
  const x = new Random(3).randn([2, 3, 32, 32]);
  const out = g.outputs[0].name;
  const whole = execute(g, { feeds: { input: x } })[out].dataSync();
  const seq = runUnits(g, units, { input: x })[out].dataSync();
  for (let i = 0; i < whole.length; i++) assertLess(Math.abs(whole[i] - seq[i]), 1e-5);
});

Deno.test("MRECG refuses a merge scheme of the wrong length, naming both counts", async () => {
  assertThrows(
    () => schemeGroups(MBV2_SCHEME, 20),
    RangeError,
    "The merge scheme covers 18 units but the graph has 20 reconstruction units",
  );
  const g = mobilenetV2();
  const ctx = { graph: g, calib: new Random(4).randn([4, 3, 32, 32]), modelName: "mbv2-shaped" };
  // The graph-derived blocks (20) do not fit the official scheme; the official units (18) do.
  await assertRejects(
    () => mrecg.run(ctx, { capacity: "scheme", scheme: MBV2_SCHEME, partition: "graph" }),
    RangeError,
    "covers 18 units but the graph has 20",
  );
  await assertRejects(
    () => mrecg.run(ctx, { capacity: "scheme", scheme: [...MBV2_SCHEME, 12] }),
    RangeError,
    "covers 19 units but the graph has 18",
  );
});
