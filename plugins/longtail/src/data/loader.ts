import type { Logger } from '@iccl/trainer-api';
import type { Sampler } from '../samplers/sampler';
import { rngFor } from './rng';
import { CORRUPT_SHARD } from './shard-file';
import type { ImageDataset } from './types';
import { DecodePool } from './worker-pool';

export interface Batch {
  /** n * H * W * C floats, NHWC */
  x: Float32Array;
  y: Int32Array;
  /** images in this batch (smaller than batchSize for the last batch or when images were skipped) */
  n: number;
  shape: [number, number, number];
  /** data-set indices of the n images */
  indices: Int32Array;
}

export interface LoaderOptions {
  batchSize: number;
  epoch: number;
  train: boolean;
  /** seeds the per-image augmentation: image at sampler position p of epoch e uses rng(seed, e, p) */
  seed: number;
  /** decode worker threads; 0 = decode on the main thread (sharp still runs off the JS thread). Default 0. */
  workers?: number;
  /** batches prepared ahead of the consumer (default 2); bounds memory to (prefetch + 1) batches */
  prefetch?: number;
  signal?: AbortSignal;
  /** a corrupt or missing image is an error instead of a skipped item with a warning */
  strict?: boolean;
  /** drop the last batch when it has fewer than batchSize positions */
  dropLast?: boolean;
  log?: Logger;
  /** a pool to reuse across epochs (its recipe must be this data set's); the loader then does not close it */
  pool?: DecodePool;
}

export interface LoaderStats {
  /** images skipped because they could not be read or decoded (non-strict mode) */
  skipped: number;
  loaded: number;
  batches: number;
  /** ids of the first 100 skipped images with the reason */
  skippedItems: Array<{ id: string; reason: string }>;
}

export type Loader = AsyncIterable<Batch> & { stats(): LoaderStats };

/** Thrown when a loader is stopped through its AbortSignal. */
export class LoaderAbortedError extends Error {
  constructor(reason?: unknown) {
    super(`data loader aborted${reason instanceof Error ? `: ${reason.message}` : ''}`);
    this.name = 'AbortError';
  }
}

/**
 * Streams batches of `ds` in the order of `sampler.indices(epoch)`. Batches are produced in order, up to
 * `prefetch` ahead, each image decoded (and augmented when `train`) with its own seeded generator so the
 * output is identical for any number of workers. A failed image is skipped (counted, warned) unless
 * `strict`; its batch then holds fewer images (`n`). Aborting the signal stops the work and makes the
 * iteration throw an AbortError.
 */
