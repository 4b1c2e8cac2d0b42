import type { Logger } from '@iccl/trainer-api';
import type { MlflowClient } from './client';
import type { RetryPolicy } from './backoff';
import type { RunRecord } from './run-open';

/** What a live run is and how it reaches its server (the tracker's options, less its callbacks). */
export interface RunOptions {
  client: MlflowClient;
  /** What the run is: key, name, experiment, tags; runId / resumeRunId when it already exists. */
  header: RunRecord;
  experimentId: () => Promise<string>;
  /** Server id of the parent named by `header.parentKey`; undefined while the parent is not on the server. */
  resolveParent?: () => Promise<string | undefined>;
  /** False while operations that must land before this run's (older spools) are not replayed yet. */
  ready?: () => boolean;
  /** True while the server is a local one still starting: finding it away then is expected, not warned about. */
  serverStarting?: () => boolean;
  /** Folder for the outage spool and oversize values of this run. */
  spoolDir: string;
  logger: Logger;
  flushIntervalMs?: number;
  retry?: RetryPolicy;
  /** How often to look for the server again while spooling. */
  probeIntervalMs?: number;
  /** How long flush(), logArtifact() and end() wait for the server before they spool what is left and return. */
  waitMs?: number;
  /** Told when this run finds the server gone (true) or back, or creates its run (false). */
  onOffline?: (offline: boolean) => void;
  /** The run may exist already under its key (resumed by key): look it up before creating it. */
  mayExist?: boolean;
}

export type Timing = Required<Pick<RunOptions, 'flushIntervalMs' | 'retry' | 'probeIntervalMs' | 'waitMs'>>;

/** Counts shown in the end summary (tags `iccl.tracking.*` and one log line). */
export interface TrackerStats {
  sent: number;
  failed: number;
  spooled: number;
  replayed: number;
  retries: number;
}
