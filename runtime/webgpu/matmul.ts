/**
 * Batched matmul `op(a) @ op(b)` with numpy batch broadcasting, in two variants:
 *
 * - `register`: each thread computes an 8x8 block of C with vec4 loads and no shared memory.
 *   Fast on software adapters (llvmpipe/lavapipe), where shared memory and barriers hurt.
 * - `shared`: classic 64x64 workgroup tiles staged through workgroup memory, 4x4 per thread.
 *   What makes real GPUs fast.
 *
 * The backend picks one per adapter; the `gemm` option forces either.
 *
 * @module
 */
import type { OpAttrs, OutInfo } from "../ops.ts";
import { broadcastShapes, sizeOf } from "../ops.ts";
import {
  bindings,
  broadcastStrides,
  bytesOf,
  type Ctx,
  type GemmVariant,
  type GpuIn,
  type GpuStorage,
} from "./_ctx.ts";

interface Dims {
  M: number;
  N: number;
  K: number;
  batch: number[];
  params: number[];
}

function dims(a: GpuIn, b: GpuIn, { transA, transB }: OpAttrs["matmul"]): Dims {
  const M = transA ? a.shape.at(-1)! : a.shape.at(-2)!;
  const K = transA ? a.shape.at(-2)! : a.shape.at(-1)!;
  const N = transB ? b.shape.at(-2)! : b.shape.at(-1)!;
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const sa = broadcastStrides(a.shape.slice(0, -2), batch);
  const sb = broadcastStrides(b.shape.slice(0, -2), batch);
  const params = [M, N, K, batch.length, ...batch, ...sa, ...sb];
  return { M, N, K, batch, params };
}

/** WGSL that sets `offA`, `offB`, `offC` (elements) from the batch index `z`. */
function batchOffsets(rank: number): string {
  const lines = ["  var offA = 0;", "  var offB = 0;", "  { var rem = z;"];
  for (let d = rank - 1; d >= 0; d--) {
    lines.push(`    { let c = rem % P[${4 + d}]; rem = rem / P[${4 + d}];`);
    lines.push(`      offA += c * P[${4 + rank + d}]; offB += c * P[${4 + 2 * rank + d}]; }`);
  }
  lines.push("  }", "  offA *= M * K;", "  offB *= K * N;", "  let offC = z * M * N;");
  return lines.join("\n");
}

const TM = 8, TN = 8, RWX = 8, RWY = 8;
const LANE = ["x", "y", "z", "w"];

