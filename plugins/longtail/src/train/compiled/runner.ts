import { commitUpdates, discardUpdates } from '../../models/layers';
import type { Network } from '../../models/network';
import type { SgdMomentum } from '../../models/sgd';
import type { NamedVariable } from '../../models/store';
import { tfx, type Tensor, type Variable } from '../../models/tf';
import type { DeviceBatch, Stage1Method, StepInfo } from '../method';
import { stage1Step, type StepOutcome } from '../step';
import { buildProgram, feedTensors, notCompilable, signatureOf, slotsOf, traceForwardBackward, type Ctx, type Traced } from './build';
import { worstDifference, type Mismatch } from './compare';
import type { OutputRole, Program } from './program';
import { tensorId } from './trace';

export interface CompiledStepOptions {
  /** compare each (re)traced program with the eager step it was traced from (default true) */
  check?: boolean;
  /** largest accepted relative difference of that comparison (see worstDifference) */
  tolerance?: number;
  /** told once when the check fails and the runner falls back to the eager step for good */
  onFallback?: (why: string) => void;
  /** told of every (re)trace that passed its check */
  onTrace?: (message: string) => void;
}

/** float32: one step's reordered sums differ by a few units in the 6th-7th digit; 1e-4 leaves room for fused kernels. */
export const CHECK_TOLERANCE = 1e-4;

/**
 * stage1Step as one libtensorflow graph per batch shape: the first step with momentum buffers in
 * place is run eagerly while its ops are traced (so it is a real step), the graph built from the
 * trace plus SGD's arithmetic is loaded, checked against that eager step, and run for every later
 * step of the same shapes. A new shape (the last, smaller batch) traces again.
 */
export class CompiledStep {
  private program: Program | null = null;
  private sig = '';
  private fallback: string | null = null;
  /** the worst difference of the last self-check, by output kind */
  lastCheck: Record<string, Mismatch> | null = null;
  traces = 0;

  constructor(private readonly o: CompiledStepOptions = {}) {}

  /** Why this runner now runs eagerly, or null. */
  get fellBack(): string | null {
    return this.fallback;
  }

  step(net: Network, method: Stage1Method, opt: SgdMomentum, vars: NamedVariable[], a: DeviceBatch, b: DeviceBatch | null, info: StepInfo, lr: number): StepOutcome {
    const c: Ctx = { net, method, opt, vars, a, b, info, lr };
    if (!this.fallback && notCompilable(method)) this.fallBack(`${notCompilable(method)}: running eagerly`);
    const trained = vars.filter((v) => v.role !== 'state');
    const slots = slotsOf(opt);
    // The first step makes the momentum buffers (PyTorch starts them at the first gradient).
    const unbuffered = opt.momentum > 0 && trained.some((v) => v.variable.trainable && !slots.has(v.name));
    if (this.fallback || unbuffered) return stage1Step(net, method, opt, vars, a, b, info, lr);
    const sig = signatureOf(c);
    if (!this.program || sig !== this.sig) return this.retrace(c, trained, slots, sig);
    return this.runProgram(c, slots);
  }

  /** The compiled gradients at the current weights (tests): needs a program for these shapes. */
  gradients(c: Ctx): Map<string, Tensor> {
    if (!this.program || signatureOf(c) !== this.sig) throw new Error('compiled step: no program for these shapes yet');
    const outs = this.runWith(c, slotsOf(c.opt), (r) => r.kind === 'grad');
    return new Map(outs.map((o) => [(o.role as { key: string }).key, o.tensor]));
  }

  dispose(): void {
    this.program?.dispose();
    this.program = null;
  }

  private runWith(c: Ctx, slots: Map<string, Variable>, want: (r: OutputRole) => boolean): { role: OutputRole; tensor: Tensor }[] {
    const feeds = feedTensors(c, slots);
    const lr = tfx().scalar(c.lr);
    feeds.set('lr', lr);
    try {
      return this.program!.run(feeds, want);
    } finally {
      lr.dispose();
    }
  }

  private runProgram(c: Ctx, slots: Map<string, Variable>): StepOutcome {
    const outs = this.runWith(c, slots, (r) => r.kind !== 'grad');
    const { loss, terms, finite } = readLoss(outs);
    if (finite) {
      const byName = new Map(c.vars.map((v) => [v.name, v.variable]));
      for (const o of outs) {
        if (o.role.kind === 'var') byName.get(o.role.key)!.assign(o.tensor);
        else if (o.role.kind === 'slot') slots.get(o.role.key)!.assign(o.tensor);
      }
    }
    tfx().dispose(outs.map((o) => o.tensor));
    if (finite) c.method.afterStep?.(c.info);
    return { loss, terms, finite };
  }

