import { tfx, type Tensor, type Variable } from './tf';

/**
 * What a variable is, which decides how the optimiser treats it: `weight` (conv/linear kernels),
 * `bias`, `norm` (batch-norm scale and shift) are trained; `state` (batch-norm running statistics,
 * centroids) is updated by the forward pass or the method, never by gradients.
 */
export type VarRole = 'weight' | 'bias' | 'norm' | 'state';

export interface NamedVariable {
  name: string;
  variable: Variable;
  role: VarRole;
}

/**
 * A flat, named collection of variables. Names are ours (tf.variable's global registry would clash
 * when two models live in one process, e.g. in tests), and stable, so checkpoints map by name.
 */
export class VariableStore {
  private readonly vars: Map<string, NamedVariable>;

  constructor(
    readonly prefix = '',
    shared?: Map<string, NamedVariable>,
  ) {
    this.vars = shared ?? new Map();
  }

  /** A view that prefixes names with `name/` and writes into the same collection. */
  scope(name: string): VariableStore {
    return new VariableStore(this.prefix ? `${this.prefix}/${name}` : name, this.vars);
  }

  add(name: string, init: Tensor, role: VarRole): Variable {
    const full = this.prefix ? `${this.prefix}/${name}` : name;
    if (this.vars.has(full)) throw new Error(`variable ${full} defined twice`);
    const variable = tfx().variable(init, role !== 'state');
    init.dispose();
    this.vars.set(full, { name: full, variable, role });
    return variable;
  }

  /** All variables whose name starts with this store's prefix (all of them for the root). */
  list(): NamedVariable[] {
    const p = this.prefix ? this.prefix + '/' : '';
    return [...this.vars.values()].filter((v) => v.name.startsWith(p));
  }

  trainable(): Variable[] {
    return this.list()
      .filter((v) => v.role !== 'state')
      .map((v) => v.variable);
  }

  get(name: string): NamedVariable | undefined {
    return this.vars.get(name);
  }

  /** Removes and disposes the variables under this prefix. */
  dispose(): void {
    for (const v of this.list()) {
      v.variable.dispose();
      this.vars.delete(v.name);
    }
  }

  parameterCount(): number {
    return this.list()
      .filter((v) => v.role !== 'state')
      .reduce((n, v) => n + v.variable.size, 0);
  }
}
