import * as fs from 'node:fs';
import type { StepRecord } from '@iccl/trainer-api';

/**
 * Keeps the per-step losses of a unit's first stage-1 epoch in its work folder, written once when
 * that epoch is over, so that a unit resumed in a later attempt (which does not re-run epoch 0)
 * still records them. An attempt that dies inside epoch 0 writes nothing: the next one re-runs it.
 */
export class FirstEpochRecorder {
  private losses: number[] = [];
  private written = false;

  constructor(private readonly file: string) {
    this.written = fs.existsSync(file);
  }

  see(s: StepRecord): void {
    if (this.written) return;
    if (s.stage === 1 && s.epoch === 0) this.losses.push(s.loss);
    else this.close();
  }

  /** The epoch is over (a later step was seen, or training ended). */
  close(): void {
    if (this.written || this.losses.length === 0) return;
    const tmp = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(this.losses) + '\n');
    fs.renameSync(tmp, this.file);
    this.written = true;
  }

  read(): number[] | null {
    return fs.existsSync(this.file) ? (JSON.parse(fs.readFileSync(this.file, 'utf8')) as number[]) : null;
  }
}
