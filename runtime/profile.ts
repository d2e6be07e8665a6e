/**
 * An opt-in op profiler. With `PTQ_PROFILE=1` in the environment, {@linkcode runOp} times every
 * kernel call per op name (and {@linkcode profileRegion} times named host regions, e.g. mask
 * generation); the table is printed to stderr at process exit (or on {@linkcode printProfile}).
 *
 * Times are wall-clock around the backend's `run`: exact for the synchronous `cpu` backend, only
 * the encode/submit cost for `webgpu`.
 *
 * @module
 */

interface Entry {
  /** `op`: a kernel call; `region`: a named host region (may contain op calls). */
  kind: "op" | "region";
  calls: number;
  ms: number;
  elements: number;
}

function envFlag(): boolean {
  try {
    return Deno.env.get("PTQ_PROFILE") === "1";
  } catch {
    return false; // no --allow-env
  }
}

/** True when profiling is on (`PTQ_PROFILE=1`, or {@linkcode setProfiling}). */
export let profiling: boolean = envFlag();
const table = new Map<string, Entry>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  globalThis.addEventListener("unload", () => printProfile());
}
if (profiling) hookExit();

/** Turns profiling on or off (tests, benchmarks); returns the previous state. */
export function setProfiling(on: boolean): boolean {
  const prev = profiling;
  profiling = on;
  if (on) hookExit();
  return prev;
}

/** Adds one timed call to the profile. */
export function recordProfile(
  name: string,
  ms: number,
  elements = 0,
  kind: Entry["kind"] = "op",
): void {
  const key = kind === "op" ? (backwardDepth > 0 ? `${name} (bwd)` : name) : `[${name}]`;
  let e = table.get(key);
  if (!e) table.set(key, e = { kind, calls: 0, ms: 0, elements: 0 });
  e.calls++;
  e.ms += ms;
  e.elements += elements;
}

let backwardDepth = 0;

/**
 * Runs `fn`, timing it under `name` when profiling is on. Kernel calls inside the region named
 * `backward` are listed as `op (bwd)`.
 */
export function profileRegion<T>(name: string, fn: () => T): T {
  if (!profiling) return fn();
  const t0 = performance.now();
  const bwd = name === "backward";
  if (bwd) backwardDepth++;
  try {
    return fn();
  } finally {
    if (bwd) backwardDepth--;
    recordProfile(name, performance.now() - t0, 0, "region");
  }
}

/** The profile so far, sorted by total time (descending). */
export function profileEntries(): ({ name: string } & Entry)[] {
  return [...table].map(([name, e]) => ({ name, ...e })).sort((a, b) => b.ms - a.ms);
}

/** Clears the profile. */
export function resetProfile(): void {
  table.clear();
}

/** Formats the profile as a text table. */
export function formatProfile(): string {
  const all = profileEntries();
  const rows = [...all.filter((r) => r.kind === "op"), ...all.filter((r) => r.kind === "region")];
  const ops = all.filter((r) => r.kind === "op");
  const total = ops.reduce((s, r) => s + r.ms, 0);
  const lines = [
    `op profile (PTQ_PROFILE=1): ${total.toFixed(0)} ms in ${
      ops.reduce((s, r) => s + r.calls, 0)
    } kernel calls; [regions] are host code and may contain kernel calls; % is of kernel time`,
    `${"op".padEnd(24)} ${"calls".padStart(8)} ${"ms".padStart(10)} ${"%".padStart(6)} ${
      "ms/call".padStart(9)
    } ${"Melem/s".padStart(9)}`,
  ];
  for (const r of rows) {
    const rate = r.elements && r.ms ? (r.elements / r.ms / 1e3).toFixed(1) : "";
    lines.push(
      `${r.name.padEnd(24)} ${String(r.calls).padStart(8)} ${r.ms.toFixed(1).padStart(10)} ${
        (100 * r.ms / (total || 1)).toFixed(1).padStart(6)
      } ${(r.ms / r.calls).toFixed(3).padStart(9)} ${rate.padStart(9)}`,
    );
  }
  return lines.join("\n");
}

/** Prints the profile to stderr (once per non-empty profile). */
export function printProfile(): void {
  if (table.size === 0) return;
  console.error(formatProfile());
}
