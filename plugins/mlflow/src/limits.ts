/** MLflow's server-side limits, enforced client-side so a batch is never refused for its size. */
export const LIMITS = {
  metricsPerBatch: 1000,
  paramsPerBatch: 100,
  tagsPerBatch: 100,
  itemsPerBatch: 1000,
  /** Request body size per log-batch, bytes. */
  batchBytes: 1_000_000,
  keyLength: 250,
  paramValueLength: 6000,
  tagValueLength: 8000,
  /** Characters of a logged data set's digest the server accepts. */
  datasetDigestLength: 36,
} as const;

export interface MetricPoint {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}
export interface KeyValue {
  key: string;
  value: string;
}
export interface Batch {
  metrics: MetricPoint[];
  params: KeyValue[];
  tags: KeyValue[];
}

const overhead = 64; // run_id field, braces, commas: generous
function itemBytes(x: MetricPoint | KeyValue): number {
  if ('step' in x) {
    // An upper bound without serialising every point (this runs once per logged value): a key
    // escapes to at most 6 bytes per UTF-16 unit; value, timestamp, step and punctuation < 90.
    return x.key.length * 6 + 90;
  }
  // Params and tags are few and their values may need escaping: measure them exactly.
  return Buffer.byteLength(JSON.stringify(x), 'utf8') + 1;
}

/**
 * Splits pending items into log-batch requests that respect every limit, keeping the order of
 * each kind (metric points of one key stay in step order). Params go first, then tags, then metrics,
 * so a run's configuration lands before its curves.
 */
export function splitBatches(items: Batch, limits: typeof LIMITS = LIMITS): Batch[] {
  const out: Batch[] = [];
  let cur: Batch = { metrics: [], params: [], tags: [] };
  let bytes = overhead;
  const count = () => cur.metrics.length + cur.params.length + cur.tags.length;
  const close = () => {
    if (count() > 0) out.push(cur);
    cur = { metrics: [], params: [], tags: [] };
    bytes = overhead;
  };
  const add = (kind: keyof Batch, x: MetricPoint | KeyValue, max: number) => {
    const b = itemBytes(x);
    if (cur[kind].length >= max || count() >= limits.itemsPerBatch || bytes + b > limits.batchBytes) close();
    (cur[kind] as (MetricPoint | KeyValue)[]).push(x);
    bytes += b;
  };
  for (const p of items.params) add('params', p, limits.paramsPerBatch);
  for (const t of items.tags) add('tags', t, limits.tagsPerBatch);
  for (const m of items.metrics) add('metrics', m, limits.metricsPerBatch);
  close();
  return out;
}

/** Why a key is refused, or undefined when it is fine. */
export function checkKey(kind: string, key: string, limits: typeof LIMITS = LIMITS): string | undefined {
  if (key.length === 0) return `${kind} key is empty`;
  if (key.length > limits.keyLength) return `${kind} key ${JSON.stringify(key.slice(0, 40))}... has ${key.length} chars; MLflow allows at most ${limits.keyLength}`;
  return undefined;
}
