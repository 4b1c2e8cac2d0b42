/** Callers waiting for a condition on a run; woken whenever the run may have changed. */
export class Waiters {
  private waiting: (() => void)[] = [];

  /** Resolves true once `cond` holds (checked at each wake()), or with `cond()` after `ms`. */
  waitFor(cond: () => boolean, ms: number): Promise<boolean> {
    if (cond()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.remove(wake);
        resolve(cond());
      }, ms);
      const wake = () => {
        if (!cond()) return;
        clearTimeout(t);
        this.remove(wake);
        resolve(true);
      };
      this.waiting.push(wake);
    });
  }

  wake(): void {
    for (const w of [...this.waiting]) w();
  }

  private remove(w: () => void): void {
    this.waiting = this.waiting.filter((x) => x !== w);
  }
}
