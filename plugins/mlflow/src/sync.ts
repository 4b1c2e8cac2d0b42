import * as path from 'node:path';
import { silentLogger, type Logger } from '@iccl/trainer-api';
import type { MlflowClient } from './client';
import { DEFAULT_RETRY, retryingWith, type Retrying, type RetryPolicy } from './backoff';
import { splitBatches, type Batch } from './limits';
import { loadPoint, readRecords, type JournalRecord } from './records';
import { deleteTwins, findRunByKey, openRun, type RunRecord } from './run-open';
import { apply, type RunTarget } from './sender';
import type { Op } from './op-queue';

export interface SyncOptions {
  client: MlflowClient;
  /** Put every run in this experiment instead of the one recorded. */
  experimentName?: string;
  logger?: Logger;
  retry?: RetryPolicy;
  /** Told after each record that reached the server (a caller waiting on a long replay sees it move). */
  onApplied?: () => void;
}

export interface SyncResult {
  runsCreated: number;
  runsFound: number;
  applied: number;
  /** Records already applied by an earlier sync of the same file. */
  skipped: number;
  /** Items the server refused for themselves (a bad value; never a network error), each warned about. */
  failed: number;
  /** Client-side run key -> server run id. */
  runIds: Record<string, string>;
}

interface Target extends RunTarget {
  /** Found or created by key: a twin from a create whose answer was lost may exist. */
  byKey: boolean;
  experimentId: string;
  /** Last line of this file already on the server (tag iccl.sync.<file id>): the replay's cursor. */
  cursor: number;
  last: number;
}

/**
 * Replays an offline journal or an outage spool into a tracking server, in order. Idempotent:
 * runs are found again by their client-side key (tag `iccl.run_key`) and each run remembers,
 * in the tag `iccl.sync.<file id>`, the last line of this file it has received, so a second
 * replay creates nothing and sends nothing twice (a batch sent again after a lost answer holds
 * the same points, which MLflow's store keeps once). An item the server refuses for itself is
 * warned about and counted; an unreachable server throws (run it again later).
 */
export async function sync(file: string, opts: SyncOptions): Promise<SyncResult> {
  const recs = readRecords(file);
  const head = recs[0]?.record;
  if (!head || head.op !== 'header') {
    throw new Error(`${file}:1: expected a header record ({"op":"header",...}) first; is this an ICCL MLflow journal or spool?`);
  }
  const replay = new Replay(file, head.id, opts);
  for (const { line, record } of recs) await replay.record(line, record);
  return replay.finish();
}

/** Consecutive batch records of one run, merged into as few log-batch calls as the limits allow. */
interface Merged {
  key: string;
  batch: Batch;
  first: number;
  last: number;
}

/** One replay of one file: the runs it opened, their cursors, the batch being merged. */
class Replay {
  private readonly log: Logger;
  private readonly retrying: Retrying;
  private readonly cursorTag: string;
  private readonly baseDir: string;
  private readonly res: SyncResult = { runsCreated: 0, runsFound: 0, applied: 0, skipped: 0, failed: 0, runIds: {} };
  private readonly targets = new Map<string, Target>();
  private readonly experiments = new Map<string, string>();
  private merged: Merged | undefined;

  constructor(
    private readonly file: string,
    fileId: string,
    private readonly o: SyncOptions,
  ) {
    this.log = o.logger ?? silentLogger;
    this.retrying = retryingWith(o.retry ?? DEFAULT_RETRY);
    this.cursorTag = `iccl.sync.${fileId}`;
    this.baseDir = path.dirname(path.resolve(file));
  }

  async record(line: number, record: JournalRecord): Promise<void> {
    if (record.op === 'header') return;
    if (record.op === 'run') {
      await this.flushMerged();
      return this.open(line, record);
    }
    const t = this.targets.get(record.key);
    if (!t) throw new Error(`${this.file}:${line}: ${record.op} for run key ${record.key}, which no earlier 'run' record opens`);
    if (line <= t.cursor) {
      this.res.skipped++;
      return;
    }
    this.res.applied++;
    if (record.op === 'batch') return this.merge(line, record);
    await this.flushMerged();
    await this.send(line, t, record.op === 'artifact' ? { ...record, file: path.resolve(this.baseDir, record.file) } : record);
    t.last = line;
    if (record.op === 'end') await this.saveCursor(t);
    this.o.onApplied?.();
  }

