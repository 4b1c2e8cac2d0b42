import { Worker } from 'node:worker_threads';
import { loadedTf } from '@iccl/tf-backend';
import type { DecodeJob, DecodeResult } from './decode-worker';
import { nativeJpegSwitchedOff } from './tf-jpeg';
import type { WorkerRecipe } from './types';

/**
 * The device a decode worker loads TensorFlow for, so that it decodes JPEGs with libtensorflow as the main
 * thread would (tf-jpeg.ts): only for imagenet-style JPEG files or JPEG store records (raw records need no
 * TensorFlow: raw-transform.ts) and when this thread runs the native CPU package. With tfjs-node-gpu the
 * workers keep sharp: a context per worker on the GPU build is untested (and would initialise the GPU in
 * every worker).
 */
export function workerTfDevice(recipe: WorkerRecipe): string | undefined {
  if (recipe.kind === 'memory' || (recipe.kind === 'store' && recipe.format === 'raw') || recipe.transform.style !== 'imagenet' || nativeJpegSwitchedOff()) return undefined;
  const l = loadedTf();
  return l && l.info.backend === 'tensorflow' && l.info.package === '@tensorflow/tfjs-node' ? 'cpu' : undefined;
}

/**
 * Worker threads that decode items. Workers are plain Node: when this package runs from TypeScript sources
 * (jest, tsx) the worker first registers tsx's CommonJS hook, then requires decode-worker.ts; from compiled
 * JavaScript it requires decode-worker.js directly.
 */
export class DecodePool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly waiting: Array<(w: Worker) => void> = [];
  private readonly pending = new Map<number, { resolve: (r: DecodeResult) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private closed = false;
  private failure: Error | null = null;

  constructor(recipe: WorkerRecipe, size: number) {
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`workers = ${size}: expected an integer >= 1`);
    const fromTs = __filename.endsWith('.ts');
    const modulePath = __filename.replace(/worker-pool\.(ts|js)$/, `decode-worker.$1`);
    const tsxApi = fromTs ? require.resolve('tsx/cjs/api') : '';
    const boot = [
      `if (${JSON.stringify(tsxApi)}) require(${JSON.stringify(tsxApi)}).register();`,
      `require(${JSON.stringify(modulePath)}).runDecodeWorker();`,
    ].join('\n');
    const tfDevice = workerTfDevice(recipe);
    for (let k = 0; k < size; k++) {
      const w = new Worker(boot, { eval: true, workerData: { recipe, tfDevice } });
      w.on('message', (r: DecodeResult) => {
        const p = this.pending.get(r.id);
        this.pending.delete(r.id);
        this.release(w);
        p?.resolve(r);
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (!this.closed && code !== 0) this.fail(new Error(`decode worker exited with code ${code}`));
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private release(w: Worker): void {
    const next = this.waiting.shift();
    if (next) next(w);
    else this.idle.push(w);
  }

  private acquire(): Promise<Worker> {
    const w = this.idle.pop();
    if (w) return Promise.resolve(w);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async run(job: Omit<DecodeJob, 'id'>): Promise<DecodeResult> {
    if (this.closed) throw new Error('decode pool is closed');
    if (this.failure) throw this.failure;
    const w = await this.acquire();
    if (this.failure) throw this.failure;
    const id = this.nextId++;
    return new Promise<DecodeResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ ...job, id });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new Error('decode pool closed'));
    this.pending.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
