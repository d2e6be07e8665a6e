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
import { keep, noGrad, type Tensor, tidy, view } from "./tensor.ts";
import { profileRegion } from "./profile.ts";

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
    for (const i of t.node?.inputs ?? []) {
      if (i.requiresGrad && !seen.has(i)) stack.push([i, false]);
    }
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
  if (seed && seed.size !== root.size) {
    throw new RangeError(`backward: seed [${seed.shape}] does not match root [${root.shape}]`);
  }
  profileRegion("backward", () => backwardImpl(root, seed));
}

function backwardImpl(root: Tensor, seed?: Tensor): void {
  noGrad(() =>
    tidy(() => {
      // Every gradient in `grads` is a tensor object of its own (a view where a rule hands one
      // tensor to two inputs), disposed as soon as it has been propagated: peak memory stays
      // near the forward's instead of holding every intermediate gradient to the end.
      const grads = new Map<Tensor, Tensor>();
      grads.set(root, seed ? view(seed, root.shape) : ones(root.shape, { backend: root.backend }));
      const order = topoOrder(root);
      for (let i = order.length - 1; i >= 0; i--) {
        const t = order[i];
        const g = grads.get(t);
        if (!g) continue;
        grads.delete(t);
        if (!t.node) {
          const prev = t.grad;
          const sameShape = g.shape.length === t.shape.length &&
            g.shape.every((d, k) => d === t.shape[k]);
          const next = prev ? add(prev, g) : sameShape ? g : reshape(g, t.shape);
          t.grad = keep(next);
          prev?.dispose();
          if (next !== g) g.dispose();
          continue;
        }
        const rule = GRADS[t.node.op] as (
          g: Tensor,
          inputs: Tensor[],
          out: Tensor,
          attrs: unknown,
        ) => (Tensor | null)[];
        const node = t.node;
        const igs = tidy(() => rule(g, node.inputs, t, node.attrs));
        const handed = new Set<Tensor>();
        node.inputs.forEach((inp, j) => {
          let ig = igs[j];
          if (!ig || !inp.requiresGrad) return;
          // A gradient handed to several inputs goes as a view to all but its last one: the
          // accumulation below disposes what it is given, which must not be the shared tensor.
          const again = igs.some((o, k) => k > j && o === ig && node.inputs[k].requiresGrad);
          if (handed.has(ig) || again) ig = view(ig, ig.shape);
          handed.add(ig);
          const acc = grads.get(inp);
          if (acc) {
            grads.set(inp, add(acc, ig));
            acc.dispose();
            ig.dispose();
          } else grads.set(inp, ig);
        });
        if (!handed.has(g)) g.dispose();
        for (const ig of igs) if (ig && !handed.has(ig)) ig.dispose();
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
  for (const p of params) {
    if (p.node) throw new TypeError(`valueAndGrad: parameter ${p} is not a leaf`);
  }
  const saved = params.map((p) => [p.grad, p.requiresGrad] as const);
  for (const p of params) {
    p.grad = null;
    p.requiresGrad = true;
  }
  try {
    return tidy(() => {
      const value = fn();
      backward(value);
      const grads = params.map((p) => {
        const g = p.grad;
        p.grad = null;
        if (!g) return noGrad(() => zeros(p.shape, { backend: p.backend }));
        const v = view(g, g.shape); // a tensor of this scope, so callers' tidy() owns it
        g.dispose();
        return v;
      });
      return { value: noGrad(() => view(value, value.shape)), grads };
    });
  } finally {
    params.forEach((p, i) => {
      if (p.grad !== saved[i][0]) p.grad?.dispose();
      p.grad = saved[i][0];
      p.requiresGrad = saved[i][1];
    });
  }
}
