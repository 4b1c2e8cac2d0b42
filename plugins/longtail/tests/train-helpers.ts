import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger, type DatasetInfo, type RunStatus, type Tracker, type TrialContext } from '@iccl/trainer-api';
import { loadTensors } from '../src/models';

/** A tracker that keeps everything in memory, for assertions. */
export class RecordingTracker implements Tracker {
  readonly runId = 'test';
  params: Record<string, string | number | boolean> = {};
  metrics: { step?: number; metrics: Record<string, number> }[] = [];
  tags: Record<string, string> = {};
  inputs: DatasetInfo[] = [];
  artifacts: { localPath: string; artifactPath?: string }[] = [];
  logParams(p: Record<string, string | number | boolean>): void {
    Object.assign(this.params, p);
  }
  logMetrics(m: Record<string, number>, step?: number): void {
    this.metrics.push({ step, metrics: m });
  }
  setTags(t: Record<string, string>): void {
    Object.assign(this.tags, t);
  }
  logInput(d: DatasetInfo): void {
    this.inputs.push(d);
  }
  async logArtifact(localPath: string, artifactPath?: string): Promise<void> {
    this.artifacts.push({ localPath, artifactPath });
  }
  async flush(): Promise<void> {}
  async end(_s: RunStatus): Promise<void> {}
  series(name: string): number[] {
    return this.metrics.filter((r) => name in r.metrics).map((r) => r.metrics[name]);
  }
}

export interface TestContext extends TrialContext {
  tracker: RecordingTracker;
  reports: { step: number; metrics: Record<string, number> }[];
  abort: AbortController;
}

export function testContext(workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-trial-')), onReport?: (step: number) => void): TestContext {
  const abort = new AbortController();
  const reports: { step: number; metrics: Record<string, number> }[] = [];
  return {
    trialId: 't0',
    workDir,
    signal: abort.signal,
    abort,
    reports,
    tracker: new RecordingTracker(),
    log: silentLogger,
    async report(step, metrics) {
      reports.push({ step, metrics });
      onReport?.(step);
    },
  };
}

/** A small, fast synthetic configuration shared by the end-to-end tests. */
export const TINY = {
  dataset: 'synthetic',
  syntheticClasses: 4,
  maxPerClass: 200,
  imbalanceFactor: 4,
  testPerClass: 30,
  imageSize: 16,
  // train counts 200, 125, 79, 50: Many {0, 1}, Medium {2}, Few {3}
  manyThreshold: 100,
  fewThreshold: 60,
  model: 'small-cnn',
  width: 8,
  batchSize: 32,
  lr: 0.1,
  warmupEpochs: 0,
  schedule: 'cosine',
  weightDecay: 5e-4,
  evalEvery: 1,
  device: 'cpu',
} as const;

/** The saved tensors of a checkpoint folder, read back as plain arrays (for weight comparisons). */
export async function savedWeights(dir: string): Promise<Map<string, Float32Array>> {
  const { tensors } = await loadTensors(dir);
  const out = new Map<string, Float32Array>();
  for (const [k, t] of tensors) {
    out.set(k, t.dataSync() as Float32Array);
    t.dispose();
  }
  return out;
}
