import type { Network } from '../../models/network';
import type { SgdMomentum } from '../../models/sgd';
import type { NamedVariable } from '../../models/store';
import { tfx } from '../../models/tf';
import type { DeviceBatch, Stage1Method, StepInfo } from '../method';
import { stage1Step, type StepOutcome } from '../step';
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
  if ((tfx().backend() as { isUsingGpuDevice?: boolean }).isUsingGpuDevice) return 'the GPU yet (built and checked on the CPU only)';
  // The graph optimiser merges a recomputed forward pass with the original (common subexpressions):
  // the memory recompute saves would be lost without a word.
  if (o.recompute) return 'recompute (its savings would be undone by the graph optimiser)';
  return notCompilable(method);
}

const engines = new WeakMap<Stage1Method, StepEngine>();

/**
 * The step engine of a run of `method`, made on first use: `compiled` where the method and the
 * configuration allow it and its check against the eager step passes, otherwise eager, with one
 * line through `log` saying why. Release it with `releaseStepEngine` when the run ends.
 */
export function stepEngineFor(method: Stage1Method, o: { engine: string; recompute?: boolean; log?: (m: string) => void }): StepEngine {
  const known = engines.get(method);
  if (known) return known;
  let e: StepEngine = eager;
  if (o.engine === 'compiled') {
    const why = compiledUnavailable(method, o);
    if (why) o.log?.(`engine compiled: unavailable for ${why}; running the eager step`);
    else e = compiledEngine((m) => o.log?.(`engine compiled: ${m}`));
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

function compiledEngine(onFallback: (message: string) => void): StepEngine {
  const c = new CompiledStep({ onFallback, onTrace: onFallback });
  return { name: 'compiled', step: (...args) => c.step(...args), dispose: () => c.dispose() };
}