  private retrace(c: Ctx, trained: NamedVariable[], slots: Map<string, Variable>, sig: string): StepOutcome {
    this.dispose();
    const feeds = feedTensors(c, slots);
    const inputIds = new Map<number, string>();
    for (const [k, t] of feeds) if (!inputIds.has(tensorId(t))) inputIds.set(tensorId(t), k);
    const t = traceForwardBackward(c, trained, inputIds);
    this.traces++;
    let check: { role: OutputRole; tensor: Tensor }[] = [];
    try {
      this.program = buildProgram(c, t, trained, inputIds, feeds);
      this.sig = sig;
      if (this.o.check !== false) check = this.runWith(c, slots, () => true);
    } catch (e) {
      this.dispose();
      abandon(t);
      throw e;
    }
    const before = check.length ? worstDifference(byKey(check, 'grad'), new Map(trained.filter((v) => t.grads[v.variable.name]).map((v) => [v.name, t.grads[v.variable.name]]))) : null;
    const outcome = finishEager(c, t, trained);
    if (check.length) this.judge(check, before!, c, outcome);
    if (this.program && outcome.finite) {
      const worst = this.lastCheck ? Math.max(...Object.values(this.lastCheck).map((m) => m.relative)).toExponential(1) : 'not checked';
      this.o.onTrace?.(`traced the step for batch ${c.a.x.shape.join('x')} (${t.ops} ops); largest relative difference from the eager step ${worst}`);
    }
    tfx().dispose(check.map((o) => o.tensor));
    if (!outcome.finite) this.dispose();
    return outcome;
  }

  /** Compares the program's outputs on the pre-step state with what the eager step made. */
  private judge(check: { role: OutputRole; tensor: Tensor }[], grads: Mismatch, c: Ctx, outcome: StepOutcome): void {
    if (!outcome.finite) return;
    const slots = slotsOf(c.opt);
    const vars = new Map(c.vars.map((v) => [v.name, v.variable as Tensor]));
    const [lossOut] = check.filter((o) => o.role.kind === 'loss');
    const lossDiff = Math.abs(lossOut.tensor.dataSync()[0] - outcome.loss) / Math.max(Math.abs(outcome.loss), 1e-30);
    const varsWant = new Map([...byKey(check, 'var').keys()].map((k) => [k, vars.get(k)!]));
    const slotsWant = new Map([...byKey(check, 'slot').keys()].map((k) => [k, slots.get(k) as Tensor]));
    this.lastCheck = {
      loss: { key: 'loss', relative: lossDiff, count: 1 },
      grad: grads,
      var: worstDifference(byKey(check, 'var'), varsWant),
      slot: worstDifference(byKey(check, 'slot'), slotsWant),
    };
    const tol = this.o.tolerance ?? CHECK_TOLERANCE;
    const bad = Object.entries(this.lastCheck).find(([, m]) => !(m.relative <= tol));
    if (bad) this.fallBack(`compiled step failed its check against the eager step (${bad[0]} ${bad[1].key} differs by ${bad[1].relative.toExponential(2)} relative, tolerance ${tol}): running eagerly`);
  }

  private fallBack(why: string): void {
    this.fallback = why;
    this.dispose();
    this.o.onFallback?.(why);
  }
}

function byKey(outs: { role: OutputRole; tensor: Tensor }[], kind: OutputRole['kind']): Map<string, Tensor> {
  return new Map(outs.filter((o) => o.role.kind === kind).map((o) => [(o.role as { key: string }).key, o.tensor]));
}

function readLoss(outs: { role: OutputRole; tensor: Tensor }[]): { loss: number; terms: Record<string, number>; finite: boolean } {
  let loss = NaN;
  const terms: Record<string, number> = {};
  for (const o of outs) {
    if (o.role.kind === 'loss') loss = o.tensor.dataSync()[0];
    else if (o.role.kind === 'term') terms[o.role.key] = o.tensor.dataSync()[0];
  }
  return { loss, terms, finite: Number.isFinite(loss) && Object.values(terms).every(Number.isFinite) };
}

function abandon(t: Traced): void {
  discardUpdates(t.pass);
  tfx().dispose([t.value, ...Object.values(t.kept), ...Object.values(t.grads)]);
}

/** The rest of stage1Step after its gradients (step.ts), unchanged: read, check, update, hook. */
function finishEager(c: Ctx, t: Traced, trained: NamedVariable[]): StepOutcome {
  const tf = tfx();
  const loss = t.value.dataSync()[0];
  const terms: Record<string, number> = {};
  for (const [k, v] of Object.entries(t.kept)) terms[k] = v.dataSync()[0];
  tf.dispose([t.value, ...Object.values(t.kept)]);
  const finite = Number.isFinite(loss) && Object.values(terms).every(Number.isFinite);
  if (!finite) {
    tf.dispose(Object.values(t.grads));
    discardUpdates(t.pass);
    return { loss, terms, finite };
  }
  c.opt.apply(trained, t.grads, c.lr);
  commitUpdates(t.pass);
  tf.dispose(Object.values(t.grads));
  c.method.afterStep?.(c.info);
  return { loss, terms, finite };
}
