import type { NamedVariable } from './store';
import { tfx, type NamedTensorMap, type Tensor, type Variable } from './tf';

/**
 * SGD with momentum and L2 weight decay, PyTorch's formulation (the one the long-tail literature
 * trains with): g <- grad + wd * w;  v <- mu * v + g;  w <- w - lr * v  (nesterov: w <- w - lr * (g + mu * v)).
 * Decay applies to every trained variable, batch-norm included, as torch.optim.SGD does by default.
 */
export class SgdMomentum {
  private readonly slots = new Map<string, Variable>();

  constructor(
    readonly momentum = 0.9,
    readonly weightDecay = 0,
    readonly nesterov = false,
  ) {}

  /** One update; `grads` maps each variable's tfjs name to its gradient (tf.variableGrads's output). */
  apply(vars: NamedVariable[], grads: NamedTensorMap, lr: number): void {
    const tf = tfx();
    // The three factors as tensors once per step: a JavaScript number in an op is uploaded anew
    // every time (three host-to-TensorFlow copies per variable per step).
    const [wd, mu, rate] = [tf.scalar(this.weightDecay), tf.scalar(this.momentum), tf.scalar(lr)];
    for (const v of vars) {
      const g = grads[v.variable.name];
      if (!g) continue;
      tf.tidy(() => {
        let d: Tensor = this.weightDecay ? tf.add(g, tf.mul(v.variable, wd)) : g;
        if (this.momentum) {
          let buf = this.slots.get(v.name);
          if (!buf) {
            // PyTorch starts the buffer at the first gradient, not at zero.
            buf = tf.variable(d, false);
            this.slots.set(v.name, buf);
          } else {
            buf.assign(tf.add(tf.mul(buf, mu), d));
          }
          d = this.nesterov ? tf.add(d, tf.mul(buf, mu)) : buf;
        }
        v.variable.assign(tf.sub(v.variable, tf.mul(d, rate)));
      });
    }
    tf.dispose([wd, mu, rate]);
  }

  /** Momentum buffers by variable name, for checkpoints. */
  state(): { name: string; tensor: Tensor }[] {
    return [...this.slots.entries()].map(([name, t]) => ({ name: `opt/${name}`, tensor: t }));
  }

  /** Restores buffers saved by `state()`; takes ownership of nothing (copies). */
  load(tensors: Map<string, Tensor>): void {
    const tf = tfx();
    this.clear();
    for (const [name, t] of tensors) {
      if (name.startsWith('opt/')) this.slots.set(name.slice(4), tf.variable(t.clone(), false));
    }
  }

  clear(): void {
    for (const s of this.slots.values()) s.dispose();
    this.slots.clear();
  }
}
