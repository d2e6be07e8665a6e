/**
 * Synthetic result records for tests and demos (deterministic; no randomness).
 *
 * @module
 */
import type { ResultRecord } from "../papers/mod.ts";
import { fakeRecord } from "../papers/record_fixture.ts";
export { fakeRecord };

/** A small set of PD-Quant records covering every comparability class and verdict. */
export function pdquantFixture(): ResultRecord[] {
  const out: ResultRecord[] = [];
  const seeds = [1005, 1006, 1007];
  // proxy, MobileNetV2 W2A2: PD-Quant clearly above QDrop → the claim holds.
  [80.1, 80.5, 79.9].forEach((v, i) =>
    out.push(fakeRecord({
      cell: "pdquant/mobilenetv2/w2a2/pdquant",
      suite: "proxy",
      recipe: "pdquant/pdquant@mobilenetv2",
      method: "pdquant",
      model: "proxy_mbv2",
      w: 2,
      a: 2,
      seed: seeds[i],
      top1: v,
      fp32: 91,
      units: [0.5, 2.0 + i * 0.1, 0.8, 3.1, 1.2],
    }))
  );
  [77.0, 77.4, 76.8].forEach((v, i) =>
    out.push(fakeRecord({
      cell: "pdquant/mobilenetv2/w2a2/qdrop",
      suite: "proxy",
      recipe: "pdquant/qdrop@mobilenetv2",
      method: "qdrop",
      model: "proxy_mbv2",
      w: 2,
      a: 2,
      seed: seeds[i],
      top1: v,
      fp32: 91,
      units: [0.6, 2.6, 1.0, 3.9, 1.5],
    }))
  );
  // proxy, ResNet W4A4: QDrop ahead of PD-Quant → the claim does not hold.
  [88.0, 88.1].forEach((v, i) =>
    out.push(fakeRecord({
      cell: "pdquant/resnet18/w4a4/pdquant",
      suite: "proxy",
      recipe: "pdquant/pdquant@resnet",
      method: "pdquant",
      model: "proxy_resnet",
      w: 4,
      a: 4,
      seed: seeds[i],
      top1: v,
      fp32: 92,
    }))
  );
  [89.0, 89.2].forEach((v, i) =>
    out.push(fakeRecord({
      cell: "pdquant/resnet18/w4a4/qdrop",
      suite: "proxy",
      recipe: "pdquant/qdrop@resnet",
      method: "qdrop",
      model: "proxy_resnet",
      w: 4,
      a: 4,
      seed: seeds[i],
      top1: v,
      fp32: 92,
    }))
  );
  // imagenet-subset, shared MobileNetV2: W4A4 drop 4.1 vs the paper's 4.29 → agrees.
  out.push(fakeRecord({
    cell: "pdquant/mobilenetv2/w4a4/pdquant",
    suite: "imagenet-subset",
    recipe: "pdquant/pdquant@mobilenetv2",
    method: "pdquant",
    model: "mobilenet_v2_tf2ptq",
    w: 4,
    a: 4,
    seed: 1005,
    top1: 73.9,
    fp32: 78,
  }));
  // imagenet-subset, QDrop W2A2: drop 18 vs the paper's 63.74 → differs.
  out.push(fakeRecord({
    cell: "pdquant/mobilenetv2/w2a2/qdrop",
    suite: "imagenet-subset",
    recipe: "pdquant/qdrop@mobilenetv2",
    method: "qdrop",
    model: "mobilenet_v2_tf2ptq",
    w: 2,
    a: 2,
    seed: 1005,
    top1: 60,
    fp32: 78,
  }));
  // imagenet (the paper's checkpoint): W2A2 52.5 vs 53.08 → agrees; W4A4 67.0 vs 69.3 → differs.
  out.push(fakeRecord({
    cell: "pdquant/resnet18/w2a2/pdquant",
    suite: "imagenet",
    recipe: "pdquant/pdquant@resnet",
    method: "pdquant",
    model: "brecq_resnet18",
    w: 2,
    a: 2,
    seed: 1005,
    top1: 52.5,
    fp32: 71.0,
    budget: "paper",
  }));
  out.push(fakeRecord({
    cell: "pdquant/resnet18/w4a4/pdquant",
    suite: "imagenet",
    recipe: "pdquant/pdquant@resnet",
    method: "pdquant",
    model: "brecq_resnet18",
    w: 4,
    a: 4,
    seed: 1005,
    top1: 67.0,
    fp32: 71.0,
    budget: "paper",
  }));
  return out;
}
