import type { Network } from '../../models/network';
import type { SgdMomentum } from '../../models/sgd';
import type { NamedVariable } from '../../models/store';
import { tfx, type Tensor, type Variable } from '../../models/tf';
import type { DeviceBatch, Stage1Method, StepInfo } from '../method';
import { finishStep, stage1Step, type StepOutcome } from '../step';
import { bf16Program, type Precision } from './bf16';
import { abandonTrace, buildProgram, feedTensors, notCompilable, signatureOf, slotsOf, traceForwardBackward, type Ctx } from './build';
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
  /** bf16: convolutions and matrix products in bfloat16 (see bf16.ts); fp32 (default): all float32 */
  precision?: Precision;
  /** largest accepted relative difference of the bf16 program's loss from the eager float32 step's */
  bf16Tolerance?: number;
  /** compile each program with XLA (xla.ts): the GPU's default; runs on the CPU too, for the tests */
  xla?: boolean;
}

/** float32: one step's reordered sums differ by a few units in the 6th-7th digit; 1e-4 leaves room for fused kernels. */
export const CHECK_TOLERANCE = 1e-4;

/**
 * The bf16 program's loss against the eager float32 step's. bfloat16 keeps 8 significant bits: each
 * rounding is off by up to 2^-9 (2e-3) relative, and the forward pass rounds ~30 convolutions in
 * series with batch norm re-centring after each; measured 2e-4 to 2e-3 on ResNet-8, so 2e-2 admits
 * that with room and rejects a wrong graph, whose loss is off at the order of itself. Gradients are
 * only required finite: sums of bfloat16-rounded terms that nearly cancel (a batch-norm shift's is
 * the sum of its output's gradient) come out 10-60% of their largest value away from float32's,
 * measured the same with float32 kernels on the same roundings, so no bound on them separates
 * rounding from a bug. What proves the trace is the float32 program of it, checked first at
 * CHECK_TOLERANCE in every output; the bf16 one is a rewrite of that graph (bf16.ts).
 */
export const BF16_CHECK_TOLERANCE = 2e-2;

type Out = { role: OutputRole; tensor: Tensor };
/** A program built from one trace, with its outputs on the pre-step state when checked. */
interface Candidate {
  precision: Precision;
  program: Program;
  outs: Out[];
  grads: Mismatch | null;
  after: Mismatch | null;
}

/**
 * stage1Step as one libtensorflow graph per signature (batch shapes, the method's phase, the
 * variables): the step is run eagerly while its ops are traced (so it is a real step), the graph
 * built from the trace plus SGD's arithmetic is loaded, checked against that eager step, and run
 * for every later step of the same signature. A new one (the last, smaller batch; ICCL's ICC term
 * switched on) traces again. The method's drawStep values are inputs of the graph, drawn anew each
 * step; its afterStep runs in JavaScript after each step, on the `after` tensors the graph returns.
 */
export class CompiledStep {
  private program: Program | null = null;
  private sig = '';
  private fallback: string | null = null;
  /** the worst difference of the last self-check (of the float32 program), by output kind */
  lastCheck: Record<string, Mismatch> | null = null;
  /** the same for the bfloat16 program, when precision is bf16 */
  lastBf16Check: Record<string, Mismatch> | null = null;
  /** why bf16 was given up for the float32 program, or null */
  private bf16Off: string | null = null;
  private running: Precision = 'fp32';
  traces = 0;

  constructor(private readonly o: CompiledStepOptions = {}) {}

  /** Why this runner now runs eagerly, or null. */
  get fellBack(): string | null {
    return this.fallback;
  }

  /** What the compiled program computes in now: 'eager' before the first trace and after a fallback. */
  get precision(): Precision | 'eager' {
    return this.program && !this.fallback ? this.running : 'eager';
  }

  step(net: Network, method: Stage1Method, opt: SgdMomentum, vars: NamedVariable[], a: DeviceBatch, b: DeviceBatch | null, info: StepInfo, lr: number): StepOutcome {
    if (!this.fallback && notCompilable(method)) this.fallBack(`${notCompilable(method)}: running eagerly`);
    if (this.fallback) return stage1Step(net, method, opt, vars, a, b, info, lr);
    const c: Ctx = { net, method, opt, vars, a, b, info, lr, draws: method.drawStep?.(a, b, info) };
    try {
      const trained = vars.filter((v) => v.role !== 'state');
      const slots = slotsOf(opt);
      const sig = signatureOf(c, slots);
      if (!this.program || sig !== this.sig) return this.retrace(c, trained, slots, sig);
      return this.runProgram(c, slots);
    } finally {
      tfx().dispose(Object.values(c.draws ?? {}));
    }
  }

