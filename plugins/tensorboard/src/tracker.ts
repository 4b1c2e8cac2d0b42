import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DatasetInfo, RunStatus, StartRunOptions, Tracker, TrackingBackend } from '@iccl/trainer-api';
import { EventFileWriter, pluginBody, scalarBody } from './events';
import {
  experiment,
  EXPERIMENT_TAG,
  hparamInfos,
  HPARAMS_PLUGIN,
  sessionEndInfo,
  sessionStartInfo,
  SESSION_END_TAG,
  SESSION_START_TAG,
  type HParamValue,
} from './hparams';

/** A run name as one path segment: TensorBoard's run names are the folders under its logdir. */
function segment(name: string): string {
  const s = name.replace(/[\\/:*?"<>|\s]+/g, '_').replace(/^\.+/, '_');
  return s || 'run';
}

const STATUS: Record<RunStatus, 1 | 2> = { FINISHED: 1, FAILED: 2, KILLED: 2 };

/**
 * One run's folder of TensorBoard event files: metrics as scalars at their step, parameters as an
 * HParams session (start info with the values, end info with the status), tags, inputs and artifacts
 * as files beside them (TensorBoard has no place for those).
 */
export class TensorBoardTracker implements Tracker {
  readonly runId: string;
  readonly hparams: Record<string, HParamValue> = {};
  readonly scalarTags = new Set<string>();
  private readonly writer: EventFileWriter;
  private started = false;
  private ended = false;
  private readonly startSecs = Date.now() / 1000;

  /**
   * `session()`: whether this run is an HParams session (false for a run that only groups others, like a
   * study); asked when the run first writes, and at its end.
   */
  constructor(
    readonly dir: string,
    runId?: string,
    private readonly session: () => boolean = () => true,
  ) {
    this.runId = runId ?? path.basename(dir);
    this.writer = new EventFileWriter(dir);
  }

  logParams(params: Record<string, string | number | boolean>): void {
    Object.assign(this.hparams, params);
    // later params (after the session began) go in a new start info: the dashboard reads the last
    if (this.started) this.writeStart();
  }

  logMetrics(metrics: Record<string, number>, step = 0, timestamp = Date.now()): void {
    if (this.ended) return;
    this.begin();
    for (const [tag, v] of Object.entries(metrics)) {
      if (!Number.isFinite(v)) continue;
      this.scalarTags.add(tag);
      this.writer.write(step, scalarBody(tag, v), timestamp / 1000);
    }
  }

  setTags(tags: Record<string, string>): void {
    this.mergeJson('tags.json', tags);
  }

  logInput(dataset: DatasetInfo): void {
    this.mergeJson('inputs.json', { [`${dataset.context ?? 'input'}:${dataset.name}`]: dataset });
  }

  async logArtifact(localPath: string, artifactPath?: string): Promise<void> {
    const dest = path.join(this.dir, 'artifacts', artifactPath ?? '', path.basename(localPath));
    await fs.promises.mkdir(path.dirname(dest), { recursive: true });
    await fs.promises.copyFile(localPath, dest);
  }

  async flush(): Promise<void> {
    // events are written as they come: nothing waits
  }

  async end(status: RunStatus, reason?: string): Promise<void> {
    if (this.ended) return;
    this.begin();
    if (reason) this.mergeJson('tags.json', { 'run.end_reason': reason });
    if (this.isSession)
      this.writer.write(
        0,
        pluginBody(SESSION_END_TAG, HPARAMS_PLUGIN, sessionEndInfo(STATUS[status], Date.now() / 1000)),
      );
    this.ended = true;
    this.writer.close();
  }

  get isSession(): boolean {
    return this.session();
  }

  private begin(): void {
    if (this.started) return;
    this.started = true;
    this.writeStart();
  }

  private writeStart(): void {
    if (this.isSession)
      this.writer.write(
        0,
        pluginBody(SESSION_START_TAG, HPARAMS_PLUGIN, sessionStartInfo(this.hparams, this.startSecs)),
      );
  }

  private mergeJson(file: string, add: Record<string, unknown>): void {
    const f = path.join(this.dir, file);
    const old = fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>) : {};
    fs.writeFileSync(f, JSON.stringify({ ...old, ...add }, null, 1));
  }
}

export interface TensorBoardBackendOptions {
  /** TensorBoard's logdir: `tensorboard --logdir DIR`. */
  dir: string;
  /** Name of the HParams experiment; default the logdir's name. */
  experimentName?: string;
}

/**
 * Runs as folders of a logdir: a study at DIR/<study>, its trials at DIR/<study>/<trial> (each an
 * HParams session); a run without trials (the plugin runner's single run) is a session itself. On
 * close, the HParams experiment (every hparam's range and every scalar as a metric) goes to DIR, so
 * the dashboard's table and parallel-coordinates view line the sessions up.
 */
export class TensorBoardTrackingBackend implements TrackingBackend {
  readonly name = 'tensorboard';
  readonly dir: string;
  private readonly runs = new Map<string, TensorBoardTracker>();
  private readonly parents = new Set<string>();
  private readonly createdSecs = Date.now() / 1000;

  constructor(private readonly o: TensorBoardBackendOptions) {
    if (!o.dir) throw new Error('tensorboard: a log directory is needed (tensorboard:DIR)');
    this.dir = path.resolve(o.dir);
  }

  async startRun(options: StartRunOptions): Promise<Tracker> {
    const parent = options.parentRunId ? this.runs.get(options.parentRunId) : undefined;
    if (options.parentRunId && !parent)
      throw new Error(`tensorboard: parent run ${options.parentRunId} was not started by this backend`);
    if (options.resumeRunId && this.runs.has(options.resumeRunId)) return this.runs.get(options.resumeRunId)!;
    let dir = path.join(parent ? parent.dir : this.dir, segment(options.name));
    for (let i = 2; this.runs.has(path.relative(this.dir, dir)); i++)
      dir = path.join(parent ? parent.dir : this.dir, `${segment(options.name)}_${i}`);
    const id = path.relative(this.dir, dir);
    const t = new TensorBoardTracker(dir, id, () => Boolean(parent) || !this.parents.has(id));
    this.runs.set(id, t);
    if (parent) this.parents.add(parent.runId);
    if (options.tags) t.setTags(options.tags);
    return t;
  }

  /** Writes the HParams experiment for every session this backend saw. */
  async close(): Promise<void> {
    const sessions = [...this.runs.values()].filter((t) => t.isSession);
    if (!sessions.length) return;
    const metrics = [...new Set(sessions.flatMap((t) => [...t.scalarTags]))].sort();
    const w = new EventFileWriter(this.dir);
    w.write(
      0,
      pluginBody(
        EXPERIMENT_TAG,
        HPARAMS_PLUGIN,
        experiment(
          this.o.experimentName ?? path.basename(this.dir),
          this.createdSecs,
          hparamInfos(sessions.map((t) => t.hparams)),
          metrics,
        ),
      ),
    );
    w.close();
  }
}
