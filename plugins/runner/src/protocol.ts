import * as readline from 'node:readline';
import { TrialPruned } from '@iccl/trainer-api';

/**
 * The trial protocol that lets any search tool (Optuna in Python, Ray Tune, a shell script) run one
 * trial as a process: `iccl-run PLUGIN --protocol`. Documented in plugins/runner/README.md; the
 * names here are that document's.
 */
export const PROTOCOL = 'iccl-trial/1';

/** Exit statuses a tool can tell apart without reading anything. */
export const EXIT = { complete: 0, failed: 1, usage: 2, pruned: 3, interrupted: 130 } as const;

/**
 * Signals that ask for a prune, sent to the `pid` of `hello` (the trial itself: npx or a shell in
 * between does not pass them on). SIGUSR2 is the one to use; SIGUSR1 is still accepted there.
 */
export const PRUNE_SIGNALS = ['SIGUSR2', 'SIGUSR1'] as const;

/** Runner -> tool, one JSON object per line on stdout (nothing else is written there). */
export type ToTool =
  | { type: 'hello'; protocol: typeof PROTOCOL; run: string; plugin: string; params: Record<string, unknown>; workDir: string; pid: number }
  | { type: 'report'; step: number; metrics: Record<string, number>; value?: number }
  | { type: 'result'; status: 'complete'; metrics: Record<string, number>; value?: number; objective?: number; artifacts: string[] }
  | { type: 'result'; status: 'pruned'; step: number; value?: number; checkpoint: string }
  | { type: 'result'; status: 'failed' | 'interrupted'; error: string };

/** Tool -> runner, one JSON object per line on stdin. */
export type FromTool = { type: 'prune' } | { type: 'continue' };

export interface ChannelOptions {
  /** Writes one line to the tool (the real stdout). */
  write: (line: string) => void;
  /** The tool's commands (stdin). */
  input: NodeJS.ReadableStream;
  /** After each report, wait for the tool's `continue` or `prune` (Optuna's report / should_prune). */
  waitForDecision: boolean;
  /** Metric whose value a report carries as `value` (the tool's intermediate objective). */
  reportMetric?: string;
  /** Where to say that a line from the tool was not understood. */
  warn: (message: string) => void;
}

/**
 * One trial's side of the protocol. `report` is the TrialContext's: it sends the values, then
 * (waiting for the tool's decision when asked to) throws TrialPruned when a prune was requested,
 * by a `prune` line or by `requestPrune()` (PRUNE_SIGNALS), so the trainer stops at its next report with
 * the checkpoint of the epoch it just finished.
 */
export class ProtocolChannel {
  private pruneRequested = false;
  private inputClosed = false;
  private waiting: ((d: FromTool['type'] | 'eof') => void) | null = null;
  private readonly decisions: FromTool['type'][] = [];

  constructor(private readonly o: ChannelOptions) {
    const rl = readline.createInterface({ input: o.input, crlfDelay: Infinity });
    rl.on('line', (line) => this.onLine(line));
    rl.on('close', () => {
      this.inputClosed = true;
      this.waiting?.('eof');
      this.waiting = null;
    });
  }

  send(msg: ToTool): void {
    this.o.write(JSON.stringify(msg) + '\n');
  }

  requestPrune(): void {
    this.pruneRequested = true;
  }

  get pruned(): boolean {
    return this.pruneRequested;
  }

  readonly report = async (step: number, metrics: Record<string, number>): Promise<void> => {
    const value = this.o.reportMetric === undefined ? undefined : metrics[this.o.reportMetric];
    this.send({ type: 'report', step, metrics, ...(value === undefined ? {} : { value }) });
    // With stdin closed there is nobody to decide: go on (a prune already requested still holds).
    if (this.o.waitForDecision && !this.inputClosed) {
      const d = await this.nextDecision();
      if (d === 'prune') this.pruneRequested = true;
    }
    if (this.pruneRequested) throw new TrialPruned(step, value);
  };

  private nextDecision(): Promise<FromTool['type'] | 'eof'> {
    const queued = this.decisions.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  private onLine(line: string): void {
    if (!line.trim()) return;
    let msg: Partial<FromTool> | undefined;
    try {
      msg = JSON.parse(line) as Partial<FromTool>;
    } catch {
      msg = undefined;
    }
    if (msg?.type !== 'prune' && msg?.type !== 'continue') {
      this.o.warn(`protocol: ignored a line from the tool (expected {"type":"prune"} or {"type":"continue"}): ${line.slice(0, 200)}`);
      return;
    }
    if (msg.type === 'prune') this.pruneRequested = true;
    if (!this.o.waitForDecision) return;
    if (this.waiting) {
      this.waiting(msg.type);
      this.waiting = null;
    } else {
      this.decisions.push(msg.type);
    }
  }
}
