/**
 * Unit-level checkpoints of a reconstruction: after each finished unit, the quantizers' state
 * (frozen weights, weight and activation parameters, switches), both generators' states and the
 * unit reports are written to `<dir>/<sha256(key)>.{json,bin}` (the JSON last, by rename, so a
 * kill mid-write leaves the previous checkpoint intact). A run that finds a checkpoint with its
 * key continues after the last finished unit and ends bit-identical to an uninterrupted run
 * (`checkpoint_test.ts`). The key names the whole computation (method config, model, calibration
 * sample); the caller removes the checkpoint once the run's result is stored.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { keep, type RandomState, upload } from "../../runtime/mod.ts";
import type { QuantModel } from "./quantized_model.ts";
import type { UnitReport } from "./recon_options.ts";

/** Where and under which identity to keep a run's checkpoint. */
export interface CheckpointSpec {
  dir: string;
  /** Everything that determines the computation, as one string. */
  key: string;
  /** This process, for the checkpoint's history: when it started and at which code. */
  process?: { started: string; commit: string | null };
  /** Called when the run resumes, with the units done and the processes that did them. */
  onResume?: (r: { unitsDone: number; earlier: Segment[] }) => void;
}

/**
 * One process's share of a run: it reconstructed units `from` … `to` − 1 (0-based). A run that was
 * killed and resumed has several; `started`/`commit` are null for a checkpoint written before
 * they were kept.
 */
export interface Segment {
  started: string | null;
  commit: string | null;
  from: number;
  to: number;
}

interface Saved {
  version: 1;
  key: string;
  /** The loop's options and unit names (a checkpoint written by other code does not match). */
  identity: string;
  unitsDone: number;
  rng: RandomState;
  maskRng: RandomState;
  reports: UnitReport[];
  /** The processes that reconstructed the units done (absent in older checkpoints). */
  segments?: Segment[];
  weights: {
    node: string;
    enabled: boolean;
    scale: [number, number];
    zeroPoint: [number, number];
    frozen: [number, number] | null;
  }[];
  acts: {
    value: string;
    scale: number | null;
    zeroPoint: number;
    inited: boolean;
    enabled: boolean;
  }[];
}

/** The loop's state after `unitsDone` finished units: what a resumed run continues from. */
export interface LoopState {
  unitsDone: number;
  /** The batch generator and the mask generator (QDrop). */
  rng: RandomState;
  maskRng: RandomState;
  reports: UnitReport[];
  /** The processes that did those units. */
  segments: Segment[];
}

const paths = (spec: CheckpointSpec) => {
  const id = createHash("sha256").update(spec.key).digest("hex").slice(0, 32);
  return { json: `${spec.dir}/${id}.json`, bin: `${spec.dir}/${id}.bin` };
};

/** Writes the model's quantizers and the loop's state after `state.unitsDone` finished units. */
export async function saveCheckpoint(
  spec: CheckpointSpec,
  model: QuantModel,
  identity: string,
  state: LoopState,
): Promise<void> {
  const { unitsDone, rng, maskRng, reports, segments } = state;
  const chunks: Float32Array[] = [];
  let offset = 0;
  const put = (a: Float32Array): [number, number] => {
    chunks.push(a);
    offset += a.length;
    return [offset - a.length, a.length];
  };
  const weights: Saved["weights"] = [];
  for (const [node, q] of model.weights) {
    weights.push({
      node,
      enabled: q.enabled,
      scale: put(await q.scale.data() as Float32Array),
      zeroPoint: put(await q.zeroPoint.data() as Float32Array),
      frozen: q.frozen ? put(await q.frozen.data() as Float32Array) : null,
    });
  }
  const acts: Saved["acts"] = [];
  for (const [value, q] of model.acts) {
    acts.push({
      value,
      scale: q.scale ? (await q.scale.data())[0] : null,
      zeroPoint: q.zeroPoint,
      inited: q.inited,
      enabled: q.enabled,
    });
  }
  const blob = new Float32Array(offset);
  let o = 0;
  for (const c of chunks) {
    blob.set(c, o);
    o += c.length;
  }
  const saved: Saved = {
    version: 1,
    key: spec.key,
    identity,
    unitsDone,
    rng,
    maskRng,
    reports,
    segments,
    weights,
    acts,
  };
  const p = paths(spec);
  await Deno.mkdir(spec.dir, { recursive: true });
  // The binary goes under a name of its own, referenced by the JSON, so the pair swaps at once.
  const bin = `${p.bin.split("/").pop()}.${unitsDone}`;
  await Deno.writeFile(`${spec.dir}/${bin}`, new Uint8Array(blob.buffer));
  await Deno.writeTextFile(`${p.json}.tmp`, JSON.stringify({ ...saved, bin }));
  let previous: string | null = null;
  try {
    previous = (JSON.parse(await Deno.readTextFile(p.json)) as { bin: string }).bin;
  } catch { /* first checkpoint */ }
  await Deno.rename(`${p.json}.tmp`, p.json);
  if (previous && previous !== bin) await Deno.remove(`${spec.dir}/${previous}`).catch(() => {});
}

