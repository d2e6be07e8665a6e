/**
 * Minimal assertions for the runtime's tests (JSR's std/assert is not reachable here).
 *
 * @module
 */
import { AssertionError } from "node:assert";

/** Asserts that `fn` throws an instance of `type` (whose message includes `includes`). */
export function assertThrows(
  fn: () => unknown,
  type: abstract new (...args: any[]) => Error = Error,
  includes = "",
): Error {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof type)) {
      throw new AssertionError({ message: `expected ${type.name}, got ${e}` });
    }
    if (!e.message.includes(includes)) {
      throw new AssertionError({ message: `message "${e.message}" lacks "${includes}"` });
    }
    return e;
  }
  throw new AssertionError({ message: `expected ${type.name}, nothing was thrown` });
}

/** Asserts strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg = ""): void {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new AssertionError({ message: `${msg} ${a} !== ${e}` });
}

/** Asserts a condition. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError({ message: msg });
}
