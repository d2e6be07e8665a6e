/**
 * The few `@std/assert` functions the tests use, on `node:assert` (jsr is not reachable offline).
 * Same signatures, so the import can be swapped for `jsr:@std/assert` when it is vendored.
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

/** Asserts that `cond` is truthy. */
export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

function check(e: unknown, cls?: abstract new (...a: any[]) => Error, includes?: string): void {
  if (cls && !(e instanceof cls)) {
    throw new nodeAssert.AssertionError({
      message: `Expected ${cls.name}, got ${e instanceof Error ? e.name : typeof e}: ${e}`,
    });
  }
  const msg = e instanceof Error ? e.message : String(e);
  if (includes !== undefined && !msg.includes(includes)) {
    throw new nodeAssert.AssertionError({
      message: `Expected the error message to include "${includes}", got "${msg}"`,
    });
  }
}

/** Asserts that `fn` throws (optionally an instance of `cls` whose message includes a string). */
export function assertThrows(
  fn: () => unknown,
  cls?: abstract new (...a: any[]) => Error,
  includes?: string,
): void {
  try {
    fn();
  } catch (e) {
    check(e, cls, includes);
    return;
  }
  throw new nodeAssert.AssertionError({ message: "Expected the function to throw" });
}

/** Asserts that `fn` rejects (optionally an instance of `cls` whose message includes a string). */
export async function assertRejects(
  fn: () => Promise<unknown>,
  cls?: abstract new (...a: any[]) => Error,
  includes?: string,
): Promise<void> {
  try {
    await fn();
  } catch (e) {
    check(e, cls, includes);
    return;
  }
  throw new nodeAssert.AssertionError({ message: "Expected the promise to reject" });
}
