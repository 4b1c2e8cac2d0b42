import type { DatasetInfo, RunStatus, Tracker } from '../tracker';

/** Records nothing: the baseline for "how much does tracking cost". */
export class NullTracker implements Tracker {
  constructor(readonly runId = 'null') {}
  logParams(_p: Record<string, string | number | boolean>): void {}
  logMetrics(_m: Record<string, number>, _step?: number): void {}
  setTags(_t: Record<string, string>): void {}
  logInput(_d: DatasetInfo): void {}
  async logArtifact(_l: string, _a?: string): Promise<void> {}
  async flush(): Promise<void> {}
  async end(_s: RunStatus, _r?: string): Promise<void> {}
}