  /** The compiled gradients at the current weights (tests): needs a program for this signature; draws c.draws when not given. */
  gradients(c: Ctx): Map<string, Tensor> {
    const draws = c.draws ?? c.method.drawStep?.(c.a, c.b, c.info);
    try {
      const cd = { ...c, draws };
      if (!this.program || signatureOf(cd, slotsOf(c.opt)) !== this.sig) throw new Error('compiled step: no program for these shapes yet');
      const outs = this.runWith(this.program, cd, slotsOf(c.opt), (r) => r.kind === 'grad');
      return new Map(outs.map((o) => [(o.role as { key: string }).key, o.tensor]));
    } finally {
      if (!c.draws) tfx().dispose(Object.values(draws ?? {}));
    }
  }

  dispose(): void {
    this.program?.dispose();
    this.program = null;
  }

  private runWith(program: Program, c: Ctx, slots: Map<string, Variable>, want: (r: OutputRole) => boolean): Out[] {
    const feeds = feedTensors(c, slots);
    const lr = tfx().scalar(c.lr);
    feeds.set('lr', lr);
    try {
      return program.run(feeds, want);
    } finally {
      lr.dispose();
    }
  }

  private runProgram(c: Ctx, slots: Map<string, Variable>): StepOutcome {
    const outs = this.runWith(this.program!, c, slots, (r) => r.kind !== 'grad');
    const { loss, terms, finite } = readLoss(outs);
    try {
      if (finite) {
        const byName = new Map(c.vars.map((v) => [v.name, v.variable]));
        for (const o of outs) {
          if (o.role.kind === 'var') byName.get(o.role.key)!.assign(o.tensor);
          else if (o.role.kind === 'slot') slots.get(o.role.key)!.assign(o.tensor);
        }
        c.method.afterStep?.(c.info, Object.fromEntries(byKey(outs, 'after')));
      }
    } finally {
      tfx().dispose(outs.map((o) => o.tensor));
    }
    return { loss, terms, finite };
  }

  private retrace(c: Ctx, trained: NamedVariable[], slots: Map<string, Variable>, sig: string): StepOutcome {
    this.dispose();
    const feeds = feedTensors(c, slots);
    const inputIds = new Map<number, string>();
    for (const [k, t] of feeds) if (!inputIds.has(tensorId(t))) inputIds.set(tensorId(t), k);
    const t = traceForwardBackward(c, trained, inputIds);
    // The first step with a gradient for a variable makes its momentum buffer (PyTorch starts it at
    // the first gradient): that traced step is finished as the eager step it is, without a program.
    if (c.opt.momentum && trained.some((v) => t.grads[v.variable.name] && !slots.has(v.name))) return finishStep(c.method, c.opt, trained, t.pass, t, c.info, c.lr);
    this.traces++;
    const eagerGrads = new Map(trained.filter((v) => t.grads[v.variable.name]).map((v) => [v.name, t.grads[v.variable.name]]));
    const eagerAfter = new Map(Object.entries(t.after));
    const cands: Candidate[] = [];
    try {
      const fp32 = buildProgram(c, t, trained, inputIds, feeds, this.o.xla);
      cands.push({ precision: 'fp32', program: fp32, outs: [], grads: null, after: null });
      // bf16 is built from the float32 graph of the same trace, after it (see BF16_CHECK_TOLERANCE).
      if (this.o.precision === 'bf16' && !this.bf16Off) cands.push({ precision: 'bf16', program: bf16Program(t.builder, fp32), outs: [], grads: null, after: null });
      if (this.o.check !== false) {
        for (const k of cands) {
          k.outs = this.runWith(k.program, c, slots, () => true);
          k.grads = worstDifference(byKey(k.outs, 'grad'), eagerGrads);
          k.after = worstDifference(byKey(k.outs, 'after'), eagerAfter);
        }
      }
    } catch (e) {
      for (const k of cands) k.program.dispose();
      tfx().dispose(cands.flatMap((k) => k.outs.map((o) => o.tensor)));
      abandonTrace(t);
      throw e;
    }
    const outcome = finishStep(c.method, c.opt, trained, t.pass, t, c.info, c.lr);
    this.program = outcome.finite ? this.choose(cands, c, outcome) : null;
    this.sig = sig;
    for (const k of cands) if (k.program !== this.program) k.program.dispose();
    tfx().dispose(cands.flatMap((k) => k.outs.map((o) => o.tensor)));
    if (this.program) this.o.onTrace?.(`traced the step for batch ${c.a.x.shape.join('x')} (${t.ops} ops${this.o.xla ? ', compiled by XLA' : ''}); ${this.checkLine()}`);
    return outcome;
  }

