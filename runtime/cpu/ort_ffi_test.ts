import { assert, assertEquals, assertThrows } from "../assert.ts";
import "../mod.ts"; // the cpu backend loads the C API before the binding creates an environment
import { buildModel } from "./ort.ts";
import { ortFfi } from "./ort_ffi.ts";

const linuxX64 = Deno.build.os === "linux" && Deno.build.arch === "x86_64";

Deno.test({
  name: "onnxruntime's C API loads through FFI, with one global thread pool",
  ignore: !linuxX64,
  fn() {
    const ffi = ortFfi(2);
    assert(ffi !== null, "the C API did not load: the cpu backend would fall back to copies");
    assert(/^1\.\d+/.test(ffi.version), ffi.version);
    assert(ffi.globalPools, "sessions should share the global pool");
  },
});

Deno.test({
  name: "an FFI session writes its output into the caller's array",
  ignore: !linuxX64,
  fn() {
    const ffi = ortFfi(2)!;
    const s = ffi.session(buildModel({
      inputs: [[2, 3], [3, 2]],
      nodes: [{ op: "MatMul", inputs: ["in0", "in1"], outputs: ["out"] }],
    }));
    const out = new Float32Array(4).fill(NaN);
    s.run(
      [Float32Array.of(1, 2, 3, 4, 5, 6), Float32Array.of(1, 0, 0, 1, 1, 1)],
      [[2, 3], [
        3,
        2,
      ]],
      out,
      [2, 2],
    );
    assertEquals(Array.from(out), [4, 5, 10, 11]);
  },
});

Deno.test({
  name: "an invalid model gives onnxruntime's message",
  ignore: !linuxX64,
  fn() {
    assertThrows(() => ortFfi(2)!.session(new Uint8Array([1, 2, 3])), Error, "onnxruntime load");
  },
});
