/**
 * Backend selection by name, for command-line flags (`--backend cpu|webgpu`).
 *
 * @module
 */
import type { Backend } from "./backend.ts";
import { getBackend, setBackend } from "./tensor.ts";

let webgpu: Promise<Backend | null> | undefined;

/** The backend names a command line accepts. */
export const BACKEND_NAMES = ["cpu", "webgpu"] as const;

/**
 * The backend called `name`: the process-wide `cpu` backend, or the WebGPU backend on the first
 * adapter (created once per process). Throws a clear error for an unknown name or where no WebGPU adapter exists.
 */
export async function backendByName(name: string): Promise<Backend> {
  if (name === "cpu") {
    const { cpu } = await import("./mod.ts");
    return cpu;
  }
  if (name !== "webgpu") {
    throw new RangeError(`Unknown backend "${name}" (${BACKEND_NAMES.join(" or ")})`);
  }
  webgpu ??= (async () => {
    let mod: { createWebGpuBackend?: () => Promise<Backend | null> };
    try {
      mod = await import("./webgpu/mod.ts");
    } catch (e) {
      throw new Error(
        `The webgpu backend is not available in this build (${(e as Error).message})`,
      );
    }
    return (await mod.createWebGpuBackend?.()) ?? null;
  })();
  const backend = await webgpu;
  if (!backend) {
    throw new Error(
      "No WebGPU adapter found (navigator.gpu.requestAdapter() gave none): use --backend cpu",
    );
  }
  return backend;
}

/**
 * Makes the backend called `name` the default for new tensors (model weights loaded after this
 * call, calibration data, masks) and returns it.
 */
export async function useBackend(name: string): Promise<Backend> {
  const b = await backendByName(name);
  if (getBackend() !== b) setBackend(b);
  return b;
}
