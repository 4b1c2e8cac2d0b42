import type { Logger } from '@iccl/trainer-api';
import { FileDataset } from './file-dataset';
import { loadOriginals } from './load-dataset';
import { buildStore, checkStoreParams, DEFAULT_STORE_PARAMS, type BuildResult, type StoreParams, type StoreSplitInput } from './prepared-store';
import type { DatasetSpec } from './types';

/**
 * Builds (or completes, or repairs) the prepared store of a data set of image files: every split the data
 * set has (train, test, val as its source provides), in full (no long-tail subset: that is drawn at load).
 */
export async function prepareStoreFor(spec: DatasetSpec, o: { params?: Partial<StoreParams>; log?: Logger; recordsPerShard?: number; concurrency?: number } = {}): Promise<BuildResult & { items: number }> {
  const params = checkStoreParams({ ...DEFAULT_STORE_PARAMS, ...o.params });
  const data = await loadOriginals({ ...spec, imbalanceFactor: 1, maxPerClass: undefined, prepared: false }, { log: o.log });
  const splits: Record<string, StoreSplitInput> = {};
  let items = 0;
  for (const [key, ds] of Object.entries(data)) {
    if (!(ds instanceof FileDataset)) continue;
    splits[key] = { ids: Array.from({ length: ds.size }, (_, i) => ds.itemId(i)), paths: ds.paths, labels: ds.labels };
    items += ds.size;
  }
  if (items === 0) throw new Error(`${spec.kind}: no image files to prepare: expected a data set of image files (inat18, imagenet-lt, image-folder)`);
  const r = await buildStore(splits, { kind: spec.kind, source: data.description.source, params, cacheDir: spec.cacheDir, log: o.log, recordsPerShard: o.recordsPerShard, concurrency: o.concurrency });
  return { ...r, items };
}
