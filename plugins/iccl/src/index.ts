import { ParamError, definePlugin } from '@iccl/trainer-api';
import { runTwoStage } from '@iccl/longtail';
import { IcclMethod } from './method';
import { ICCL_PARAMS, icclOnly } from './params';

export { iccLoss } from './loss';
export { CentroidBank } from './centroids';
export { IccDiagnostics, centroidShift, iccFloorSum, retrievalHits } from './diagnostics';
export { IcclMethod, type IcclOptions } from './method';
export { ICCL_PARAMS, icclOnly, type IcclParams } from './params';

/** ICCL: interpolative centroid contrastive representation learning, then cRT (two stages). */
export const plugin = definePlugin({
  name: 'iccl',
  version: '0.1.0',
  description: 'Interpolative centroid contrastive learning (stage 1) + classifier re-training (stage 2) for long-tailed classification',
  params: ICCL_PARAMS,
  train: async (p, ctx) => {
    if (p.wCe === 0 && p.wMix === 0 && p.wIcc === 0) {
      throw new ParamError('wCe, wMix, wIcc', [p.wCe, p.wMix, p.wIcc], 'at least one loss weight > 0');
    }
    return runTwoStage({
      trainer: 'iccl',
      params: p,
      methodParams: icclOnly(p),
      ctx,
      makeMethod: (net, data) =>
        new IcclMethod(net, data, { ...icclOnly(p), seed: p.seed, batchSize: p.batchSize, workers: p.workers }),
    });
  },
});