/** The register-blocked kernel's WGSL for one combination of layouts and alignments. */
function registerCode(
  tA: boolean,
  tB: boolean,
  aVec: boolean,
  bVec: boolean,
  cVec: boolean,
  rank: number,
) {
  const L: string[] = [];
  const block = (tail: boolean) => {
    const B: string[] = [];
    const kc = (kk: number) => (tail ? `min(k + ${kk}, K - 1)` : `(k + ${kk})`);
    const mask = (kk: number, v: string, zero: string) =>
      tail ? `select(${zero}, ${v}, k + ${kk} < K)` : v;
    // a(i, kk): scalar A[mB + i, k + kk]
    const a: string[][] = [];
    if (aVec && !tA) {
      for (let i = 0; i < TM; i++) B.push(`    let a${i} = src0[(ra${i} + k) >> 2u];`);
      for (let i = 0; i < TM; i++) a.push(LANE.map((l) => `a${i}.${l}`));
    } else if (aVec && tA) {
      for (let kk = 0; kk < 4; kk++) {
        for (let h = 0; h < TM / 4; h++) {
          const v = `src0[(offA + ${kc(kk)} * M + mb${h}) >> 2u]`;
          B.push(`    let at${kk}_${h} = ${mask(kk, v, "vec4<f32>()")};`);
        }
      }
      for (let i = 0; i < TM; i++) {
        a.push([0, 1, 2, 3].map((kk) => `at${kk}_${i >> 2}.${LANE[i & 3]}`));
      }
    } else {
      for (let i = 0; i < TM; i++) {
        a.push([0, 1, 2, 3].map((kk) => {
          const idx = tA ? `offA + ${kc(kk)} * M + m${i}` : `ra${i} + ${kc(kk)}`;
          B.push(`    let a${i}_${kk} = ${mask(kk, `src0[${idx}]`, "0.0")};`);
          return `a${i}_${kk}`;
        }));
      }
    }
    // b(kk, h): vec4 B[k + kk, nB + 4h .. nB + 4h + 3]
    const b: string[][] = [];
    if (bVec && !tB) {
      for (let kk = 0; kk < 4; kk++) {
        b.push([]);
        for (let h = 0; h < TN / 4; h++) {
          const v = `src1[(offB + ${kc(kk)} * N + nb${h}) >> 2u]`;
          B.push(`    let b${kk}_${h} = ${mask(kk, v, "vec4<f32>()")};`);
          b[kk].push(`b${kk}_${h}`);
        }
      }
    } else if (bVec && tB) {
      for (let j = 0; j < TN; j++) B.push(`    let bt${j} = src1[(rb${j} + k) >> 2u];`);
      for (let kk = 0; kk < 4; kk++) {
        b.push([]);
        for (let h = 0; h < TN / 4; h++) {
          const l = LANE[kk];
          b[kk].push(
            `vec4<f32>(bt${4 * h}.${l}, bt${4 * h + 1}.${l}, bt${4 * h + 2}.${l}, bt${
              4 * h + 3
            }.${l})`,
          );
        }
      }
    } else {
      for (let kk = 0; kk < 4; kk++) {
        b.push([]);
        for (let h = 0; h < TN / 4; h++) {
          const el = [0, 1, 2, 3].map((l) => {
            const j = 4 * h + l;
            const idx = tB ? `rb${j} + ${kc(kk)}` : `offB + ${kc(kk)} * N + n${j}`;
            return `src1[${idx}]`;
          });
          B.push(
            `    let b${kk}_${h} = ${mask(kk, `vec4<f32>(${el.join(", ")})`, "vec4<f32>()")};`,
          );
          b[kk].push(`b${kk}_${h}`);
        }
      }
    }
    for (let kk = 0; kk < 4; kk++) {
      for (let i = 0; i < TM; i++) {
        for (let h = 0; h < TN / 4; h++) B.push(`    c${i}_${h} += ${a[i][kk]} * ${b[kk][h]};`);
      }
    }
    return B.join("\n");
  };
  L.push(
    bindings([aVec ? "vec4<f32>" : "f32", bVec ? "vec4<f32>" : "f32"], cVec ? "vec4<f32>" : "f32"),
  );
  L.push(`@compute @workgroup_size(${RWX}, ${RWY})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = P[0]; let N = P[1]; let K = P[2];
  let mB = i32(gid.y) * ${TM}; let nB = i32(gid.x) * ${TN}; let z = i32(gid.z);
  if (mB >= M || nB >= N) { return; }
${batchOffsets(rank)}`);
  for (let i = 0; i < TM; i++) L.push(`  let m${i} = min(mB + ${i}, M - 1);`);
  for (let j = 0; j < TN; j++) L.push(`  let n${j} = min(nB + ${j}, N - 1);`);
  for (let i = 0; i < TM; i++) L.push(`  let ra${i} = offA + m${i} * K;`);
  for (let j = 0; j < TN; j++) L.push(`  let rb${j} = offB + n${j} * K;`);
  for (let h = 0; h < TM / 4; h++) L.push(`  let mb${h} = min(mB + ${4 * h}, M - 4);`);
  for (let h = 0; h < TN / 4; h++) L.push(`  let nb${h} = min(nB + ${4 * h}, N - 4);`);
  for (let i = 0; i < TM; i++) {
    for (let h = 0; h < TN / 4; h++) L.push(`  var c${i}_${h} = vec4<f32>();`);
  }
  L.push(
    "  let K4 = K - K % 4;",
    "  var k = 0;",
    "  for (; k < K4; k += 4) {",
    block(false),
    "  }",
  );
  L.push("  if (k < K) {", block(true), "  }");
  for (let i = 0; i < TM; i++) {
    L.push(`  if (mB + ${i} < M) {`);
    L.push(`    let r = offC + (mB + ${i}) * N + nB;`);
    for (let h = 0; h < TN / 4; h++) {
      if (cVec) L.push(`    if (nB + ${4 * h} < N) { dst[(r + ${4 * h}) >> 2u] = c${i}_${h}; }`);
      else {
        for (let l = 0; l < 4; l++) {
          const j = 4 * h + l;
          L.push(`    if (nB + ${j} < N) { dst[r + ${j}] = c${i}_${h}.${LANE[l]}; }`);
        }
      }
    }
    L.push("  }");
  }
  L.push("}");
  return L.join("\n");
}

