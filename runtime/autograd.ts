/**
 * The tape: reverse-mode differentiation over the nodes that `runOp` records.
 *
 * `backward(loss)` walks the nodes in reverse topological order, applies the rules of
 * `gradients.ts`, and accumulates into each leaf's `.grad` (so two calls add up: gradient
 * accumulation). Intermediate gradients are released before it returns.
 *
 * @module
 */
import { GRADS } from "./gradients.ts";
import { add, ones, reshape, zeros } from "./math.ts";
import { keep, noGrad, type Tensor, tidy } from "./tensor.ts";

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    for (const i of t.node?.inputs ?? []) if (i.requiresGrad && !seen.has(i)) stack.push([i, false]);
  }
  return order;
}

/**
 * Backpropagates from `root` (a scalar, or any tensor with an explicit `seed` gradient) and
 * accumulates gradients into every leaf that requires them.
 *
 * @example
 * ```ts
 * import { backward, mul, sum, tensor } from "./mod.ts";
 * const x = tensor([1, 2, 3]).variable();
 * backward(sum(mul(x, x)));
 * console.log(x.grad!.dataSync()); // [2, 4, 6]
 * ```
 */
export function backward(root: Tensor, seed?: Tensor): void {
  if (!root.requiresGrad) {
    throw new TypeError("backward: the tensor does not depend on any variable that requires grad");
  }
  if (!seed && root.size !== 1) {
    throw new RangeError(`backward: root has shape [${root.shape}]; pass a seed gradient`);
  }
  noGrad(() =>
    tidy(() => {
      const grads = new Map<Tensor, Tensor>();
      grads.set(root, seed ?? ones(root.shape, { backend: root.backend }));
      const order = topoOrder(root);
      for (let i = order.length - 1; i >= 0; i--) {
        const t = order[i];
        const g = grads.get(t);
        if (!g) continue;
        grads.delete(t);
        if (!t.node) {
          const prev = t.grad;
          t.grad = keep(prev ? add(prev, g) : reshape(g, t.shape));
          prev?.dispose();
          continue;
        }
        const rule = GRADS[t.node.op] as (
          g: Tensor,
          inputs: Tensor[],
          out: Tensor,
          attrs: unknown,
        ) => (Tensor | null)[];
        const igs = rule(g, t.node.inputs, t, t.node.attrs);
        t.node.inputs.forEach((inp, j) => {
          const ig = igs[j];
          if (!ig || !inp.requiresGrad) return;
          const acc = grads.get(inp);
          grads.set(inp, acc ? add(acc, ig) : ig);
        });
      }
    })
  );
}

/**
 * Computes `fn()` and the gradients of its scalar result with respect to `params`, without
 * touching their `.grad`. Every intermediate is released; the value and gradients are returned.
 */
export function valueAndGrad(
  fn: () => Tensor,
  params: Tensor[],
): { value: Tensor; grads: Tensor[] } {
  const saved = params.map((p) => [p.grad, p.requiresGrad] as const);
  for (const p of params) {
    p.grad = null;
    p.requiresGrad = true;
  }
  try {
    return tidy(() => {
      const value = fn();
      backward(value);
      const grads = params.map((p) => p.grad ?? noGrad(() => zeros(p.shape, { backend: p.backend })));
      return { value: noGrad(() => reshape(value, value.shape)), grads };
    });
  } finally {
    params.forEach((p, i) => {
      p.grad = saved[i][0];
      p.requiresGrad = saved[i][1];
    });
  }
}
