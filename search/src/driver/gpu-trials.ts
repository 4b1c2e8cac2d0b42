/**
 * What the driver does around each trial when the study runs on GPUs: wait for a free slot, give
 * the trial process its GPU (and its share of the decode threads), record the GPU on the trial and
 * its run, name the GPU when the trial died of a CUDA error, and take the slot back however it ended.
 */
import type { ChildProcess } from 'node:child_process';
import type { Storage } from '../storages/base';
import { cudaFailReason, findCudaError } from './gpu-errors';
import { GpuPool, gpuTags, trialGpuEnv, type GpuLease, type GpuPlan } from './gpu-slots';
import type { TrialOutcome } from './trial-process';

/** Trial system attributes (visible in Optuna and optuna-dashboard as well). */
export const GPU_ATTR = { gpu: 'gpu', cudaError: 'cuda_error' } as const;

/** The environment variable the trainers read for their number of image-decoding threads. */
export const DECODE_WORKERS_ENV = 'ICCL_DECODE_WORKERS';

export class GpuTrials {
  private readonly pool: GpuPool;

  constructor(readonly plan: GpuPlan) {
    this.pool = new GpuPool(plan.gpus, plan.trialsPerGpu);
  }

  /** Trials on each GPU now, in the plan's order. */
  get busy(): readonly number[] {
    return this.pool.busy;
  }

  /** Waits for a GPU and records it on the trial. */
  async lease(storage: Storage, trialId: number): Promise<GpuLease> {
    const lease = await this.pool.acquire();
    try {
      await storage.setTrialSystemAttr(trialId, GPU_ATTR.gpu, { ...lease.gpu });
    } catch (e) {
      lease.release();
      throw e;
    }
    return lease;
  }

  /**
   * Gives the GPU back once the trial's process has exited (a result arrives just before the exit,
   * and the card is not free until then); a process still there `graceMs` after its result is killed.
   */
  async releaseWhenGone(child: ChildProcess, lease: GpuLease, graceMs: number): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(killer);
    }
    lease.release();
  }

  env(lease: GpuLease): Record<string, string> {
    return { ...trialGpuEnv(lease.gpu), [DECODE_WORKERS_ENV]: String(this.plan.decodeWorkers) };
  }

  tags(lease: GpuLease): Record<string, string> {
    return gpuTags(lease.gpu);
  }

  /**
   * The outcome with the GPU named in its reason when the trial failed of a CUDA error (in its error
   * message) or crashed of one (in the tail of its stderr, a dead process's only words: a thrown error
   * is judged by its message alone, not by warnings printed before it); the error line goes into the
   * trial's attributes.
   */
  async noteCudaFailure(storage: Storage, trialId: number, outcome: TrialOutcome, stderrTail: string, lease: GpuLease): Promise<TrialOutcome> {
    const failedMsg = outcome.kind === 'failed' && outcome.msg?.type === 'failed' ? outcome.msg : null;
    const reason = failedMsg ? failedMsg.reason : outcome.kind === 'crashed' ? (outcome.reason ?? 'lost') : null;
    if (reason === null) return outcome;
    const tail = failedMsg ? '' : stderrTail;
    const amended = cudaFailReason(reason, tail, lease.gpu);
    if (!amended) return outcome;
    await storage.setTrialSystemAttr(trialId, GPU_ATTR.cudaError, findCudaError(reason) ?? findCudaError(tail) ?? amended);
    return failedMsg ? { ...outcome, msg: { ...failedMsg, reason: amended } } : { ...outcome, reason: amended };
  }
}
