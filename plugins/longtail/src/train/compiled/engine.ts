import type { Network } from '../../models/network';
import type { SgdMomentum } from '../../models/sgd';
import type { NamedVariable } from '../../models/store';
import { tfx } from '../../models/tf';
import type { DeviceBatch, Stage1Method, StepInfo } from '../method';
import { stage1Step, type StepOutcome } from '../step';
import { cpuFlags } from '../cpu-flags';
import { bf16Unsupported, PRECISIONS, type Precision } from './bf16';
import { notCompilable } from './build';
import { CompiledStep } from './runner';

export const ENGINES = ['eager', 'compiled'] as const;
export type EngineName = (typeof ENGINES)[number];

/** A stage-1 step function with stage1Step's signature and results. */
export interface StepEngine {
  readonly name: EngineName;
  step(net: Network, method: Stage1Method, opt: SgdMomentum, vars: NamedVariable[], a: DeviceBatch, b: DeviceBatch | null, info: StepInfo, lr: number): StepOutcome;
  dispose(): void;
}

const eager: StepEngine = { name: 'eager', step: stage1Step, dispose: () => {} };

/** Why the compiled step cannot run this configuration, or null. */
export function compiledUnavailable(method: Stage1Method, o: { recompute?: boolean }): string | null {
  const backend = tfx().getBackend();
  if (backend !== 'tensorflow') return `the ${backend} backend has no libtensorflow sessions`;
  // The graph optimiser merges a recomputed forward pass with the original (common subexpressions):
  // the memory recompute saves would be lost without a word.
  if (o.recompute) return 'recompute (its savings would be undone by the graph optimiser)';
  return notCompilable(method);
}

/**
 * The precision a run asked for, or an error of one line saying why it cannot have it: bf16 runs
 * only through the compiled step (the eager step stays the float32 reference), so it is refused
 * where that step would not run, rather than quietly training in float32. `flags`: the CPU's.
 */
export function checkPrecision(
  method: Stage1Method,
  o: { engine: string; recompute?: boolean; precision?: string },
  flags: string[],
  env: NodeJS.ProcessEnv = process.env,
): Precision {
  const p = o.precision ?? 'fp32';
  if (!(PRECISIONS as readonly string[]).includes(p)) throw new Error(`precision: got "${p}", expected one of ${PRECISIONS.join(', ')}`);
  if (p === 'fp32') return p;
  if (o.engine !== 'compiled') throw new Error(`precision bf16: runs only through the compiled step, and engine is ${o.engine} (set engine compiled)`);
  // Without oneDNN, TensorFlow's own bfloat16 convolution backprops also sum in bfloat16 (measured
  // 2e-2 off where oneDNN's, summing in float32, are exact to the rounding of their output).
  const noDnn = env.TF_ENABLE_ONEDNN_OPTS === '0' ? "TF_ENABLE_ONEDNN_OPTS=0 (oneDNN's bfloat16 kernels are off)" : null;
  const why = compiledUnavailable(method, o) ?? bf16Unsupported(flags) ?? noDnn;
  if (why) throw new Error(`precision bf16: needs the compiled step in bfloat16, unavailable for ${why}`);
  return 'bf16';
}

/** Whether the backend runs on a GPU: there the compiled step is compiled by XLA as well. */
const onGpu = (): boolean => (tfx().backend() as { isUsingGpuDevice?: boolean }).isUsingGpuDevice === true;

const engines = new WeakMap<Stage1Method, StepEngine>();

/**
 * The step engine of a run of `method`, made on first use: `compiled` where the method and the
 * configuration allow it and its check against the eager step passes, otherwise eager, with one
 * line through `log` saying why. Release it with `releaseStepEngine` when the run ends.
 */
export function stepEngineFor(method: Stage1Method, o: { engine: string; recompute?: boolean; precision?: string; log?: (m: string) => void }): StepEngine {
  const known = engines.get(method);
  if (known) return known;
  const precision = checkPrecision(method, o, cpuFlags());
  let e: StepEngine = eager;
  if (o.engine === 'compiled') {
    const why = compiledUnavailable(method, o);
    if (why) o.log?.(`engine compiled: unavailable for ${why}; running the eager step`);
    else e = compiledEngine(precision, onGpu(), (m) => o.log?.(`engine compiled: ${m}`));
  } else if (o.engine !== 'eager') {
    throw new Error(`engine: got "${o.engine}", expected one of ${ENGINES.join(', ')}`);
  }
  engines.set(method, e);
  return e;
}

export function releaseStepEngine(method: Stage1Method): void {
  engines.get(method)?.dispose();
  engines.delete(method);
}

function compiledEngine(precision: Precision, xla: boolean, onFallback: (message: string) => void): StepEngine {
  const c = new CompiledStep({ precision, xla, onFallback, onTrace: onFallback });
  return { name: 'compiled', step: (...args) => c.step(...args), dispose: () => c.dispose() };
}
