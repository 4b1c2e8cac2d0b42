import { parentPort, workerData } from 'node:worker_threads';
import { loadTf } from '@iccl/tf-backend';
import sharp from 'sharp';
import { itemLoaderFromRecipe } from './item-loader';
import { rngFor } from './rng';
import type { WorkerRecipe } from './types';

/** A job: decode the items at `indices` (sampler positions `pos0..`) with per-position seeds. */
export interface DecodeJob {
  id: number;
  indices: Int32Array;
  pos0: number;
  seed: number;
  epoch: number;
  train: boolean;
  itemSize: number;
}

export interface DecodeResult {
  id: number;
  /** indices.length * itemSize floats; rows of failed items are left zero */
  x: Float32Array;
  /** per item: '' when loaded, else the error message */
  errors: string[];
}

/**
 * Body of a decode worker thread. Each worker decodes with one libvips thread: parallelism comes from
 * the number of workers, not from libvips threads competing for the same cores.
 */
export function runDecodeWorker(): void {
  const port = parentPort;
  if (!port) throw new Error('runDecodeWorker must run inside a worker thread');
  sharp.concurrency(1);
  const data = workerData as { recipe: WorkerRecipe; tfDevice?: string };
  if (data.tfDevice) {
    // JPEGs then decode through libtensorflow in this thread (tf-jpeg.ts); without it, sharp does it all
    try {
      loadTf(data.tfDevice);
    } catch {
      /* sharp decodes everything */
    }
  }
  const load = itemLoaderFromRecipe(data.recipe);
  port.on('message', async (job: DecodeJob) => {
    const x = new Float32Array(job.indices.length * job.itemSize);
    const errors: string[] = [];
    await Promise.all(
      Array.from(job.indices, async (idx, k) => {
        try {
          const row = x.subarray(k * job.itemSize, (k + 1) * job.itemSize);
          const v = await load(idx, rngFor(job.seed, job.epoch, job.pos0 + k), job.train, row);
          if (v.length !== job.itemSize) throw new Error(`item ${idx} has ${v.length} values: expected ${job.itemSize}`);
          if (v !== row) x.set(v, k * job.itemSize);
          errors[k] = '';
        } catch (e) {
          errors[k] = (e as Error).message || String(e);
        }
      }),
    );
    const res: DecodeResult = { id: job.id, x, errors };
    port.postMessage(res, [x.buffer]);
  });
}
