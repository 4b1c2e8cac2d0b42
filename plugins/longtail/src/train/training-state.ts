import * as path from 'node:path';
import type { Logger, ParamValue } from '@iccl/trainer-api';
import type { ShotAccuracy } from '../eval/shot-accuracy';
import type { Network } from '../models/network';
import { SgdMomentum } from '../models/sgd';
import type { NamedVariable } from '../models/store';
import { readCheckpoint, restoreVariables, saveCheckpoint, CHECKPOINT_DIR } from './checkpoint';
import { releaseStepEngine } from './compiled/engine';
import type { Stage1Method } from './method';
import type { CommonParams } from './params';
import { seedFrom } from './random';
import { STREAM } from './streams';

/** The parameters that shape what is computed: a checkpoint resumes only under the same. */
export function fingerprint(trainer: string, p: CommonParams, m: Record<string, ParamValue>): string {
  // Parameters that do not change what is computed may differ between the run and its resumption
  // (recompute: the same gradients, only the memory differs, so a run may resume with it switched on).
  const { workers: _w, device: _d, evalEvery: _e, recompute: _r, ...rest } = p;
  return JSON.stringify({ trainer, ...rest, ...m });
}

/**
 * Where a trial stands (stage, next epoch, optimiser, latest validation) and the one place that saves
 * it to the checkpoint and restores it from there.
 */
export class TrainingState {
  opt: SgdMomentum;
  stage: 1 | 2 = 1;
  startEpoch = 0;
  lastEval: Record<string, number> | null = null;
  lastAcc: ShotAccuracy | null = null;
  readonly ckptDir: string;

  constructor(
    private readonly net: Network,
    private readonly method: Stage1Method,
    private readonly p: CommonParams,
    private readonly workDir: string,
    private readonly fp: string,
  ) {
    this.opt = new SgdMomentum(p.momentum, p.weightDecay);
    this.ckptDir = path.join(workDir, CHECKPOINT_DIR);
  }

  /** Every checkpointed variable: the network's, then the method's. */
  allVars(): NamedVariable[] {
    return [...this.net.store.list(), ...(this.method.store?.list() ?? [])];
  }

  /** Continues from the checkpoint in workDir when there is one (written with the same parameters). */
  async resume(log: Logger): Promise<void> {
    const ckpt = await readCheckpoint(this.workDir);
    if (!ckpt) return;
    try {
      if (ckpt.meta.fingerprint !== this.fp) {
        throw new Error(
          `${this.ckptDir}: checkpoint was written with other parameters; remove it or use another workDir to start afresh (saved: ${ckpt.meta.fingerprint}; now: ${this.fp})`,
        );
      }
      restoreVariables(this.allVars(), ckpt.tensors, this.ckptDir);
      this.opt.load(ckpt.tensors);
      this.method.loadState?.(ckpt.meta.methodState);
      this.stage = ckpt.meta.stage;
      this.startEpoch = ckpt.meta.epochsDone;
      this.lastEval = ckpt.meta.lastEval;
      log.info(`resuming from ${this.ckptDir}: stage ${this.stage}, epoch ${this.startEpoch}`);
    } finally {
      for (const t of ckpt.tensors.values()) t.dispose();
    }
  }

  /** Saves `epochsDone` epochs of `stage` (what a resume starts from). */
  async checkpoint(stage: 1 | 2, epochsDone: number): Promise<void> {
    await saveCheckpoint(this.workDir, this.allVars(), this.opt.state(), {
      version: 1,
      fingerprint: this.fp,
      methodState: this.method.state?.() ?? {},
      lastEval: this.lastEval,
      stage,
      epochsDone,
    });
  }

  /** Entering stage 2: new classifier, new optimiser; checkpointed so that a resume sees stage 2. */
  async enterCrt(): Promise<void> {
    this.net.classifier.reset(seedFrom(this.p.seed, STREAM.crtInit));
    this.opt.clear();
    this.opt = new SgdMomentum(this.p.momentum, this.p.weightDecay);
    this.stage = 2;
    this.startEpoch = 0;
    await this.checkpoint(2, 0);
  }

  dispose(): void {
    releaseStepEngine(this.method);
    this.opt.clear();
    this.method.dispose();
    this.net.dispose();
  }
}
