/**
 * Errors that mean "the connection is gone or the server is not there right now" (a restart, a
 * dropped connection), as opposed to errors of the statement itself: only those are retried.
 */
const NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** SQLSTATEs: admin/crash shutdown, starting up, too many connections (class 08 is handled below). */
const SQL_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
const MESSAGES = /Connection terminated|connection terminated unexpectedly|Client has encountered a connection error|Client was closed and is not queryable|timeout exceeded when trying to connect|the database system is (starting up|shutting down|in recovery mode)/i;

export function isConnectionError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && (NODE_CODES.has(code) || SQL_STATES.has(code) || code.startsWith('08'))) return true;
  return MESSAGES.test(e.message);
}
