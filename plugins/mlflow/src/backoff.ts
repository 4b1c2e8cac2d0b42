import { MlflowApiError } from './errors';

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

export type Retrying = <T>(fn: () => Promise<T>) => Promise<T>;

/** Retries transient MLflow errors with backoff (telling `onRetry` each time); anything else is the caller's to see. */
export function retryingWith(p: RetryPolicy, onRetry?: () => void): Retrying {
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof MlflowApiError) || !e.retryable || attempt + 1 >= p.attempts) throw e;
        onRetry?.();
        await sleep(backoffMs(attempt, p));
      }
    }
  };
}
