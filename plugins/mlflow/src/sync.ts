import * as path from 'node:path';
import { silentLogger, type Logger } from '@iccl/trainer-api';
import type { MlflowClient } from './client';
import { MlflowApiError } from './errors';
import { backoffMs, DEFAULT_RETRY, sleep } from './backoff';
import { splitBatches, type Batch } from './limits';
import { loadPoint, readRecords, RUN_KEY_TAG, type JournalRecord } from './records';
import type { Run } from './schemas';

export interface SyncOptions {
  client: MlflowClient;
  /** Put every run in this experiment instead of the one recorded. */
  experimentName?: string;
  logger?: Logger;
}

export interface SyncResult {
  runsCreated: number;
  runsFound: number;
  applied: number;
  /** Records already applied by an earlier sync of the same file. */
  skipped: number;
  /** Client-side run key -> server run id. */
  runIds: Record<string, string>;
}

interface Target {
  runId: string;
  artifactUri: string | undefined;
  /** Last line of this file already on the server (tag iccl.sync.<file id>). */
  cursor: number;
}

async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof MlflowApiError) || !e.retryable || attempt + 1 >= DEFAULT_RETRY.attempts) throw e;
      await sleep(backoffMs(attempt, DEFAULT_RETRY));
    }
  }
}

/**
 * Replays an offline journal or an outage spool into a tracking server, in order. Idempotent:
 * runs are found again by their client-side key (tag `iccl.run_key`) and each run remembers,
 * in the tag `iccl.sync.<file id>`, the last line of this file it has received, so a second
 * replay creates nothing and sends nothing twice.
 */
export async function sync(file: string, opts: SyncOptions): Promise<SyncResult> {
  const { client } = opts;
  const log = opts.logger ?? silentLogger;
  const recs = readRecords(file);
  const head = recs[0]?.record;
  if (!head || head.op !== 'header') {
    throw new Error(`${file}:1: expected a header record ({"op":"header",...}) first; is this an ICCL MLflow journal or spool?`);
  }
  const cursorTag = `iccl.sync.${head.id}`;
  const baseDir = path.dirname(path.resolve(file));
  const res: SyncResult = { runsCreated: 0, runsFound: 0, applied: 0, skipped: 0, runIds: {} };
  const targets = new Map<string, Target & { last: number }>();
  const experiments = new Map<string, string>();

  const experimentId = async (name: string) => {
    const n = opts.experimentName ?? name;
    if (!experiments.has(n)) experiments.set(n, await retrying(() => client.getOrCreateExperiment(n)));
    return experiments.get(n)!;
  };

  const findByKey = async (expId: string, key: string): Promise<Run | undefined> => {
    const r = await retrying(() => client.searchRuns({ experimentIds: [expId], filter: `tags.\`${RUN_KEY_TAG}\` = '${key.replace(/'/g, '')}'`, maxResults: 1, runViewType: 'ALL' }));
    return r.runs[0];
  };

  const tryGet = async (runId: string): Promise<Run | undefined> => {
    try {
      return await retrying(() => client.getRun(runId));
    } catch (e) {
      if (e instanceof MlflowApiError && e.notFound) return undefined;
      throw e;
    }
  };

  const openRun = async (line: number, r: Extract<JournalRecord, { op: 'run' }>): Promise<void> => {
    if (targets.has(r.key)) return;
    const expId = await experimentId(r.experiment);
    let run: Run | undefined;
    for (const id of [r.resumeRunId, r.runId]) {
      if (!id || run) continue;
      const got = await tryGet(id);
      const key = got?.data.tags.find((t) => t.key === RUN_KEY_TAG)?.value;
      if (got && (id === r.resumeRunId || key === r.key)) run = got;
    }
    run ??= await findByKey(expId, r.key);
    if (run) res.runsFound++;
    else {
      let parent = r.parentRunId;
      if (r.parentKey) {
        const p = targets.get(r.parentKey);
        if (!p) throw new Error(`${file}:${line}: run ${JSON.stringify(r.name)} names parent key ${r.parentKey}, which no earlier 'run' record opens`);
        parent = p.runId;
      }
      const tags: Record<string, string> = { ...r.tags, 'mlflow.runName': r.name, [RUN_KEY_TAG]: r.key, 'iccl.synced_from': path.basename(file) };
      if (parent) tags['mlflow.parentRunId'] = parent;
      const created = await retrying(() =>
        client.createRun({ experimentId: expId, runName: r.name, startTime: r.startTime, tags: Object.entries(tags).slice(0, 100).map(([key, value]) => ({ key, value })), userId: tags['mlflow.user'] }),
      );
      run = created;
      res.runsCreated++;
    }
    const cursor = Number(run.data.tags.find((t) => t.key === cursorTag)?.value ?? 0) || 0;
    targets.set(r.key, { runId: run.info.run_id, artifactUri: run.info.artifact_uri, cursor, last: cursor });
    res.runIds[r.key] = run.info.run_id;
  };

  // Consecutive batch records of one run are merged into as few log-batch calls as the limits allow.
  let merged: { key: string; batch: Batch; last: number } | undefined;
  const saveCursor = async (t: Target & { last: number }) => {
    if (t.last > t.cursor) {
      await retrying(() => client.setTag(t.runId, cursorTag, String(t.last)));
      t.cursor = t.last;
    }
  };
  const flushMerged = async () => {
    if (!merged) return;
    const t = targets.get(merged.key)!;
    for (const b of splitBatches(merged.batch)) await retrying(() => client.logBatch(t.runId, b));
    t.last = merged.last;
    merged = undefined;
    await saveCursor(t);
  };

  for (const { line, record } of recs) {
    if (record.op === 'header') continue;
    if (record.op === 'run') {
      await flushMerged();
      await openRun(line, record);
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
      merged ??= { key: record.key, batch: { metrics: [], params: [], tags: [] }, last: line };
      merged.batch.metrics.push(...record.metrics.map(loadPoint));
      merged.batch.params.push(...record.params);
      merged.batch.tags.push(...record.tags);
      merged.last = line;
      continue;
    }
    await flushMerged();
    if (record.op === 'inputs') await retrying(() => client.logInputs(t.runId, record.datasets));
    else if (record.op === 'artifact') await retrying(() => client.uploadArtifact(t.artifactUri, path.resolve(baseDir, record.file), record.artifactPath));
    else if (record.op === 'end') await retrying(() => client.updateRun({ runId: t.runId, status: record.status, endTime: record.endTime }));
    t.last = line;
    if (record.op === 'end') await saveCursor(t);
  }
  await flushMerged();
  for (const t of targets.values()) await saveCursor(t);
  log.info(`mlflow sync ${file}: ${res.runsCreated} runs created, ${res.runsFound} found, ${res.applied} records applied, ${res.skipped} already there`);
  return res;
}
