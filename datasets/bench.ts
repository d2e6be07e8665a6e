/**
 * Decoding + preprocessing throughput on a labelled folder (default: the shared 1,300-image val
 * subset). `deno run -A datasets/bench.ts [dir] [spec: tf|torchvision|plain]`.
 *
 * @module
 */
import { ImageNetDataset } from "./imagenet.ts";
import { plainResizeSpec, tfSlimSpec, torchvisionSpec } from "./preprocess.ts";

if (import.meta.main) {
  const dir = Deno.args[0] ||
    new URL("../../shared/assets/imagenet/ilsvrc2012_val_subset1300_227px/", import.meta.url)
      .pathname;
  const kind = Deno.args[1] ?? "tf";
  const spec = kind === "torchvision"
    ? torchvisionSpec()
    : kind === "plain"
    ? plainResizeSpec(224)
    : tfSlimSpec(224);
  const ds = await ImageNetDataset.fromList(dir);
  const t0 = performance.now();
  let n = 0;
  for await (const b of ds.batches({ spec, batchSize: 64 })) n += b.labels.length;
  const s = (performance.now() - t0) / 1000;
  console.log(`${n} images, ${kind} spec: ${s.toFixed(2)} s, ${(n / s).toFixed(0)} images/s`);
}
