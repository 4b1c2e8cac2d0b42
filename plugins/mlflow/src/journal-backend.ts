import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { consoleLogger, type DatasetInfo, type Logger, type RunStatus, type StartRunOptions, type Tracker, type TrackingBackend } from '@iccl/trainer-api';
import { checkKey } from './limits';
import { prepareValues, stringifyParam, toMlflowDataset } from './prepare';
import { RecordFile, RUN_KEY_TAG, storePoint, type JournalRecord } from './records';
import { normalizeArtifactPath } from './artifact-path';
import { systemTags } from './system-tags';
import { syncCommand } from './sync-command';

const OFFLINE_PREFIX = 'offline-';

/**
 * A run written to the offline journal (no MLflow available): every call is one JSON line,
 * appended synchronously; artifacts are copied next to the journal. `sync` replays it later.
 */
export class JournalTracker implements Tracker {
  readonly runId: string;
  failed = 0;
  private ended = false;

  constructor(
    private readonly out: RecordFile,
    readonly key: string,
    private readonly filesDir: string,
    private readonly logger: Logger,
  ) {
    this.runId = OFFLINE_PREFIX + key;
  }

  private write(rec: JournalRecord): void {
    try {
      this.out.append(rec);
    } catch (e) {
      this.warn(`journal ${this.out.file}: ${(e as Error).message}`);
    }
  }

  private warn(m: string): void {
    this.failed++;
    this.logger.warn(`mlflow journal: not logged: ${m}`);
  }

  private scratch(): string {
    return path.join(this.filesDir, this.key);
  }

  private values(kind: 'params' | 'tags', entries: [string, string][]): void {
    const p = prepareValues(kind, entries, this.scratch());
    p.rejected.forEach((m) => this.warn(m));
    this.write({ op: 'batch', key: this.key, metrics: [], params: kind === 'params' ? p.items : [], tags: kind === 'tags' ? [...p.items, ...p.notes] : p.notes });
    for (const a of p.artifacts) this.write({ op: 'artifact', key: this.key, file: path.relative(path.dirname(this.out.file), a.file), artifactPath: a.artifactPath });
  }

  logParams(params: Record<string, string | number | boolean>): void {
    this.values('params', Object.entries(params).map(([k, v]) => [k, stringifyParam(v)]));
  }

  logMetrics(metrics: Record<string, number>, step = 0, timestamp = Date.now()): void {
    const points = [];
    for (const [key, value] of Object.entries(metrics)) {
      const bad = checkKey('metric', key) ?? (typeof value !== 'number' ? `metric ${key}: value ${JSON.stringify(value)} is not a number` : undefined);
      if (bad) this.warn(bad);
      else points.push(storePoint({ key, value, timestamp, step: Math.trunc(step) }));
    }
    if (points.length) this.write({ op: 'batch', key: this.key, metrics: points, params: [], tags: [] });
  }

  setTags(tags: Record<string, string>): void {
    this.values('tags', Object.entries(tags).map(([k, v]) => [k, String(v)]));
  }

  logInput(dataset: DatasetInfo): void {
    this.write({ op: 'inputs', key: this.key, datasets: [toMlflowDataset(dataset)] });
  }

  async logArtifact(localPath: string, artifactPath?: string): Promise<void> {
    try {
      const folder = normalizeArtifactPath(artifactPath);
      const dir = path.join(this.scratch(), 'artifacts', randomUUID());
      await fs.promises.mkdir(dir, { recursive: true });
      const copy = path.join(dir, path.basename(localPath));
      await fs.promises.copyFile(localPath, copy);
      this.write({ op: 'artifact', key: this.key, file: path.relative(path.dirname(this.out.file), copy), artifactPath: folder || undefined });
    } catch (e) {
      this.warn(`artifact ${localPath}: ${(e as Error).message}`);
    }
  }

  async flush(): Promise<void> {}

  async end(status: RunStatus, reason?: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    const tags: Record<string, string> = { 'iccl.tracking.failed': String(this.failed) };
    if (reason) tags['iccl.end_reason'] = reason;
    this.setTags(tags);
    this.write({ op: 'end', key: this.key, status, endTime: Date.now() });
  }
}

export interface JournalBackendOptions {
  file: string;
  experimentName?: string;
  logger?: Logger;
  tags?: Record<string, string>;
}

/** The fallback when there is no MLflow: an offline journal that `sync` replays into a server. */
export class JournalTrackingBackend implements TrackingBackend {
  readonly name = 'mlflow-journal';
  readonly file: string;
  private readonly out: RecordFile;
  private readonly logger: Logger;
  private told = false;

  constructor(private readonly opts: JournalBackendOptions) {
    this.file = path.resolve(opts.file);
    this.out = new RecordFile(this.file);
    this.logger = opts.logger ?? consoleLogger('mlflow');
    if (!fs.existsSync(this.file) || fs.statSync(this.file).size === 0) {
      this.out.append({ op: 'header', id: randomUUID(), version: 1, created: Date.now(), kind: 'journal' });
    }
  }

  get replayCommand(): string {
    return `${syncCommand()} ${this.file} --tracking-uri <URI>`;
  }

  async startRun(options: StartRunOptions): Promise<Tracker> {
    if (!this.told) {
      this.told = true;
      this.logger.warn(`mlflow is not installed and MLFLOW_TRACKING_URI is unset: writing an offline journal to ${this.file}; replay it into a server with: ${this.replayCommand}`);
    }
    const resumeKey = options.resumeRunId?.startsWith(OFFLINE_PREFIX) ? options.resumeRunId.slice(OFFLINE_PREFIX.length) : undefined;
    const key = resumeKey ?? randomUUID();
    const parentKey = options.parentRunId?.startsWith(OFFLINE_PREFIX) ? options.parentRunId.slice(OFFLINE_PREFIX.length) : undefined;
    if (!resumeKey) {
      this.out.append({
        op: 'run',
        key,
        experiment: this.opts.experimentName ?? process.env.MLFLOW_EXPERIMENT_NAME ?? 'Default',
        name: options.name,
        parentKey,
        parentRunId: parentKey ? undefined : options.parentRunId,
        resumeRunId: options.resumeRunId,
        tags: { ...systemTags(), ...(this.opts.tags ?? {}), ...(options.tags ?? {}), [RUN_KEY_TAG]: key },
        startTime: Date.now(),
      });
    }
    const t = new JournalTracker(this.out, key, this.file + '.files', this.logger);
    if (resumeKey && options.tags) t.setTags(options.tags);
    return t;
  }

  async close(): Promise<void> {
    this.out.close();
    this.logger.info(`mlflow journal written to ${this.file}; replay it with: ${this.replayCommand}`);
  }
}
