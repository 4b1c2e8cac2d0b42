/**
 * Where a tracked run is. `end()` is not a state of its own: an ended run is still opening, open
 * or spooling until what it logged is on the server, and then it is settled.
 *
 * - opening: not on the server yet; the tracker is creating it, or finding it again by key.
 * - open: on the server; operations are sent as they come.
 * - spooling: the server is away (or the run waits for older operations to land first):
 *   operations go to the spool file.
 * - replaying: the server answers again; the spool is being replayed, before anything newer.
 * - failed: the server refused to create the run; what it logs is dropped (and counted).
 * - settled: ended, and nothing is left to send: all on the server (or refused by it).
 * - abandoned: the process ends first; what was not sent waits in the spool for the next start.
 */
export type RunState = 'opening' | 'open' | 'spooling' | 'replaying' | 'failed' | 'settled' | 'abandoned';

const NEXT: Record<RunState, readonly RunState[]> = {
  opening: ['open', 'spooling', 'failed', 'abandoned'],
  open: ['spooling', 'settled', 'abandoned'],
  // Refused: a create answered after spill() found the server slow.
  spooling: ['replaying', 'failed', 'abandoned'],
  // Replayed: open, or opening when the run is not on the server yet (nothing was spooled, or the
  // file was broken and set aside); away again: spooling.
  replaying: ['open', 'opening', 'spooling', 'abandoned'],
  failed: ['settled', 'abandoned'],
  settled: [],
  abandoned: [],
};

/** The one place a run changes state; an impossible change is a bug, and says which. */
export class RunStateMachine {
  private current: RunState = 'opening';

  constructor(private readonly runName: string) {}

  get state(): RunState {
    return this.current;
  }

  is(...states: RunState[]): boolean {
    return states.includes(this.current);
  }

  /** No more work for this run (settled or abandoned). */
  get finished(): boolean {
    return this.current === 'settled' || this.current === 'abandoned';
  }

  to(next: RunState): void {
    if (!NEXT[this.current].includes(next)) {
      throw new Error(`mlflow run ${JSON.stringify(this.runName)}: cannot go from ${this.current} to ${next} (allowed: ${NEXT[this.current].join(', ') || 'none'})`);
    }
    this.current = next;
  }
}
