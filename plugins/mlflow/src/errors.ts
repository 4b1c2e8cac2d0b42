/** An MLflow REST call that failed, with what the server (or the network) said. Never holds credentials. */
export class MlflowApiError extends Error {
  constructor(
    message: string,
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    /** MLflow's `error_code` (RESOURCE_DOES_NOT_EXIST, INVALID_PARAMETER_VALUE, ...), or a network code. */
    readonly errorCode: string,
    readonly endpoint: string,
  ) {
    super(message);
    this.name = 'MlflowApiError';
  }

  /** Worth retrying later: the server was unreachable, overloaded or failed on its side. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }

  get notFound(): boolean {
    return this.status === 404 || this.errorCode === 'RESOURCE_DOES_NOT_EXIST';
  }

  get unauthorized(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

export function isRetryable(e: unknown): boolean {
  return e instanceof MlflowApiError ? e.retryable : false;
}

/** The server is gone or overloaded (after the retries): spool and try later, or stop a replay here. */
export function isUnreachable(e: unknown): e is MlflowApiError {
  return e instanceof MlflowApiError && [0, 429, 502, 503, 504].includes(e.status);
}
