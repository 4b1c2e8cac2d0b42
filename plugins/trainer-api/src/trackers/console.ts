import type { DatasetInfo, RunStatus, StartRunOptions, Tracker, TrackingBackend } from '../tracker';

/** Prints params, metrics and tags as plain lines: for a quick look, or piping to another tool. */
export class ConsoleTracker implements Tracker {
  constructor(
    readonly runId: string,
    private readonly write: (line: string) => void = (l) => process.stdout.write(l + '\n'),
  ) {}

  private fmt(v: number): string {
    return Number.isInteger(v) ? String(v) : v.toPrecision(5);
  }

  logParams(params: Record<string, string | number | boolean>): void {
    this.write(`[${this.runId}] params ${Object.entries(params).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  }
  logMetrics(metrics: Record<string, number>, step?: number): void {
    const body = Object.entries(metrics).map(([k, v]) => `${k}=${this.fmt(v)}`).join(' ');
    this.write(`[${this.runId}] ${step === undefined ? '' : `step ${step} `}${body}`);
  }
  setTags(tags: Record<string, string>): void {
    this.write(`[${this.runId}] tags ${Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  }
  logInput(dataset: DatasetInfo): void {
    this.write(`[${this.runId}] input ${dataset.name} digest=${dataset.digest} source=${dataset.source}`);
  }
  async logArtifact(localPath: string, artifactPath?: string): Promise<void> {
    this.write(`[${this.runId}] artifact ${localPath}${artifactPath ? ` -> ${artifactPath}` : ''}`);
  }
  async flush(): Promise<void> {}
  async end(status: RunStatus, reason?: string): Promise<void> {
    this.write(`[${this.runId}] end ${status}${reason ? `: ${reason}` : ''}`);
  }
}

export class ConsoleTrackingBackend implements TrackingBackend {
  readonly name = 'console';
  private n = 0;
  async startRun(options: StartRunOptions): Promise<Tracker> {
    const t = new ConsoleTracker(options.resumeRunId ?? `${options.name}#${++this.n}`);
    if (options.tags) t.setTags(options.tags);
    return t;
  }
  async close(): Promise<void> {}
}