const SB = 64, SK = 16;

/** The shared-memory tiled kernel (64x64 tiles, 16 deep, 16x16 threads of 4x4). */
function sharedCode(tA: boolean, tB: boolean, rank: number): string {
  const aIdx = tA ? "offA + gk * M + gm" : "offA + gm * K + gk";
  const bIdx = tB ? "offB + gn * K + gk" : "offB + gk * N + gn";
  // Load along the contiguous dimension of each operand.
  const aLoad = tA ? "let kk = e / 64; let mm = e % 64;" : "let kk = e % 16; let mm = e / 16;";
  const bLoad = tB ? "let kk = e % 16; let nn = e / 16;" : "let kk = e / 64; let nn = e % 64;";
  return `${bindings(["f32", "f32"], "f32")}
var<workgroup> As: array<f32, ${SB * SK}>;
var<workgroup> Bs: array<f32, ${SB * SK}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let M = P[0]; let N = P[1]; let K = P[2];
  let z = i32(wid.z);
${batchOffsets(rank)}
  let tx = i32(lid.x); let ty = i32(lid.y); let tid = ty * 16 + tx;
  let mBase = i32(wid.y) * ${SB}; let nBase = i32(wid.x) * ${SB};
  var acc: array<f32, 16>;
  for (var k0 = 0; k0 < K; k0 += ${SK}) {
    for (var r = 0; r < 4; r++) {
      let e = tid + r * 256;
      {
        ${aLoad}
        let gm = min(mBase + mm, M - 1); let gk = min(k0 + kk, K - 1);
        As[kk * ${SB} + mm] = select(0.0, src0[${aIdx}], mBase + mm < M && k0 + kk < K);
      }
      {
        ${bLoad}
        let gn = min(nBase + nn, N - 1); let gk = min(k0 + kk, K - 1);
        Bs[kk * ${SB} + nn] = select(0.0, src1[${bIdx}], nBase + nn < N && k0 + kk < K);
      }
    }
    workgroupBarrier();
    for (var kk = 0; kk < ${SK}; kk++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0; i < 4; i++) { a[i] = As[kk * ${SB} + ty + 16 * i]; b[i] = Bs[kk * ${SB} + tx + 16 * i]; }
      for (var i = 0; i < 4; i++) {
        for (var j = 0; j < 4; j++) { acc[i * 4 + j] = fma(a[i], b[j], acc[i * 4 + j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0; i < 4; i++) {
    let m = mBase + ty + 16 * i;
    for (var j = 0; j < 4; j++) {
      let n = nBase + tx + 16 * j;
      if (m < M && n < N) { dst[offC + m * N + n] = acc[i * 4 + j]; }
    }
  }
}`;
}

/** Batched matmul with the given (or the backend's) variant. */
export function matmul(
  ctx: Ctx,
  a: GpuIn,
  b: GpuIn,
  attrs: OpAttrs["matmul"],
  out: OutInfo,
  variant: GemmVariant = ctx.gemm,
): GpuStorage {
  const { M, N, K, batch, params } = dims(a, b, attrs);
  const y = ctx.alloc(bytesOf(sizeOf(out.shape)));
  const T = sizeOf(batch);
  if (M * N * T === 0) return y;
  if (T > 65535) throw new RangeError(`matmul: batch of ${T} exceeds the dispatch limit 65535`);
  const { transA: tA, transB: tB } = attrs;
  const r = batch.length;
  if (variant === "shared") {
    ctx.dispatch({
      key: `mm:shared:${+tA}${+tB}:r${r}`,
      code: () => sharedCode(tA, tB, r),
      inputs: [a.storage, b.storage],
      output: y,
      params,
      groups: [Math.ceil(N / SB), Math.ceil(M / SB), T],
    });
    return y;
  }
  const aVec = tA ? M % 4 === 0 : K % 4 === 0;
  const bVec = tB ? K % 4 === 0 : N % 4 === 0;
  const cVec = N % 4 === 0;
  ctx.dispatch({
    key: `mm:reg:${+tA}${+tB}${+aVec}${+bVec}${+cVec}:r${r}`,
    code: () => registerCode(tA, tB, aVec, bVec, cVec, r),
    inputs: [a.storage, b.storage],
    output: y,
    params,
    groups: [Math.ceil(N / (TN * RWX)), Math.ceil(M / (TM * RWY)), T],
  });
  return y;
}