export function makeLoader(ds: ImageDataset, sampler: Sampler, opts: LoaderOptions): Loader {
  const { batchSize, epoch, train, seed } = opts;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new RangeError(`batchSize = ${batchSize}: expected an integer >= 1`);
  const prefetch = opts.prefetch ?? 2;
  if (!(Number.isInteger(prefetch) && prefetch >= 0)) throw new RangeError(`prefetch = ${prefetch}: expected an integer >= 0`);
  const workers = opts.workers ?? 0;
  if (!(Number.isInteger(workers) && workers >= 0)) throw new RangeError(`workers = ${workers}: expected an integer >= 0`);
  const stats: LoaderStats = { skipped: 0, loaded: 0, batches: 0, skippedItems: [] };
  const [h, w, c] = ds.shape;
  const itemSize = h * w * c;

  const iterate = async function* (): AsyncGenerator<Batch> {
    const order = sampler.indices(epoch);
    let nBatches = Math.ceil(order.length / batchSize);
    if (opts.dropLast && order.length % batchSize !== 0) nBatches--;
    const recipe = workers > 0 || opts.pool ? ds.workerRecipe?.() : undefined;
    if ((workers > 0 || opts.pool) && !recipe) opts.log?.warn(`data set has no worker recipe: decoding on the main thread`);
    const ownPool = recipe && !opts.pool ? new DecodePool(recipe, workers) : undefined;
    const pool = recipe ? (opts.pool ?? ownPool) : undefined;
    const signal = opts.signal;

    const loadBatch = async (b: number): Promise<{ x: Float32Array; errors: string[]; idx: Int32Array; pos0: number }> => {
      const pos0 = b * batchSize;
      const idx = order.subarray(pos0, Math.min(order.length, pos0 + batchSize));
      if (pool) {
        // The prefetch + 1 batches in flight keep that many workers busy with a whole batch each; only more
        // workers than that split a batch into chunks. A whole batch comes back as the worker's buffer,
        // uncopied: a split one costs the main thread a copy of every image (about 2 ms per 224 image
        // with the fresh allocation, measured), as much as decoding a prepared one.
        const chunks = Math.min(idx.length, Math.max(1, Math.ceil(pool.size / (prefetch + 1))));
        const per = Math.ceil(idx.length / chunks);
        const parts = await Promise.all(
          Array.from({ length: chunks }, (_, k) =>
            pool.run({ indices: idx.slice(k * per, (k + 1) * per), pos0: pos0 + k * per, seed, epoch, train, itemSize }),
          ),
        );
        if (chunks === 1) return { x: parts[0].x, errors: parts[0].errors, idx, pos0 };
        const x = new Float32Array(idx.length * itemSize);
        const errors: string[] = [];
        parts.forEach((p, k) => {
          x.set(p.x, k * per * itemSize);
          errors.push(...p.errors);
        });
        return { x, errors, idx, pos0 };
      }
      const x = new Float32Array(idx.length * itemSize);
      const errors = await Promise.all(
        Array.from(idx, async (i, k) => {
          try {
            const v = await ds.load(i, rngFor(seed, epoch, pos0 + k), train);
            if (v.length !== itemSize) throw new Error(`item ${i} has ${v.length} values: expected ${itemSize}`);
            x.set(v, k * itemSize);
            return '';
          } catch (e) {
            return (e as Error).message || String(e);
          }
        }),
      );
      return { x, errors, idx, pos0 };
    };

    const queue: Array<Promise<Awaited<ReturnType<typeof loadBatch>>>> = [];
    let issued = 0;
    const fill = () => {
      while (issued < nBatches && queue.length <= prefetch) {
        const p = loadBatch(issued++);
        p.catch(() => undefined); // consumed below; this only prevents an unhandled rejection if we stop early
        queue.push(p);
      }
    };
    let abortListener: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      if (!signal) return;
      abortListener = () => reject(new LoaderAbortedError(signal.reason));
      if (signal.aborted) abortListener();
      else signal.addEventListener('abort', abortListener, { once: true });
    });
    aborted.catch(() => undefined);
    try {
      for (let b = 0; b < nBatches; b++) {
        if (signal?.aborted) throw new LoaderAbortedError(signal.reason);
        fill();
        const r = await Promise.race([queue.shift() as Promise<Awaited<ReturnType<typeof loadBatch>>>, aborted]);
        let n = 0;
        for (const e of r.errors) if (!e) n++;
        let x = r.x;
        const y = new Int32Array(n);
        const kept = new Int32Array(n);
        if (n < r.idx.length) {
          x = new Float32Array(n * itemSize);
          let k = 0;
          r.errors.forEach((err, j) => {
            const id = ds.itemId(r.idx[j]);
            if (err) {
              // a corrupt prepared shard is the store's fault, not one bad image: stop and name the file
              if (opts.strict || err.includes(CORRUPT_SHARD)) throw new Error(err.includes(CORRUPT_SHARD) ? err : `image ${id} (index ${r.idx[j]}): ${err}`);
              stats.skipped++;
              if (stats.skippedItems.length < 100) stats.skippedItems.push({ id, reason: err });
              // One line per image for the first 20, then a single notice: a broken folder must not flood the log.
              if (stats.skipped <= 20) opts.log?.warn(`skipping unreadable image ${id}: ${err}`);
              if (stats.skipped === 20) opts.log?.warn('20 images skipped: further ones are counted in stats() but not logged');
              return;
            }
            x.set(r.x.subarray(j * itemSize, (j + 1) * itemSize), k * itemSize);
            kept[k++] = r.idx[j];
          });
        } else kept.set(r.idx);
        for (let k = 0; k < n; k++) y[k] = ds.labels[kept[k]];
        stats.loaded += n;
        if (n === 0) continue; // every image of this batch was skipped
        stats.batches++;
        yield { x, y, n, shape: [h, w, c], indices: kept };
      }
    } finally {
      if (abortListener) signal?.removeEventListener('abort', abortListener);
      await ownPool?.close();
    }
  };

  return {
    [Symbol.asyncIterator]: () => iterate(),
    stats: () => ({ ...stats, skippedItems: stats.skippedItems.slice() }),
  };
}