/**
 * Restores the state of the checkpoint with this key and identity, if there is one; returns
 * null (and restores nothing) otherwise: none, or one written with other loop options or units
 * (other code; it is logged and will be overwritten). Throws on a checkpoint that exists but
 * cannot be read.
 */
export async function loadCheckpoint(
  spec: CheckpointSpec,
  model: QuantModel,
  identity: string,
  log: (msg: string) => void = () => {},
): Promise<LoopState | null> {
  const p = paths(spec);
  let text: string;
  try {
    text = await Deno.readTextFile(p.json);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  let s: Saved & { bin: string };
  try {
    s = JSON.parse(text);
  } catch (e) {
    throw new Error(`checkpoint ${p.json} is not valid JSON (${(e as Error).message}); remove it`);
  }
  if (s.version !== 1 || s.key !== spec.key || s.identity !== identity) {
    log(`checkpoint ${p.json} was written with other options or units: starting over`);
    return null;
  }
  const blob = new Float32Array((await Deno.readFile(`${spec.dir}/${s.bin}`)).buffer);
  const view = ([o, n]: [number, number]) => blob.subarray(o, o + n);
  for (const w of s.weights) {
    const q = model.weights.get(w.node);
    if (!q) throw new Error(`checkpoint ${p.json}: no weight quantizer ${w.node} in this model`);
    const backend = q.scale.backend;
    const replace = (old: { dispose(): void }, data: Float32Array, shape: readonly number[]) => {
      old.dispose();
      return keep(upload(data.slice(), shape, backend));
    };
    q.scale = replace(q.scale, view(w.scale), q.scale.shape);
    q.zeroPoint = replace(q.zeroPoint, view(w.zeroPoint), q.zeroPoint.shape);
    q.qparams = { scale: view(w.scale).slice(), zeroPoint: view(w.zeroPoint).slice() };
    q.v?.dispose();
    q.v = null;
    q.frozen?.dispose();
    q.frozen = w.frozen
      ? keep(
        upload(view(w.frozen).slice(), model.graph.initializers.get(q.site.weight)!.shape, backend),
      )
      : null;
    q.enabled = w.enabled;
  }
  for (const a of s.acts) {
    const q = model.acts.get(a.value);
    if (!q) {
      throw new Error(`checkpoint ${p.json}: no activation quantizer ${a.value} in this model`);
    }
    if (a.scale !== null) model.setActParams(a.value, a.scale, a.zeroPoint);
    q.inited = a.inited;
    q.enabled = a.enabled;
  }
  return {
    unitsDone: s.unitsDone,
    rng: s.rng,
    maskRng: s.maskRng,
    reports: s.reports,
    segments: s.segments ?? [{ started: null, commit: null, from: 0, to: s.unitsDone }],
  };
}

/** Removes a run's checkpoint (after its result is stored). */
export async function removeCheckpoint(spec: CheckpointSpec): Promise<void> {
  const p = paths(spec);
  try {
    const { bin } = JSON.parse(await Deno.readTextFile(p.json)) as { bin: string };
    await Deno.remove(`${spec.dir}/${bin}`).catch(() => {});
    await Deno.remove(p.json);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/**
 * How far the run behind a checkpoint got, without loading it: finished units and when the
 * checkpoint was last written; null when there is none (for progress displays).
 */
export async function checkpointProgress(
  spec: Pick<CheckpointSpec, "dir" | "key">,
): Promise<{ unitsDone: number; written: Date | null } | null> {
  const p = paths(spec as CheckpointSpec);
  try {
    const [text, info] = await Promise.all([Deno.readTextFile(p.json), Deno.stat(p.json)]);
    return { unitsDone: (JSON.parse(text) as Saved).unitsDone, written: info.mtime };
  } catch {
    return null;
  }
}
