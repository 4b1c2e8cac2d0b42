import { COMMON_PARAMS, runTwoStage } from '@iccl/longtail';
import { definePlugin, type ParamSchema, type TrainerPlugin } from '@iccl/trainer-api';
import { CrossEntropyMethod } from './ce';
import { MixupMethod } from './mixup';

export { CrossEntropyMethod } from './ce';
export { MixupMethod } from './mixup';

export const CE_PARAMS = { ...COMMON_PARAMS } satisfies ParamSchema;

export const CRT_PARAMS = {
  ...COMMON_PARAMS,
  crtEpochs: { ...COMMON_PARAMS.crtEpochs, default: 10, description: 'stage-2 cRT epochs (frozen backbone, new classifier, class-balanced sampler, cosine)' },
} satisfies ParamSchema;

export const MIXUP_PARAMS = {
  ...COMMON_PARAMS,
  alpha: { type: 'float', default: 1, min: 0, description: 'mixup alpha: lam ~ Beta(alpha, alpha); 0 disables mixing' },
  lambdaPerBatch: { type: 'bool', default: true, description: 'one lam per batch (the original mixup) instead of one per sample' },
} satisfies ParamSchema;

/** Cross-entropy, instance-balanced sampling, one stage (crtEpochs 0 by default). */
export const ce = definePlugin({
  name: 'ce',
  version: '0.1.0',
  description: 'Cross-entropy baseline with instance-balanced sampling',
  params: CE_PARAMS,
  train: (p, ctx) => runTwoStage({ trainer: 'ce', params: p, methodParams: {}, ctx, makeMethod: () => new CrossEntropyMethod() }),
});

/** Cross-entropy representation, then classifier re-training (Kang et al.'s cRT). */
export const crt = definePlugin({
  name: 'crt',
  version: '0.1.0',
  description: 'Cross-entropy stage 1 + cRT stage 2 (Kang et al., ICLR 2020)',
  params: CRT_PARAMS,
  train: (p, ctx) => runTwoStage({ trainer: 'crt', params: p, methodParams: {}, ctx, makeMethod: () => new CrossEntropyMethod() }),
});

/** mixup cross-entropy, instance-balanced sampling (crtEpochs 0 by default, > 0 adds cRT). */
export const mixup = definePlugin({
  name: 'mixup',
  version: '0.1.0',
  description: 'mixup cross-entropy baseline (Zhang et al., ICLR 2018)',
  params: MIXUP_PARAMS,
  train: (p, ctx) =>
    runTwoStage({
      trainer: 'mixup',
      params: p,
      methodParams: { alpha: p.alpha, lambdaPerBatch: p.lambdaPerBatch },
      ctx,
      makeMethod: () => new MixupMethod({ alpha: p.alpha, lambdaPerBatch: p.lambdaPerBatch }),
    }),
});

export const BASELINE_PARAMS = {
  method: { type: 'categorical', default: 'ce', choices: ['ce', 'crt', 'mixup'], description: 'which baseline: cross-entropy, cross-entropy + cRT, or mixup' },
  ...COMMON_PARAMS,
  crtEpochs: { ...COMMON_PARAMS.crtEpochs, default: 10, description: 'stage-2 cRT epochs, used by method "crt" only (ce and mixup are one-stage here)' },
  alpha: { ...MIXUP_PARAMS.alpha, description: 'method "mixup" only: lam ~ Beta(alpha, alpha)' },
  lambdaPerBatch: { ...MIXUP_PARAMS.lambdaPerBatch, description: 'method "mixup" only: one lam per batch (the original mixup) instead of one per sample' },
} satisfies ParamSchema;

/**
 * All three baselines behind one plugin with a `method` parameter (what a search space that treats
 * the method as one more searched choice loads). Runs exactly what `ce`, `crt` or `mixup` runs;
 * ce and mixup ignore crtEpochs (logged as 0).
 */
export const plugin = definePlugin({
  name: 'baselines',
  version: '0.1.0',
  description: 'Cross-entropy, cRT or mixup, chosen by the "method" parameter',
  params: BASELINE_PARAMS,
  train: (p, ctx) => {
    const { method, alpha, lambdaPerBatch, ...common } = p;
    if (method === 'crt') return runTwoStage({ trainer: 'crt', params: common, methodParams: { method }, ctx, makeMethod: () => new CrossEntropyMethod() });
    const oneStage = { ...common, crtEpochs: 0 };
    if (method === 'mixup') {
      return runTwoStage({ trainer: 'mixup', params: oneStage, methodParams: { method, alpha, lambdaPerBatch }, ctx, makeMethod: () => new MixupMethod({ alpha, lambdaPerBatch }) });
    }
    return runTwoStage({ trainer: 'ce', params: oneStage, methodParams: { method }, ctx, makeMethod: () => new CrossEntropyMethod() });
  },
});

/** The three baselines by name. */
export const plugins: { ce: TrainerPlugin<typeof CE_PARAMS>; crt: TrainerPlugin<typeof CRT_PARAMS>; mixup: TrainerPlugin<typeof MIXUP_PARAMS> } = { ce, crt, mixup };
