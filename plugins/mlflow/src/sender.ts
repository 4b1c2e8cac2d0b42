import type { MlflowClient } from './client';
import { MlflowApiError, isUnreachable } from './errors';
import { retryingWith, type RetryPolicy } from './backoff';
import { opSize, type Op } from './op-queue';

/** The server run an op goes to. */
export interface RunTarget {
  runId: string;
  artifactUri: string | undefined;
}

export interface ApplyOptions {
  retry: RetryPolicy;
  /** Told before each retry of a transient error (the tracker counts them). */
  onRetry?: () => void;
}

export interface Applied {
  /** Items that reached the server. */
  sent: number;
  /** One message per part the server refused for itself (a bad value, a missing file). */
  refused: string[];
  /** Set when the server is gone or overloaded: the op stopped here, to be sent again later. */
  unreachable?: MlflowApiError;
}

/**
 * Sends one operation to its run: the only way an op reaches the server, for the live tracker and
 * for `sync` alike. Transient errors are retried with backoff. A batch refused as a whole (not a
 * server error) is split in halves until the bad items are found, so the good ones land and only
 * the bad ones are counted. A server that is gone stops the op (`unreachable`); anything else is a
 * refusal of that op, returned, never thrown.
 */
export async function apply(client: MlflowClient, run: RunTarget, op: Op, o: ApplyOptions): Promise<Applied> {
  const out: Applied = { sent: 0, refused: [] };
  await applyInto(client, run, op, o, out);
  return out;
}

/** False once the server is found unreachable (nothing more is tried). */
async function applyInto(client: MlflowClient, run: RunTarget, op: Op, o: ApplyOptions, out: Applied): Promise<boolean> {
  try {
    await retryingWith(o.retry, o.onRetry)(() => send(client, run, op));
    out.sent += opSize(op);
    return true;
  } catch (e) {
    if (isUnreachable(e)) {
      out.unreachable = e;
      return false;
    }
    // A plain 500 that outlived the retries is refused whole: splitting would multiply the
    // requests to a server that fails on its side.
    const exhausted = e instanceof MlflowApiError && e.retryable;
    if (op.op === 'batch' && opSize(op) > 1 && !exhausted) {
      for (const part of halves(op)) if (!(await applyInto(client, run, part, o, out))) return false;
      return true;
    }
    out.refused.push(`${op.op}: ${(e as Error).message}${exhausted ? ` (after ${o.retry.attempts} tries)` : ''}`);
    return true;
  }
}

/** Each param and tag alone (one bad value must not take others with it), the metrics in two halves. */
function halves(op: Extract<Op, { op: 'batch' }>): Extract<Op, { op: 'batch' }>[] {
  const half = Math.ceil(op.metrics.length / 2);
  const parts = [
    ...op.params.map((x) => ({ ...op, metrics: [], params: [x], tags: [] })),
    ...op.tags.map((x) => ({ ...op, metrics: [], params: [], tags: [x] })),
    { ...op, metrics: op.metrics.slice(0, half), params: [], tags: [] },
    { ...op, metrics: op.metrics.slice(half), params: [], tags: [] },
  ];
  return parts.filter((p) => opSize(p) > 0);
}

async function send(client: MlflowClient, run: RunTarget, op: Op): Promise<void> {
  switch (op.op) {
    case 'batch':
      return client.logBatch(run.runId, { metrics: op.metrics, params: op.params, tags: op.tags });
    case 'inputs':
      return client.logInputs(run.runId, op.datasets);
    case 'artifact':
      await client.uploadArtifact(run.artifactUri, op.file, op.artifactPath);
      return;
    case 'end':
      await client.updateRun({ runId: run.runId, status: op.status, endTime: op.endTime });
      return;
  }
}
