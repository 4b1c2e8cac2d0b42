// Type-checked against the declarations the packages ship (tsc --noEmit -p .), not run.
import type { RunStatus, Tracker, TrialContext } from '@iccl/trainer-api';
import { validateParams } from '@iccl/trainer-api';
import { plugin } from '@iccl/iccl';
import { MlflowTracker } from '@iccl/mlflow';
import { runStudy } from '@iccl/search';

class NoopTracker implements Tracker {
  readonly runId = 'typed';
  logParams(_p: Record<string, string | number | boolean>): void {}
  logMetrics(_m: Record<string, number>, _step?: number): void {}
  setTags(_t: Record<string, string>): void {}
  logInput(): void {}
  async logArtifact(_local: string, _artifactPath?: string): Promise<void> {}
  async flush(): Promise<void> {}
  async end(_status: RunStatus): Promise<void> {}
}

export async function typed(ctx: TrialContext): Promise<number> {
  const params = validateParams(plugin.params, { dataset: 'synthetic' });
  const result = await plugin.train(params, { ...ctx, tracker: new NoopTracker() });
  const top1: number = result.metrics.top1;
  // @ts-expect-error a status MLflow does not know
  const bad: RunStatus = 'DONE';
  void bad;
  void MlflowTracker;
  void runStudy;
  return top1;
}
