/**
 * The assertions of every test in the repository, in the lowest layer so that every layer may
 * import them. Named and shaped after `@std/assert` (not reachable offline), so the import can be
 * swapped for `jsr:@std/assert` once it is vendored; {@linkcode assertClose} and
 * {@linkcode assertLess} are the two additions.
 *
 * @example
 * ```ts
 * import { assertClose, assertEquals, assertThrows } from "./assert.ts";
 * assertEquals({ shape: [2, 3] }, { shape: [2, 3] });
 * assertClose(Float32Array.from([0.1 + 0.2]), [0.3]);
 * const e = assertThrows(() => JSON.parse("{"), SyntaxError, "JSON");
 * console.log(e.name); // "SyntaxError"
 * ```
 *
 * @module
 */
import { isDeepStrictEqual } from "node:util";

/** What every assertion here throws. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** A class whose instances an error must be (any subclass of `Error`). */
export type ErrorClass<E extends Error = Error> = abstract new (...args: any[]) => E;

const prefix = (msg?: string) => (msg ? `${msg}: ` : "");
const show = (v: unknown) =>
  Deno.inspect(v, { depth: 8, iterableLimit: 40, strAbbreviateSize: 400, compact: true });

/** Asserts that `cond` is truthy. */
export function assert(cond: unknown, msg = "Expected the condition to be truthy"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

/**
 * Asserts deep strict equality: same primitive values (`Object.is`, so `NaN` equals `NaN` and
 * `0` differs from `-0`), same prototypes, same own keys, typed arrays and Maps by content.
 */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (isDeepStrictEqual(actual, expected)) return;
  throw new AssertionError(
    `${prefix(msg)}Values are not equal:\n  actual:   ${show(actual)}\n  expected: ${
      show(expected)
    }`,
  );
}

/** Asserts that `actual` and `expected` are not deeply equal (see {@linkcode assertEquals}). */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!isDeepStrictEqual(actual, expected)) return;
  throw new AssertionError(`${prefix(msg)}Expected a value other than ${show(expected)}`);
}

/** Asserts `actual < limit` (false for `NaN`). */
export function assertLess(actual: number, limit: number, msg?: string): void {
  if (!(actual < limit)) throw new AssertionError(`${prefix(msg)}Expected ${actual} < ${limit}`);
}

/** Tolerances of {@linkcode assertClose}. */
export interface CloseOptions {
  /** Relative tolerance (default 1e-5). */
  rtol?: number;
  /** Absolute tolerance (default 1e-6). */
  atol?: number;
  /** Prefix of the failure message. */
  msg?: string;
}

/**
 * Asserts `|actual - expected| <= atol + rtol * |expected|` for a number or element by element
 * (NaN matches NaN, equal infinities match); the failure names the worst element.
 */
export function assertClose(
  actual: number | ArrayLike<number>,
  expected: number | ArrayLike<number>,
  { rtol = 1e-5, atol = 1e-6, msg }: CloseOptions = {},
): void {
  const a = typeof actual === "number" ? [actual] : actual;
  const e = typeof expected === "number" ? [expected] : expected;
  if (a.length !== e.length) {
    throw new AssertionError(`${prefix(msg)}Length ${a.length} differs from expected ${e.length}`);
  }
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    if ((Number.isNaN(e[i]) && Number.isNaN(a[i])) || a[i] === e[i]) continue;
    const excess = Math.abs(a[i] - e[i]) - (atol + rtol * Math.abs(e[i]));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst < 0) return;
  const head = (x: ArrayLike<number>) => `[${Array.from(x).slice(0, 8).join(", ")}]`;
  throw new AssertionError(
    `${prefix(msg)}Element ${worst}: ${a[worst]} vs expected ${e[worst]} ` +
      `(rtol ${rtol}, atol ${atol}); actual head ${head(a)}, expected head ${head(e)}`,
  );
}

/** Asserts that the string `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  if (actual.includes(expected)) return;
  throw new AssertionError(`${prefix(msg)}Expected ${show(actual)} to include ${show(expected)}`);
}

/** Asserts that the string `actual` matches `pattern`. */
export function assertMatch(actual: string, pattern: RegExp, msg?: string): void {
  if (pattern.test(actual)) return;
  throw new AssertionError(`${prefix(msg)}Expected ${show(actual)} to match ${pattern}`);
}

function checkError<E extends Error>(
  thrown: unknown,
  cls: ErrorClass<E> | undefined,
  includes: string | undefined,
): E {
  if (!(thrown instanceof (cls ?? Error))) {
    const got = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : show(thrown);
    throw new AssertionError(`Expected ${cls?.name ?? "an Error"} to be thrown, got ${got}`);
  }
  const error = thrown as E;
  if (includes !== undefined && !error.message.includes(includes)) {
    throw new AssertionError(
      `Expected the ${error.name}'s message to include ${show(includes)}, got ${
        show(error.message)
      }`,
    );
  }
  return error;
}

/**
 * Asserts that `fn` throws an `Error` (an instance of `ErrorClass` if given, whose message
 * includes `msgIncludes` if given); returns it.
 */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
): E {
  try {
    fn();
  } catch (e) {
    return checkError(e, ErrorClass, msgIncludes);
  }
  throw new AssertionError(
    `Expected the function to throw${ErrorClass ? ` a ${ErrorClass.name}` : ""}`,
  );
}

/** {@linkcode assertThrows} for a promise: asserts that `fn()` rejects; returns the error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, ErrorClass, msgIncludes);
  }
  throw new AssertionError(
    `Expected the promise to reject${ErrorClass ? ` with a ${ErrorClass.name}` : ""}`,
  );
}
