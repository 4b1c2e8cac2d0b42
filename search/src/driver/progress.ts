import { SingleBar } from 'cli-progress';
import { StudyDirection, TrialState, type FrozenTrial } from '../study/trial-types';
import type { TrialEvent } from './run-study';

/**
 * Study progress: done / running / pruned / failed, best value so far and an ETA from the mean
 * trial rate. A live bar on a TTY (cli-progress), one plain line per finished trial otherwise.
 */
export class StudyProgress {
  private done = 0;
  /** Trials done before this run (not counted in the rate). */
  private resumedAt = 0;
  private running = 0;
  private pruned = 0;
  private failed = 0;
  private best: number | null = null;
  private readonly started = Date.now();
  private bar: SingleBar | null = null;

  constructor(
    private readonly total: number,
    private readonly direction: StudyDirection | null,
    private readonly tty = Boolean(process.stderr.isTTY),
    private readonly write: (line: string) => void = (l) => process.stderr.write(l + '\n'),
    alreadyDone = 0,
  ) {
    this.done = alreadyDone;
    if (tty) {
      this.bar = new SingleBar({ format: 'trials {bar} {value}/{total} | running {running} pruned {pruned} failed {failed} | best {best} | ETA {eta_formatted}', stream: process.stderr, hideCursor: true });
      this.bar.start(total, alreadyDone, this.fields());
    }
  }

  private fields(): Record<string, string | number> {
    return { running: this.running, pruned: this.pruned, failed: this.failed, best: this.best === null ? '-' : this.best.toPrecision(6) };
  }

  /** Seconds left at the current rate (null before the first trial ends). */
  eta(): number | null {
    const doneHere = this.done - this.resumedAt;
    if (doneHere === 0) return null;
    const rate = doneHere / Math.max(1e-3, (Date.now() - this.started) / 1000);
    return Math.max(0, (this.total - this.done) / rate);
  }

  line(): string {
    const eta = this.eta();
    return `trials ${this.done}/${this.total} done, ${this.running} running, ${this.pruned} pruned, ${this.failed} failed; best ${this.best === null ? '-' : this.best.toPrecision(6)}; ETA ${eta === null ? '-' : `${Math.round(eta)}s`}`;
  }

  onEvent(e: TrialEvent): void {
    if (e.kind === 'resumed') {
      this.done = e.done;
      this.resumedAt = e.done;
      if (!this.tty) this.write(`resuming: ${e.done} trial(s) already done`);
    } else if (e.kind === 'started') this.running++;
    else if (e.kind === 'finished') {
      this.running = Math.max(0, this.running - 1);
      this.done++;
      this.record(e.trial);
      if (!this.tty) this.write(`trial ${e.trial.number} ${TrialState[e.trial.state]}${e.trial.values ? ` ${e.trial.values.join(', ')}` : ''}${e.trial.systemAttrs.fail_reason ? ` (${String(e.trial.systemAttrs.fail_reason)})` : ''} | ${this.line()}`);
    } else if (e.kind === 'reaped') {
      if (!this.tty) this.write(`trial ${e.number} FAIL (${e.reason})`);
    } else if (e.kind === 'info') {
      if (this.bar) this.bar.stop();
      this.write(e.message);
      if (this.bar) this.bar.start(this.total, this.done, this.fields());
    }
    this.bar?.update(this.done, this.fields());
  }

  private record(t: FrozenTrial): void {
    if (t.state === TrialState.PRUNED) this.pruned++;
    if (t.state === TrialState.FAIL) this.failed++;
    if (t.state !== TrialState.COMPLETE || !t.values || this.direction === null) return;
    const v = t.values[0];
    if (this.best === null || (this.direction === StudyDirection.MAXIMIZE ? v > this.best : v < this.best)) this.best = v;
  }

  stop(): void {
    this.bar?.stop();
  }
}
