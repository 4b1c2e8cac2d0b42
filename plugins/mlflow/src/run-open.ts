import type { Retrying } from './backoff';
import type { MlflowClient } from './client';
import { MlflowApiError } from './errors';
import { LIMITS } from './limits';
import { RUN_KEY_TAG, type JournalRecord } from './records';
import type { Run } from './schemas';

export type RunRecord = Extract<JournalRecord, { op: 'run' }>;

/**
 * A run that exists only as a client-side key so far (the server was not reachable when it
 * started). It stands in for the run id wherever one is stored (a study's `tracking_run_id`, a
 * trial's parent) and is resolved by the tag `iccl.run_key` once the run is on the server.
 */
export const KEY_REF_PREFIX = 'iccl-run-key:';

export function keyRef(key: string): string {
  return KEY_REF_PREFIX + key;
}

/** The key of a key reference, undefined for a server run id. */
export function parseKeyRef(id: string | undefined): string | undefined {
  return id?.startsWith(KEY_REF_PREFIX) ? id.slice(KEY_REF_PREFIX.length) : undefined;
}

/** Splits tags so that run creation carries at most 100 short ones; the rest follow in log-batch calls. */
export function splitCreateTags(tags: Record<string, string>): { now: { key: string; value: string }[]; later: { key: string; value: string }[] } {
  const now: { key: string; value: string }[] = [];
  const later: { key: string; value: string }[] = [];
  for (const [key, value] of Object.entries(tags)) {
    if (now.length < LIMITS.tagsPerBatch && key.length <= LIMITS.keyLength && value.length <= LIMITS.tagValueLength) now.push({ key, value });
    else later.push({ key, value });
  }
  return { now, later };
}

export async function findRunByKey(client: MlflowClient, experimentId: string, key: string, retrying: Retrying): Promise<Run | undefined> {
  const filter = `tags.\`${RUN_KEY_TAG}\` = '${key.replace(/'/g, '')}'`;
  const r = await retrying(() => client.searchRuns({ experimentIds: [experimentId], filter, maxResults: 1, runViewType: 'ALL' }));
  return r.runs[0];
}

async function tryGet(client: MlflowClient, runId: string, retrying: Retrying): Promise<Run | undefined> {
  try {
    return await retrying(() => client.getRun(runId));
  } catch (e) {
    if (e instanceof MlflowApiError && e.notFound) return undefined;
    throw e;
  }
}

export interface OpenedRun {
  run: Run;
  created: boolean;
}

/**
 * Finds the server run a 'run' record stands for, or creates it exactly once: by the resumed id,
 * by the recorded run id, then by its key (a create whose answer was lost did land, and a second
 * process replaying the same record must not make a twin). `mayExist: false` skips the key
 * search for a first attempt that nothing can have created yet.
 */
export async function openRun(
  client: MlflowClient,
  r: RunRecord,
  o: { experimentId: string; parentRunId?: string; mayExist: boolean; retrying: Retrying },
): Promise<OpenedRun> {
  for (const id of [r.resumeRunId, r.runId]) {
    if (!id) continue;
    const got = await tryGet(client, id, o.retrying);
    const key = got?.data.tags.find((t) => t.key === RUN_KEY_TAG)?.value;
    if (got && (id === r.resumeRunId || key === r.key)) return { run: got, created: false };
  }
  if (o.mayExist || r.resumeRunId || r.runId) {
    const found = await findRunByKey(client, o.experimentId, r.key, o.retrying);
    if (found) return { run: found, created: false };
  }
  const tags: Record<string, string> = { ...r.tags, 'mlflow.runName': r.name, [RUN_KEY_TAG]: r.key };
  if (o.parentRunId) tags['mlflow.parentRunId'] = o.parentRunId;
  const { now, later } = splitCreateTags(tags);
  // Never retried here: a create whose answer was lost may have landed, so the next attempt (the
  // caller's, with mayExist) searches by key first.
  const run = await client.createRun({ experimentId: o.experimentId, runName: r.name, startTime: r.startTime, tags: now, userId: tags['mlflow.user'] });
  for (let i = 0; i < later.length; i += LIMITS.tagsPerBatch) {
    const chunk = later.slice(i, i + LIMITS.tagsPerBatch);
    await o.retrying(() => client.logBatch(run.info.run_id, { tags: chunk }));
  }
  return { run, created: true };
}

/**
 * Deletes the other active runs holding `key`: twins made by a create request that landed after
 * its answer was lost and after the key search that followed (a slow server). They hold nothing:
 * every operation of the run went to `keepId`.
 */
export async function deleteTwins(client: MlflowClient, experimentId: string, key: string, keepId: string, retrying: Retrying): Promise<number> {
  const filter = `tags.\`${RUN_KEY_TAG}\` = '${key.replace(/'/g, '')}'`;
  const r = await retrying(() => client.searchRuns({ experimentIds: [experimentId], filter, maxResults: 50, runViewType: 'ACTIVE_ONLY' }));
  let n = 0;
  for (const twin of r.runs) {
    if (twin.info.run_id === keepId) continue;
    await retrying(() => client.deleteRun(twin.info.run_id));
    n++;
  }
  return n;
}
