/** Final state of a tracked run, in MLflow's vocabulary (the most widely understood one). */
export type RunStatus = 'FINISHED' | 'FAILED' | 'KILLED';

/** A data set used by a run: enough to tell two runs apart by their data. */
export interface DatasetInfo {
  name: string;
  /** Content digest (hex), stable for the same data. */
  digest: string;
  /** Where it came from (a path or URI). */
  source: string;
  /** Role of the data in the run: "train", "eval". */
  context?: string;
  /** Free-form profile, e.g. per-class counts. */
  profile?: Record<string, unknown>;
}

/**
 * Where one run's params, metrics, tags and artifacts go. Implementations must never throw from
 * logging calls because of the tracking backend: a failure to log is theirs to warn about and count.
 */
export interface Tracker {
  /** Backend's id of the run (MLflow run id, a file name, ...). */
  readonly runId: string;
  logParams(params: Record<string, string | number | boolean>): void;
  /** Metrics at one step; `timestamp` in ms since epoch, default now. */
  logMetrics(metrics: Record<string, number>, step?: number, timestamp?: number): void;
  setTags(tags: Record<string, string>): void;
  logInput(dataset: DatasetInfo): void;
  /** Uploads a local file under `artifactPath` (a relative folder inside the run's artifacts). */
  logArtifact(localPath: string, artifactPath?: string): Promise<void>;
  /** Waits until everything queued so far has been written or spooled. */
  flush(): Promise<void>;
  /** Ends the run: flushes and records its final status. */
  end(status: RunStatus, reason?: string): Promise<void>;
}

export interface StartRunOptions {
  name: string;
  /** Id of the parent run (nested runs: a study and its trials). */
  parentRunId?: string;
  /** Reattach to an existing run instead of creating one (resumed studies). */
  resumeRunId?: string;
  tags?: Record<string, string>;
}

/** Creates runs: the study driver holds one, a plugin never needs it. */
export interface TrackingBackend {
  readonly name: string;
  startRun(options: StartRunOptions): Promise<Tracker>;
  /** Releases the backend (closes clients, stops servers it started). */
  close(): Promise<void>;
}
