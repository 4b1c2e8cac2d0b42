import type { Tracker, TrackingBackend } from '@iccl/trainer-api';

/** A tracker from a tracking backend (one run), and what to release once the trial ended it. */
export interface OpenedTracker {
  tracker: Tracker;
  close(): Promise<void>;
}

/** Loads an optional tracking package by name, saying how to get it when it is missing. */
function optional<T>(pkg: string, spec: string): T {
  try {
    return require(pkg) as T;
  } catch (e) {
    if ((e as { code?: string }).code === 'MODULE_NOT_FOUND' && (e as Error).message.includes(pkg)) throw new Error(`--tracker ${spec} needs ${pkg}: npm install ${pkg}`);
    throw e;
  }
}

/**
 * `mlflow[:URI]` (MLFLOW_TRACKING_URI or URI, else a local server on ./mlflow.db; system metrics on)
 * and `tensorboard:DIR` (event files in DIR/<run-id>): one run named after the run id. Undefined for
 * other specs (the runner's own trackers).
 */
export async function openBackendTracker(spec: string, runId: string): Promise<OpenedTracker | undefined> {
  let backend: TrackingBackend;
  if (spec === 'mlflow' || spec.startsWith('mlflow:')) {
    const m = optional<typeof import('@iccl/mlflow')>('@iccl/mlflow', spec);
    const inner = await m.createMlflowBackend({ trackingUri: spec.startsWith('mlflow:') ? spec.slice(7) : undefined, experimentName: process.env.MLFLOW_EXPERIMENT_NAME || 'iccl-run' });
    backend = m.withSystemMetrics(inner, { allRuns: true });
  } else if (spec.startsWith('tensorboard:')) {
    const tb = optional<typeof import('@iccl/tensorboard')>('@iccl/tensorboard', spec);
    backend = new tb.TensorBoardTrackingBackend({ dir: spec.slice('tensorboard:'.length) });
  } else if (spec === 'tensorboard') {
    throw new Error('--tracker tensorboard needs a log directory: tensorboard:DIR');
  } else return undefined;
  const tracker = await backend.startRun({ name: runId });
  return { tracker, close: () => backend.close() };
}
