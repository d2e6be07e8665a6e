import * as ort from "onnxruntime-node";
import { ImageNetDataset } from "./imagenet.ts";
import { plainResizeSpec, tfSlimSpec } from "./preprocess.ts";
import { TopKAccumulator } from "./metrics.ts";
const A = "/work/shared/assets/";
const sess = await ort.InferenceSession.create(A + "models/mobilenet_v2_1.0_224.tf2ptq_dequant.fp32.onnx", { intraOpNumThreads: 2 });
const ds = await ImageNetDataset.fromList(A + "imagenet/ilsvrc2012_val_subset1300_227px");
for (const [name, spec] of [["plain-bilinear", plainResizeSpec(224)], ["tf-slim", tfSlimSpec(224)]] as const) {
  const acc = new TopKAccumulator(1000);
  const t = performance.now();
  for await (const b of ds.batches({ spec, batchSize: 50 })) {
    const out = await sess.run({ input: new ort.Tensor("float32", b.images, b.shape) });
    acc.add(out["logits"].data as Float32Array, b.labels);
  }
  const r = acc.result();
  console.log(name, r.n, (100 * r.accuracy[1]).toFixed(1), (100 * r.accuracy[5]).toFixed(1), ((performance.now() - t) / 1000).toFixed(1) + "s");
}
