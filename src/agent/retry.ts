/**
 * What to retry and how long to wait: pure decisions over a failure code
 * and the server's Retry-After.
 */

/** What an attempt needs after its wait: a retry cut short by the deadline only hides the reason. */
export const MIN_ATTEMPT_MS = 1000;

/** Whether to wait `waitMs` and try again with `remainingMs` left before the deadline. */
export function isWorthWaiting(waitMs: number, remainingMs: number): boolean {
  return waitMs + MIN_ATTEMPT_MS <= remainingMs;
}

/** Failures worth another attempt within the deadline. */
const TRANSIENT = new Set([
  'unreachable',
  'unavailable',
  'busy',
  'rate_limited',
  'relay_timeout',
  'server_offline',
  'relay_busy',
  'handshake_expired',
  'handshake_unknown',
  'timeout',
  'reset',
  'http_502',
  'http_503',
  'http_504',
]);

export function isTransient(code: string): boolean {
  return TRANSIENT.has(code);
}

/** Retry-After as milliseconds (seconds or an HTTP date); undefined when absent or invalid. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d{1,6}$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Jittered exponential backoff (full jitter over 250 ms * 2^attempt, at most
 * 10 s), but never sooner than the server's Retry-After.
 */
export function backoffMs(
  attempt: number,
  retryAfterMs: number | undefined,
  random: () => number,
): number {
  const ceiling = Math.min(10_000, 250 * 2 ** Math.min(attempt, 10));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  return Math.max(jittered, retryAfterMs ?? 0);
}

/** Route failures that another round may clear: something answered busy or did not answer. */
const RETRYABLE_ROUTE = new Set(['unreachable', 'unavailable', 'rate_limited']);

/** Whether a failure to find any route is worth another round (a permanent 4xx or auth failure is not). */
export function isRetryableRouteFailure(err: {
  code: string;
  reports: readonly { errorCode: string | null }[];
}): boolean {
  return (
    (err.code === 'busy' || err.code === 'no_route') &&
    err.reports.some((r) => r.errorCode !== null && RETRYABLE_ROUTE.has(r.errorCode))
  );
}

/** Transient codes that end the run become "no route" or "busy". */
export function finalCode(code: string): string {
  if (
    code === 'rate_limited' ||
    code === 'busy' ||
    code === 'relay_busy' ||
    code === 'unavailable' ||
    code === 'http_503'
  )
    return 'busy';
  if (
    [
      'timeout',
      'reset',
      'unreachable',
      'server_offline',
      'relay_timeout',
      'http_502',
      'http_504',
    ].includes(code)
  )
    return 'no_route';
  return code;
}

/** The line shown before a wait: why it waits (a 429 says who limits), for how long, and the deadline. */
export function retryMessage(
  code: string | undefined,
  waitMs: number,
  remainingMs: number,
): string {
  const why = code === 'rate_limited' ? 'the server limits attempts from this address; ' : '';
  return `${why}retrying in ${(waitMs / 1000).toFixed(1)} s (deadline in ${Math.round(remainingMs / 1000)} s)`;
}
