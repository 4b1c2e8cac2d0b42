import * as path from 'node:path';
import { silentLogger, type Logger } from '@iccl/trainer-api';
import type { MlflowClient } from './client';
import { MlflowApiError } from './errors';
import { backoffMs, DEFAULT_RETRY, sleep, type RetryPolicy } from './backoff';
import { splitBatches, type Batch } from './limits';
import { loadPoint, readRecords, type JournalRecord } from './records';
import { deleteTwins, findRunByKey, openRun, type Retrying } from './run-open';

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

interface Target {
  runId: string;
  /** Found or created by key: a twin from a create whose answer was lost may exist. */
  byKey: boolean;
  experimentId: string;
  artifactUri: string | undefined;
  /** Last line of this file already on the server (tag iccl.sync.<file id>). */
  cursor: number;
  last: number;
}

/** Retries transient MLflow errors with backoff; anything else is the caller's to see. */
export function retryingWith(p: RetryPolicy): Retrying {
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof MlflowApiError) || !e.retryable || attempt + 1 >= p.attempts) throw e;
        await sleep(backoffMs(attempt, p));
      }
    }
  };
}

/** The server is gone (or overloaded): the replay stops here and may be run again later. */
export function isUnreachable(e: unknown): boolean {
  return e instanceof MlflowApiError && [0, 429, 502, 503, 504].includes(e.status);
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
  const { client } = opts;
  const log = opts.logger ?? silentLogger;
  const retrying = retryingWith(opts.retry ?? DEFAULT_RETRY);
  const recs = readRecords(file);
  const head = recs[0]?.record;
  if (!head || head.op !== 'header') {
    throw new Error(`${file}:1: expected a header record ({"op":"header",...}) first; is this an ICCL MLflow journal or spool?`);
  }
  const cursorTag = `iccl.sync.${head.id}`;
  const baseDir = path.dirname(path.resolve(file));
  const res: SyncResult = { runsCreated: 0, runsFound: 0, applied: 0, skipped: 0, failed: 0, runIds: {} };
  const targets = new Map<string, Target>();
  const experiments = new Map<string, string>();

  const refused = (line: number, what: string, e: unknown): void => {
    if (!(e instanceof MlflowApiError) || isUnreachable(e)) throw e;
    res.failed++;
    log.warn(`mlflow sync ${file}:${line}: ${what} refused: ${e.message}`);
  };

  const experimentId = async (name: string) => {
    const n = opts.experimentName ?? name;
    if (!experiments.has(n)) experiments.set(n, await retrying(() => client.getOrCreateExperiment(n)));
    return experiments.get(n)!;
  };

  const parentOf = async (line: number, r: Extract<JournalRecord, { op: 'run' }>, expId: string): Promise<string | undefined> => {
    if (!r.parentKey) return r.parentRunId;
    const known = targets.get(r.parentKey)?.runId ?? (await findRunByKey(client, expId, r.parentKey, retrying))?.info.run_id;
    if (!known) log.warn(`mlflow sync ${file}:${line}: run ${JSON.stringify(r.name)} names parent key ${r.parentKey}, which is neither in this file nor on the server; created without a parent`);
    return known;
  };

  const open = async (line: number, r: Extract<JournalRecord, { op: 'run' }>): Promise<void> => {
    if (targets.has(r.key)) return;
    const expId = await experimentId(r.experiment);
    const { run, created } = await openRun(client, { ...r, tags: { ...r.tags, 'iccl.synced_from': path.basename(file) } }, { experimentId: expId, parentRunId: await parentOf(line, r, expId), mayExist: true, retrying });
    if (created) res.runsCreated++;
    else res.runsFound++;
    const cursor = Number(run.data.tags.find((t) => t.key === cursorTag)?.value ?? 0) || 0;
    targets.set(r.key, { runId: run.info.run_id, byKey: !r.resumeRunId, experimentId: expId, artifactUri: run.info.artifact_uri, cursor, last: cursor });
    res.runIds[r.key] = run.info.run_id;
  };

  // Consecutive batch records of one run are merged into as few log-batch calls as the limits allow.
  let merged: { key: string; batch: Batch; first: number; last: number } | undefined;
  const saveCursor = async (t: Target) => {
    if (t.last > t.cursor) {
      await retrying(() => client.setTag(t.runId, cursorTag, String(t.last)));
      t.cursor = t.last;
    }
  };
  const sendBatch = async (line: number, runId: string, b: Batch): Promise<void> => {
    try {
      await retrying(() => client.logBatch(runId, b));
    } catch (e) {
      const n = b.metrics.length + b.params.length + b.tags.length;
      if (n <= 1 || isUnreachable(e) || !(e instanceof MlflowApiError)) return refused(line, 'log-batch', e);
      // Refused as a whole: split to keep the good items (a param logged before with another value, ...).
      const half = Math.ceil(b.metrics.length / 2);
      const parts: Batch[] = [
        ...b.params.map((x) => ({ metrics: [], params: [x], tags: [] })),
        ...b.tags.map((x) => ({ metrics: [], params: [], tags: [x] })),
        { metrics: b.metrics.slice(0, half), params: [], tags: [] },
        { metrics: b.metrics.slice(half), params: [], tags: [] },
      ].filter((p) => p.metrics.length + p.params.length + p.tags.length > 0);
      for (const p of parts) await sendBatch(line, runId, p);
    }
  };
  const flushMerged = async () => {
    if (!merged) return;
    const t = targets.get(merged.key)!;
    for (const b of splitBatches(merged.batch)) await sendBatch(merged.first, t.runId, b);
    t.last = merged.last;
    merged = undefined;
    await saveCursor(t);
    opts.onApplied?.();
  };

  for (const { line, record } of recs) {
    if (record.op === 'header') continue;
    if (record.op === 'run') {
      await flushMerged();
      await open(line, record);
      continue;
    }
    const t = targets.get(record.key);
    if (!t) throw new Error(`${file}:${line}: ${record.op} for run key ${record.key}, which no earlier 'run' record opens`);
    if (line <= t.cursor) {
      res.skipped++;
      continue;
    }
    res.applied++;
    if (record.op === 'batch') {
      if (merged && merged.key !== record.key) await flushMerged();
      merged ??= { key: record.key, batch: { metrics: [], params: [], tags: [] }, first: line, last: line };
      merged.batch.metrics.push(...record.metrics.map(loadPoint));
      merged.batch.params.push(...record.params);
      merged.batch.tags.push(...record.tags);
      merged.last = line;
      continue;
    }
    await flushMerged();
    try {
      if (record.op === 'inputs') await retrying(() => client.logInputs(t.runId, record.datasets));
      else if (record.op === 'artifact') await retrying(() => client.uploadArtifact(t.artifactUri, path.resolve(baseDir, record.file), record.artifactPath));
      else if (record.op === 'end') await retrying(() => client.updateRun({ runId: t.runId, status: record.status, endTime: record.endTime }));
    } catch (e) {
      if (record.op === 'artifact' && !(e instanceof MlflowApiError)) {
        res.failed++;
        log.warn(`mlflow sync ${file}:${line}: artifact ${record.file}: ${(e as Error).message}`);
      } else refused(line, record.op, e);
    }
    t.last = line;
    if (record.op === 'end') await saveCursor(t);
    opts.onApplied?.();
  }
  await flushMerged();
  for (const t of targets.values()) await saveCursor(t);
  for (const [key, t] of targets) {
    if (!t.byKey) continue;
    const n = await deleteTwins(client, t.experimentId, key, t.runId, retrying);
    if (n) log.info(`mlflow sync ${file}: deleted ${n} empty twin run(s) of ${t.runId} (a create request that landed after its answer was lost)`);
  }
  log.info(`mlflow sync ${file}: ${res.runsCreated} runs created, ${res.runsFound} found, ${res.applied} records applied, ${res.skipped} already there${res.failed ? `, ${res.failed} refused` : ''}`);
  return res;
}
