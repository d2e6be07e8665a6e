import { HAVE_FASHION_MNIST } from "../../datasets/testing.ts";
import { type FashionMnistSplit, loadFashionMnist } from "../../datasets/fashion_mnist.ts";
import { loadOnnx } from "../onnx.ts";
import { assert } from "../../runtime/assert.ts";
import { PROXY_MODELS, PROXY_NAMES } from "./mod.ts";
import { evaluateCheck } from "./train.ts";

function exists(url: URL): boolean {
  try {
    Deno.statSync(url);
    return true;
  } catch {
    return false;
  }
}

let test: FashionMnistSplit | undefined;

for (const name of PROXY_NAMES) {
  const m = PROXY_MODELS[name];
  const present = exists(m.file) && exists(m.record);
  Deno.test({
    name: `${name}: the committed ONNX scores its recorded accuracy on the check subset`,
    ignore: !present || !HAVE_FASHION_MNIST,
    fn() {
      const rec = JSON.parse(Deno.readTextFileSync(m.record));
      assert(
        rec.fp32_top1 === m.fp32Top1,
        `PROXY_MODELS says ${m.fp32Top1}, the record ${rec.fp32_top1}`,
      );
      assert(Deno.statSync(m.file).size < 1.5e6, `${name}.onnx is over 1.5 MB`);
      test ??= loadFashionMnist({ size: 28, splits: ["test"] }).test!;
      const top1 = evaluateCheck(loadOnnx(m.file), test.images, test.labels);
      assert(
        Math.abs(top1 - rec.check_top1) <= 1,
        `${name}: ${top1} % vs recorded ${rec.check_top1} %`,
      );
    },
  });
}
