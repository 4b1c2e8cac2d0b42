import type { Retrying } from './backoff';
import { MlflowApiError, isUnreachable } from './errors';
import { deleteTwins, openRun } from './run-open';
import type { RunOptions } from './run-options';

/** The run's identity and server callbacks as the tracker has them, plus how to retry and whether it may exist. */
export type RunOpenerOptions = Pick<RunOptions, 'client' | 'header' | 'experimentId' | 'resolveParent' | 'ready' | 'logger'> & {
  retrying: Retrying;
  /** The run may exist already under its key (resumed by key): look it up before creating it. */
  mayExist: boolean;
};

export type OpenResult =
  | { kind: 'opened'; runId: string; artifactUri: string | undefined }
  /** Older operations or the parent are not on the server yet. */
  | { kind: 'waiting' }
  | { kind: 'unreachable' }
  /** Credentials, permissions, a bad experiment...: the message says which. */
  | { kind: 'refused'; message: string };

/**
 * Puts a live run on the server exactly once. A create request whose answer was lost may have
 * landed: every later attempt looks the run up by key first, and once the run is ended and all
 * sent, twins made by a create that landed even later are deleted.
 */
export class RunOpener {
  private mayExist: boolean;
  private twinCheck: 'no' | 'due' | 'done' = 'no';

  constructor(private readonly o: RunOpenerOptions) {
    this.mayExist = o.mayExist;
  }

  /** A create may have landed unanswered and twins were not looked for yet. */
  get twinsDue(): boolean {
    return this.twinCheck === 'due';
  }

  /** Older operations and the parent are on the server: this run may be created or logged to. */
  async mayGo(): Promise<boolean> {
    if (this.o.ready && !this.o.ready()) return false;
    return (await this.parentRunId()).ok;
  }

  async open(): Promise<OpenResult> {
    const h = this.o.header;
    const c = this.o.client;
    try {
      if (this.o.ready && !this.o.ready()) return { kind: 'waiting' };
      const parent = await this.parentRunId();
      if (!parent.ok) return { kind: 'waiting' };
      const experimentId = await this.o.experimentId();
      const mayExist = this.mayExist;
      this.mayExist = true;
      const { run, created } = await openRun(c, h, { experimentId, parentRunId: parent.id, mayExist, retrying: this.o.retrying });
      if (h.resumeRunId && !created) await this.o.retrying(() => c.updateRun({ runId: run.info.run_id, status: 'RUNNING' }));
      if (h.resumeRunId && created) this.o.logger.warn(`mlflow: resumeRunId ${h.resumeRunId}: no such run at ${c.trackingUri}; logging to a new run ${run.info.run_id}`);
      return { kind: 'opened', runId: run.info.run_id, artifactUri: run.info.artifact_uri };
    } catch (e) {
      if (e instanceof MlflowApiError && e.retryable) {
        if (!h.resumeRunId) this.twinCheck = 'due';
        return { kind: 'unreachable' };
      }
      return { kind: 'refused', message: e instanceof MlflowApiError ? e.message : c.redact((e as Error).message) };
    }
  }

  /** Deletes twins of `keepId`; 'unreachable' when the server went away meanwhile (try again later). */
  async removeTwins(keepId: string): Promise<'done' | 'unreachable'> {
    try {
      const n = await deleteTwins(this.o.client, await this.o.experimentId(), this.o.header.key, keepId, this.o.retrying);
      if (n) this.o.logger.info(`mlflow: deleted ${n} empty twin run(s) of ${keepId} (a create request that landed after its answer was lost)`);
      this.twinCheck = 'done';
      return 'done';
    } catch (e) {
      if (isUnreachable(e)) return 'unreachable';
      this.twinCheck = 'done'; // refused: nothing more to do than what the server allows
      return 'done';
    }
  }

  private async parentRunId(): Promise<{ ok: boolean; id?: string }> {
    const h = this.o.header;
    if (!h.parentKey) return { ok: true, id: h.parentRunId };
    const id = await this.o.resolveParent?.();
    return { ok: id !== undefined, id };
  }
}
