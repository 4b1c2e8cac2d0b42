import type { Distribution } from '../study/distributions';
import { TrialState, type FrozenTrial } from '../study/trial-types';
import { fanova, type Domain } from './fanova';

/**
 * Below this many complete trials a forest fitted to (parameters -> objective) is noise: the report
 * says so instead of drawing bars (seven parameters and four points give seven near-equal bars).
 */
export const MIN_TRIALS_FOR_IMPORTANCE = 10;

export type Importances =
  | { ok: true; importance: Record<string, number>; mainEffectShare: number; trials: number }
  | { ok: false; reason: string };

/** A parameter's transformed domain and its value there (log for log-scaled, the choice's index for categoricals). */
function transform(d: Distribution): { domain: Domain; at: (v: unknown) => number } {
  if (d.kind === 'categorical')
    return {
      domain: { lo: -0.5, hi: d.choices.length - 0.5 },
      at: (v) => d.choices.findIndex((c) => c === v),
    };
  // Integers (and stepped floats) own the half-step around each value, as Optuna's transform does.
  const half = d.kind === 'int' ? d.step / 2 : d.step ? d.step / 2 : 0;
  const f = d.log ? Math.log : (x: number) => x;
  return { domain: { lo: f(d.low - half), hi: f(d.high + half) }, at: (v) => f(v as number) };
}

/**
 * fANOVA importances of objective `objective` over the complete trials, for the parameters every such
 * trial has with one same, non-constant distribution. Says why not when it cannot mean anything.
 */
export function paramImportances(
  trials: FrozenTrial[],
  objective = 0,
  minTrials = MIN_TRIALS_FOR_IMPORTANCE,
  seed = 0,
): Importances {
  const complete = trials.filter(
    (t) => t.state === TrialState.COMPLETE && t.values && Number.isFinite(t.values[objective]),
  );
  if (complete.length < minTrials) {
    return {
      ok: false,
      reason: `Parameter importance needs at least ${minTrials} complete trials; this study has ${complete.length}, too few for a model of how the objective depends on the parameters to mean anything.`,
    };
  }
  const names = Object.keys(complete[0].distributions)
    .filter((p) =>
      complete.every(
        (t) =>
          t.params[p] !== undefined &&
          JSON.stringify(t.distributions[p]) === JSON.stringify(complete[0].distributions[p]),
      ),
    )
    .filter((p) => {
      const d = complete[0].distributions[p];
      return d.kind === 'categorical' ? d.choices.length > 1 : d.high > d.low;
    })
    .sort();
  if (!names.length)
    return {
      ok: false,
      reason: 'No parameter was searched in every complete trial with one range: nothing to rank.',
    };
  const tf = names.map((p) => transform(complete[0].distributions[p]));
  const X = complete.map((t) => names.map((p, j) => tf[j].at(t.params[p])));
  const y = complete.map((t) => t.values![objective]);
  const r = fanova(
    X,
    y,
    tf.map((t) => t.domain),
    { seed },
  );
  if (!r)
    return {
      ok: false,
      reason: `The objective is the same in all ${complete.length} complete trials: no parameter explains anything.`,
    };
  return {
    ok: true,
    importance: Object.fromEntries(names.map((p, j) => [p, r.importance[j]])),
    mainEffectShare: r.mainEffectShare,
    trials: complete.length,
  };
}
