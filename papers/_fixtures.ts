/**
 * Test fixtures (internal): what the paper tests need from the machine.
 *
 * @module
 */

/** Whether the committed ResNet proxy model is present (tests that run it skip without it). */
export function haveProxyResnet(): boolean {
  try {
    return Deno.statSync(new URL("../models/proxy/proxy_resnet.onnx", import.meta.url)).isFile;
  } catch {
    return false;
  }
}
