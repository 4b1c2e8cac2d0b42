export interface RetryPolicy {
  /** Tries in all (first + retries). */
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseMs: 250, maxMs: 8000 };

/** Exponential backoff with ±25 % jitter so parallel workers do not retry in lockstep. */
export function backoffMs(attempt: number, p: RetryPolicy, rand: () => number = Math.random): number {
  const raw = Math.min(p.maxMs, p.baseMs * 2 ** attempt);
  return Math.round(raw * (0.75 + 0.5 * rand()));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