  async finish(): Promise<SyncResult> {
    await this.flushMerged();
    for (const t of this.targets.values()) await this.saveCursor(t);
    for (const [key, t] of this.targets) {
      if (!t.byKey) continue;
      const n = await deleteTwins(this.o.client, t.experimentId, key, t.runId, this.retrying);
      if (n) this.log.info(`mlflow sync ${this.file}: deleted ${n} empty twin run(s) of ${t.runId} (a create request that landed after its answer was lost)`);
    }
    const r = this.res;
    this.log.info(`mlflow sync ${this.file}: ${r.runsCreated} runs created, ${r.runsFound} found, ${r.applied} records applied, ${r.skipped} already there${r.failed ? `, ${r.failed} refused` : ''}`);
    return r;
  }

  private async open(line: number, r: RunRecord): Promise<void> {
    if (this.targets.has(r.key)) return;
    const expId = await this.experimentId(r.experiment);
    const record = { ...r, tags: { ...r.tags, 'iccl.synced_from': path.basename(this.file) } };
    const { run, created } = await openRun(this.o.client, record, { experimentId: expId, parentRunId: await this.parentOf(line, r, expId), mayExist: true, retrying: this.retrying });
    if (created) this.res.runsCreated++;
    else this.res.runsFound++;
    const cursor = Number(run.data.tags.find((t) => t.key === this.cursorTag)?.value ?? 0) || 0;
    this.targets.set(r.key, { runId: run.info.run_id, byKey: !r.resumeRunId, experimentId: expId, artifactUri: run.info.artifact_uri, cursor, last: cursor });
    this.res.runIds[r.key] = run.info.run_id;
  }

  private async experimentId(name: string): Promise<string> {
    const n = this.o.experimentName ?? name;
    if (!this.experiments.has(n)) this.experiments.set(n, await this.retrying(() => this.o.client.getOrCreateExperiment(n)));
    return this.experiments.get(n)!;
  }

  private async parentOf(line: number, r: RunRecord, expId: string): Promise<string | undefined> {
    if (!r.parentKey) return r.parentRunId;
    const known = this.targets.get(r.parentKey)?.runId ?? (await findRunByKey(this.o.client, expId, r.parentKey, this.retrying))?.info.run_id;
    if (!known) this.log.warn(`mlflow sync ${this.file}:${line}: run ${JSON.stringify(r.name)} names parent key ${r.parentKey}, which is neither in this file nor on the server; created without a parent`);
    return known;
  }

  private async merge(line: number, record: Extract<JournalRecord, { op: 'batch' }>): Promise<void> {
    if (this.merged && this.merged.key !== record.key) await this.flushMerged();
    const m = (this.merged ??= { key: record.key, batch: { metrics: [], params: [], tags: [] }, first: line, last: line });
    m.batch.metrics.push(...record.metrics.map(loadPoint));
    m.batch.params.push(...record.params);
    m.batch.tags.push(...record.tags);
    m.last = line;
  }

  private async flushMerged(): Promise<void> {
    const m = this.merged;
    if (!m) return;
    const t = this.targets.get(m.key)!;
    for (const b of splitBatches(m.batch)) await this.send(m.first, t, { op: 'batch', key: m.key, ...b });
    t.last = m.last;
    this.merged = undefined;
    await this.saveCursor(t);
    this.o.onApplied?.();
  }

  /** Refusals are warned about and counted; an unreachable server ends the replay (run it again later). */
  private async send(line: number, t: Target, op: Op): Promise<void> {
    const r = await apply(this.o.client, t, op, { retry: this.o.retry ?? DEFAULT_RETRY });
    for (const m of r.refused) {
      this.res.failed++;
      this.log.warn(`mlflow sync ${this.file}:${line}: refused: ${m}`);
    }
    if (r.unreachable) throw r.unreachable;
  }

  private async saveCursor(t: Target): Promise<void> {
    if (t.last <= t.cursor) return;
    await this.retrying(() => this.o.client.setTag(t.runId, this.cursorTag, String(t.last)));
    t.cursor = t.last;
  }
}
