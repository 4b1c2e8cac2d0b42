import { splitBatches, type Batch, type KeyValue, type MetricPoint } from './limits';
import type { JournalRecord } from './records';

/** One operation on a run; batches keep their points as numbers until (and unless) they are spooled. */
export type Op =
  | { op: 'batch'; key: string; metrics: MetricPoint[]; params: KeyValue[]; tags: KeyValue[] }
  | Extract<JournalRecord, { op: 'inputs' | 'artifact' | 'end' }>;

/** Items an operation carries (what `sent` counts). */
export function opSize(op: Op): number {
  return op.op === 'batch' ? op.metrics.length + op.params.length + op.tags.length : 1;
}

/**
 * A run's operations in the order they were logged. Loose items (metrics, params, tags) gather in
 * a pending batch that is sealed into log-batch sized ops before anything queued after them, so
 * the order on the server is the order of the calls. One op at a time is "in flight" (being sent);
 * it may also be written to the spool meanwhile (the caller could not wait), and then it is not
 * counted as held in memory any more.
 */
export class OpQueue {
  private pending: Batch = { metrics: [], params: [], tags: [] };
  private ops: Op[] = [];
  private current: Op | undefined;
  private currentSpooled = false;
  private endQueued = false;

  constructor(private readonly key: string) {}

  /** The hot path of logMetrics: points are appended here as they come. */
  get metrics(): MetricPoint[] {
    return this.pending.metrics;
  }

  addParams(items: KeyValue[]): void {
    this.pending.params.push(...items);
  }

  addTags(items: KeyValue[]): void {
    this.pending.tags.push(...items);
  }

  /** Queues an op behind everything logged before it. */
  push(op: Op): void {
    this.seal();
    this.ops.push(op);
    if (op.op === 'end') this.endQueued = true;
  }

  /** The run's end was queued (end() was called). */
  get ended(): boolean {
    return this.endQueued;
  }

  /** Turns the pending items into batch ops within MLflow's limits. */
  seal(): void {
    const p = this.pending;
    if (p.metrics.length + p.params.length + p.tags.length === 0) return;
    this.pending = { metrics: [], params: [], tags: [] };
    for (const b of splitBatches(p)) this.ops.push({ op: 'batch', key: this.key, ...b });
  }

  /** Ops (not loose items) waiting to be sent. */
  get queued(): number {
    return this.ops.length;
  }

  /** Operations held in memory: not yet sent nor spooled. */
  get inMemory(): number {
    const p = this.pending;
    return this.ops.length + p.metrics.length + p.params.length + p.tags.length + (this.current && !this.currentSpooled ? 1 : 0);
  }

  /** The next op to send, now in flight. */
  next(): Op | undefined {
    this.current = this.ops.shift();
    this.currentSpooled = false;
    return this.current;
  }

  /** The op in flight got its answer; true if it was spooled meanwhile (its replay holds it already). */
  done(): boolean {
    const spooled = this.currentSpooled;
    this.current = undefined;
    this.currentSpooled = false;
    return spooled;
  }

  /**
   * Everything held in memory, in order, the op in flight first (marked spooled: if it lands
   * after all, the replayed copy holds the same items, which the server keeps once).
   */
  takeAll(): Op[] {
    this.seal();
    const out: Op[] = [];
    if (this.current && !this.currentSpooled) {
      out.push(this.current);
      this.currentSpooled = true;
    }
    out.push(...this.ops.splice(0));
    return out;
  }

  /** Queued ops (not the one in flight). */
  takeQueued(): Op[] {
    this.seal();
    return this.ops.splice(0);
  }

  /** Ops that could not be spooled (full disk) go back to the front, in order. */
  putBack(ops: Op[]): void {
    this.ops.unshift(...ops);
  }
}
