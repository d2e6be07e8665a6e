/**
 * The tensor runtime: tensors on a `cpu` or `webgpu` backend, a functional op API, autograd,
 * optimizers and a seeded random generator.
 *
 * Importing this module installs the `cpu` backend as the default.
 *
 * @example
 * ```ts
 * import { backward, conv2d, mean, Random } from "./mod.ts";
 * const r = new Random(0);
 * const x = r.randn([1, 3, 8, 8]);
 * const w = r.randn([4, 3, 3, 3]).variable();
 * backward(mean(conv2d(x, w, undefined, { pads: [1, 1, 1, 1] })));
 * console.log(w.grad!.shape); // [4, 3, 3, 3]
 * ```
 *
 * @module
 */
import { CpuBackend } from "./cpu/backend.ts";
import { setBackend } from "./tensor.ts";

export * from "./ops.ts";
export * from "./backend.ts";
export * from "./tensor.ts";
export * from "./math.ts";
export * from "./autograd.ts";
export * from "./random.ts";
export * from "./nn.ts";
export * from "./quant.ts";
export * from "./optim.ts";
export * from "./profile.ts";
export { CpuBackend } from "./cpu/backend.ts";

/** The process-wide CPU backend. */
export const cpu: CpuBackend = new CpuBackend();
setBackend(cpu);
