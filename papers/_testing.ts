/**
 * Small test assertions over `node:assert/strict` (the Deno standard library is not reachable).
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

/** Assert a condition. */
export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}

/** Assert deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

/** Assert that `fn` throws; returns the error. */
export function assertThrows(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new nodeAssert.AssertionError({ message: "expected the function to throw" });
}

/** Assert that `fn` rejects with an instance of `type`; returns the error. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  type?: abstract new (...args: never[]) => Error,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    if (type && !(e instanceof type)) throw e;
    return e as Error;
  }
  throw new nodeAssert.AssertionError({ message: "expected the promise to reject" });
}

/** Whether the committed ResNet proxy model is present (tests that run it skip without it). */
export function haveProxyResnet(): boolean {
  try {
    return Deno.statSync(new URL("../models/proxy/proxy_resnet.onnx", import.meta.url)).isFile;
  } catch {
    return false;
  }
}
