/**
 * Optimizers (Adam, SGD with momentum, Nesterov and weight decay) and learning-rate schedules
 * (cosine, step). Updates run without the tape and replace each parameter's values in place.
 *
 * @module
 */
import { add, div, mul, sqrt, sub, zerosLike } from "./math.ts";
import { keep, noGrad, type Tensor, tidy } from "./tensor.ts";

/** A learning-rate schedule: step index (0-based) to learning rate. */
export type Schedule = (step: number) => number;

/** Constant learning rate. */
export const constantLr = (lr: number): Schedule => () => lr;

/** Cosine decay from `lr` to `minLr` over `total` steps (torch CosineAnnealingLR, eta_min). */
export const cosineLr = (lr: number, total: number, minLr = 0): Schedule => (step) =>
  minLr + (lr - minLr) * (1 + Math.cos(Math.PI * Math.min(step, total) / total)) / 2;

/** Multiply by `gamma` at each milestone (torch MultiStepLR). */
export const stepLr = (lr: number, milestones: number[], gamma = 0.1): Schedule => (step) =>
  lr * gamma ** milestones.filter((m) => step >= m).length;

/** Common optimizer surface. */
export interface Optimizer {
  readonly params: Tensor[];
  /** Applies one update from the parameters' `.grad` (parameters without a grad are skipped). */
  step(): void;
  /** Drops accumulated gradients. */
  zeroGrad(): void;
  /** Releases optimizer state. */
  dispose(): void;
  /** Steps taken so far. */
  readonly steps: number;
}

abstract class Base implements Optimizer {
  steps = 0;
  constructor(readonly params: Tensor[], protected schedule: Schedule) {}
  abstract update(p: Tensor, g: Tensor, i: number, lr: number): void;
  step(): void {
    const lr = this.schedule(this.steps);
    noGrad(() => {
      this.params.forEach((p, i) => {
        if (p.grad) tidy(() => this.update(p, p.grad!, i, lr));
      });
    });
    this.steps++;
  }
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
  abstract dispose(): void;
}

/** Options of {@linkcode Adam}; defaults are PyTorch's. */
export interface AdamOptions {
  lr?: number | Schedule;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** Adam (PyTorch semantics: bias-corrected, L2 weight decay added to the gradient). */
export class Adam extends Base {
  #m: (Tensor | null)[];
  #v: (Tensor | null)[];
  #t: number[];
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;

  constructor(params: Tensor[], o: AdamOptions = {}) {
    super(params, typeof o.lr === "function" ? o.lr : constantLr(o.lr ?? 1e-3));
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    this.#m = params.map(() => null);
    this.#v = params.map(() => null);
    this.#t = params.map(() => 0);
  }

  update(p: Tensor, g0: Tensor, i: number, lr: number): void {
    const g = this.weightDecay ? add(g0, mul(p, this.weightDecay)) : g0;
    const t = ++this.#t[i];
    const m0 = this.#m[i] ?? zerosLike(p);
    const v0 = this.#v[i] ?? zerosLike(p);
    const m = keep(add(mul(m0, this.beta1), mul(g, 1 - this.beta1)));
    const v = keep(add(mul(v0, this.beta2), mul(mul(g, g), 1 - this.beta2)));
    this.#m[i]?.dispose();
    this.#v[i]?.dispose();
    this.#m[i] = m;
    this.#v[i] = v;
    const bc1 = 1 - this.beta1 ** t, bc2 = 1 - this.beta2 ** t;
    const denom = add(div(sqrt(v), Math.sqrt(bc2)), this.eps);
    p.assign(sub(p, mul(div(m, denom), lr / bc1)));
  }

  dispose(): void {
    for (const t of [...this.#m, ...this.#v]) t?.dispose();
    this.#m = this.#m.map(() => null);
    this.#v = this.#v.map(() => null);
  }
}

/** Options of {@linkcode SGD}; defaults are PyTorch's. */
export interface SgdOptions {
  lr: number | Schedule;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  dampening?: number;
}

/** SGD with momentum, Nesterov and weight decay (PyTorch semantics). */
export class SGD extends Base {
  #buf: (Tensor | null)[];
  readonly o: Required<Omit<SgdOptions, "lr">>;

  constructor(params: Tensor[], o: SgdOptions) {
    super(params, typeof o.lr === "function" ? o.lr : constantLr(o.lr));
    this.o = {
      momentum: o.momentum ?? 0,
      nesterov: o.nesterov ?? false,
      weightDecay: o.weightDecay ?? 0,
      dampening: o.dampening ?? 0,
    };
    this.#buf = params.map(() => null);
  }

  update(p: Tensor, g0: Tensor, i: number, lr: number): void {
    let g = this.o.weightDecay ? add(g0, mul(p, this.o.weightDecay)) : g0;
    if (this.o.momentum) {
      const prev = this.#buf[i];
      const b = keep(
        prev ? add(mul(prev, this.o.momentum), mul(g, 1 - this.o.dampening)) : add(g, 0),
      );
      prev?.dispose();
      this.#buf[i] = b;
      g = this.o.nesterov ? add(g, mul(b, this.o.momentum)) : b;
    }
    p.assign(sub(p, mul(g, lr)));
  }

  dispose(): void {
    for (const t of this.#buf) t?.dispose();
    this.#buf = this.#buf.map(() => null);
  }
}
