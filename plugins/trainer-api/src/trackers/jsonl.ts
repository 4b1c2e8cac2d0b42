import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DatasetInfo, RunStatus, StartRunOptions, Tracker, TrackingBackend } from '../tracker';

/** One line of a JSON-lines run log. */
export type JsonlRecord =
  | { kind: 'start'; runId: string; name: string; parentRunId?: string; time: number }
  | { kind: 'params'; params: Record<string, string | number | boolean>; time: number }
  | { kind: 'metrics'; metrics: Record<string, number>; step?: number; time: number }
  | { kind: 'tags'; tags: Record<string, string>; time: number }
  | { kind: 'input'; dataset: DatasetInfo; time: number }
  | { kind: 'artifact'; path: string; artifactPath?: string; time: number }
  | { kind: 'end'; status: RunStatus; reason?: string; time: number };

/**
 * Appends every call as one JSON object per line, synchronously, so that nothing is lost on a crash
 * and a half-written run can still be read. Artifacts are copied next to the log.
 */
export class JsonlTracker implements Tracker {
  private readonly fd: number;

  constructor(
    readonly file: string,
    readonly runId: string = path.basename(file, '.jsonl'),
    start?: { name: string; parentRunId?: string },
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'a');
    if (start) this.append({ kind: 'start', runId, name: start.name, parentRunId: start.parentRunId, time: Date.now() });
  }

  private append(rec: JsonlRecord): void {
    fs.writeSync(this.fd, JSON.stringify(rec) + '\n');
  }

  logParams(params: Record<string, string | number | boolean>): void {
    this.append({ kind: 'params', params, time: Date.now() });
  }
  logMetrics(metrics: Record<string, number>, step?: number, timestamp = Date.now()): void {
    this.append({ kind: 'metrics', metrics, step, time: timestamp });
  }
  setTags(tags: Record<string, string>): void {
    this.append({ kind: 'tags', tags, time: Date.now() });
  }
  logInput(dataset: DatasetInfo): void {
    this.append({ kind: 'input', dataset, time: Date.now() });
  }
  async logArtifact(localPath: string, artifactPath?: string): Promise<void> {
    const dir = path.join(path.dirname(this.file), `${this.runId}.artifacts`, artifactPath ?? '');
    await fs.promises.mkdir(dir, { recursive: true });
    const dest = path.join(dir, path.basename(localPath));
    await fs.promises.copyFile(localPath, dest);
    this.append({ kind: 'artifact', path: dest, artifactPath, time: Date.now() });
  }
  async flush(): Promise<void> {
    fs.fsyncSync(this.fd);
  }
  async end(status: RunStatus, reason?: string): Promise<void> {
    this.append({ kind: 'end', status, reason, time: Date.now() });
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
  }
}

/** Reads a JSON-lines run log back (skips a truncated last line). */
export function readJsonl(file: string): JsonlRecord[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const out: JsonlRecord[] = [];
  for (const [i, line] of lines.entries()) {
    try {
      out.push(JSON.parse(line) as JsonlRecord);
    } catch (e) {
      if (i !== lines.length - 1) throw new Error(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
  }
  return out;
}

/** One `<dir>/<run>.jsonl` per run. */
export class JsonlTrackingBackend implements TrackingBackend {
  readonly name = 'jsonl';
  constructor(readonly dir: string) {}
  async startRun(options: StartRunOptions): Promise<Tracker> {
    const runId = options.resumeRunId ?? `${options.name.replace(/[^\w.-]+/g, '_')}-${Date.now().toString(36)}`;
    const t = new JsonlTracker(path.join(this.dir, `${runId}.jsonl`), runId, options.resumeRunId ? undefined : options);
    if (options.tags) t.setTags(options.tags);
    return t;
  }
  async close(): Promise<void> {}
}
