import type { Experiment } from './schemas';

/**
 * MLflow 3.x's UI reads this experiment tag to choose the experiment's landing page: without it the
 * UI guesses, and an experiment without traces can open on the GenAI "Overview". "custom_model_development"
 * is the kind the UI names "Machine learning": it opens on the runs table, where trials are compared.
 */
export const EXPERIMENT_KIND_TAG = 'mlflow.experimentKind';
export const MODEL_TRAINING_KIND = 'custom_model_development';

export const experimentKindTags = (): { key: string; value: string }[] => [
  { key: EXPERIMENT_KIND_TAG, value: MODEL_TRAINING_KIND },
];

/** An experiment nobody gave a kind (made before we set one, or by a client that does not): ours to mark. */
export function lacksKind(e: Experiment): boolean {
  return !(e.tags ?? []).some((t) => t.key === EXPERIMENT_KIND_TAG);
}