  /** The checked program to run from now on (the bf16 one when it passes), or null after a fallback. */
  private choose(cands: Candidate[], c: Ctx, outcome: StepOutcome): Program | null {
    const [fp32, bf16] = cands;
    this.running = 'fp32';
    if (this.o.check === false) {
      if (bf16) this.running = 'bf16';
      return (bf16 ?? fp32).program;
    }
    this.lastCheck = this.measure(fp32, c, outcome);
    const bad = this.worst(this.lastCheck, this.o.tolerance ?? CHECK_TOLERANCE);
    if (bad) {
      this.fallBack(`compiled step failed its check against the eager step (${bad}): running eagerly`);
      return null;
    }
    if (!bf16) return fp32.program;
    this.lastBf16Check = this.measure(bf16, c, outcome);
    const { loss, ...rest } = this.lastBf16Check;
    const badBf16 = this.worst({ loss }, this.o.bf16Tolerance ?? BF16_CHECK_TOLERANCE) ?? this.worst(rest, Number.MAX_VALUE);
    if (!badBf16) {
      this.running = 'bf16';
      return bf16.program;
    }
    this.bf16Off = `precision bf16: the bfloat16 program failed its check against the eager float32 step (${badBf16}): running the float32 compiled step`;
    this.o.onFallback?.(this.bf16Off);
    return fp32.program;
  }

  /** A candidate's outputs on the pre-step state against what the eager step made, by output kind. */
  private measure(k: Candidate, c: Ctx, outcome: StepOutcome): Record<string, Mismatch> {
    const slots = slotsOf(c.opt);
    const vars = new Map(c.vars.map((v) => [v.name, v.variable as Tensor]));
    const [lossOut] = k.outs.filter((o) => o.role.kind === 'loss');
    const lossDiff = Math.abs(lossOut.tensor.dataSync()[0] - outcome.loss) / Math.max(Math.abs(outcome.loss), 1e-30);
    const varsWant = new Map([...byKey(k.outs, 'var').keys()].map((key) => [key, vars.get(key)!]));
    const slotsWant = new Map([...byKey(k.outs, 'slot').keys()].map((key) => [key, slots.get(key) as Tensor]));
    return {
      loss: { key: 'loss', relative: lossDiff, count: 1 },
      grad: k.grads!,
      after: k.after!,
      var: worstDifference(byKey(k.outs, 'var'), varsWant),
      slot: worstDifference(byKey(k.outs, 'slot'), slotsWant),
    };
  }

  /** The first output kind over `tol`, said in words, or null. */
  private worst(check: Record<string, Mismatch>, tol: number): string | null {
    const bad = Object.entries(check).find(([, m]) => !(m.relative <= tol));
    const bound = tol === Number.MAX_VALUE ? 'must be finite' : `tolerance ${tol}`;
    return bad ? `${bad[0]} ${bad[1].key} differs by ${bad[1].relative.toExponential(2)} relative, ${bound}` : null;
  }

  private checkLine(): string {
    const max = (m: Record<string, Mismatch> | null) => (m ? Math.max(...Object.values(m).map((x) => x.relative)).toExponential(1) : 'not checked');
    const line = `largest relative difference from the eager step ${max(this.lastCheck)}`;
    const bf = this.lastBf16Check;
    return this.running === 'bf16' && bf ? `${line}; running in bf16: loss ${bf.loss.relative.toExponential(1)}, gradients ${bf.grad.relative.toExponential(1)} of their largest` : line;
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
