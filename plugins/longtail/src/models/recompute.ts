import { discardUpdates, trainingPass, type Pass } from './layers';
import { backprop, nodesFromXsToY, tfEngine, type TapeNode } from './lean-grads';
import type { VariableStore } from './store';
import { tfx, type Tensor, type Tensor4D, type Variable } from './tf';

export type Segment = (x: Tensor4D, pass: Pass) => Tensor4D;

/**
 * A ResNet's residual stages, run in order; with `recompute`, each stage is one recomputed segment.
 * A stage's trainable variables are listed once, when it is added, not on every step.
 */
export class ResidualStages {
  private readonly stages: { run: Segment; vars: Variable[] }[] = [];
  constructor(readonly recompute: boolean) {}

  /** A stage of `blocks`, whose variables live under `store`. */
  add(blocks: { apply: Segment }[], store: VariableStore): void {
    const run: Segment = (x, pass) => blocks.reduce((h, b) => b.apply(h, pass), x);
    this.stages.push({ run, vars: this.recompute ? store.trainable() : [] });
  }

  apply(x: Tensor4D, pass: Pass): Tensor4D {
    return this.stages.reduce((y, s) => (this.recompute ? recomputed(s.run, y, pass, s.vars) : s.run(y, pass)), x);
  }
}

/**
 * Gradient checkpointing: `segment(x, pass)` as ONE op that keeps only its input for the backward
 * pass. The forward runs off the tape (ops inside a custom-gradient forward are not recorded), so
 * none of the segment's activations are saved; the gradient re-runs the segment on the saved input
 * under a tape of its own and walks that tape from the incoming dy. Cost: one more forward of the
 * segment per step; saving: the segment's activations no longer wait on the tape for the backward
 * pass, only one segment's at a time during it.
 *
 * `vars` are the segment's variables; the trainable ones become explicit inputs of the op, so the
 * caller's walk receives their gradients as from any other op. The batch-norm running statistics
 * come from the real forward (into `pass`); the recomputation's are thrown away, so they move once.
 * Off a training pass (no gradient wanted) it is just `segment`.
 */
export function recomputed(segment: Segment, x: Tensor4D, pass: Pass, vars: Variable[]): Tensor4D {
  if (!pass.training) return segment(x, pass);
  const tf = tfx();
  const trainable = vars.filter((v) => v.trainable);
  const op = tf.customGrad(((...args: unknown[]) => {
    const [xi] = args as Tensor4D[];
    const save = args[args.length - 1] as (t: Tensor[]) => void;
    save([xi]);
    return {
      value: segment(xi, pass),
      gradFunc: (dy: Tensor, saved: Tensor[]) => segmentGrads(segment, saved[0] as Tensor4D, trainable, dy),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, ...trainable) as Tensor4D;
}

/** [dL/dx, dL/dv for each of `vars`]: the segment re-run on `x` under a fresh tape, walked from `dy`. */
function segmentGrads(segment: Segment, x: Tensor4D, vars: Variable[], dy: Tensor): Tensor[] {
  const tf = tfx();
  const engine = tfEngine();
  if (engine.state.gradientDepth !== 0 || engine.state.kernelDepth !== 0) {
    throw new Error('recompute: the backward pass of a recomputed segment cannot itself be differentiated');
  }
  const outerTape = engine.state.activeTape;
  const scratch = trainingPass();
  let tape: TapeNode[] = [];
  try {
    return engine.tidy(() => {
      const y = engine.scopedRun(
        () => engine.startTape(),
        () => engine.endTape(),
        () => engine.tidy(() => segment(x, scratch)),
      );
      tape = engine.state.activeTape ?? [];
      checkVariablesListed(tape, vars);
      const xs: Tensor[] = [x, ...vars];
      const gs = backprop(nodesFromXsToY(tape, xs, y), xs, y, engine, dy);
      // tidy frees everything made inside it except what it returns (here: the gradients).
      return gs.map((g, i) => g ?? tf.zerosLike(xs[i])) as unknown as Tensor;
    }) as unknown as Tensor[];
  } finally {
    for (const node of tape) for (const s of node.saved ?? []) s.dispose();
    discardUpdates(scratch);
    engine.state.activeTape = outerTape;
  }
}

/** A trainable variable the segment reads but was not given would silently get no gradient: refuse it. */
function checkVariablesListed(tape: TapeNode[], vars: Variable[]): void {
  const tf = tfx();
  const listed = new Set(vars.map((v) => v.id));
  for (const node of tape) {
    for (const t of Object.values(node.inputs)) {
      if (t instanceof tf.Variable && t.trainable && !listed.has(t.id)) {
        throw new Error(`recompute: the segment reads trainable variable ${t.name} that is not among its listed variables`);
      }
    }
  }
}
