/**
 * What the registration service is asked and answers: the kinds of
 * message, where a request came from, and the replies it refuses with.
 */
import { STORE_RETRY_AFTER_S } from './store-api.ts';
import { STATUS_OF } from './status-of.ts';

export type MessageKind = 'hello' | 'start' | 'finish' | 'unregister';

/** Where a request came from, as the server itself observed it. */
export interface Channel {
  readonly route: 'direct' | 'relay';
  /** The peer address (direct) or the address the relay reports (relay). */
  readonly source: string;
}

export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

export function errorReply(code: string, message: string, headers?: Record<string, string>): Reply {
  return {
    status: STATUS_OF[code] ?? 500,
    body: { error: { code, message } },
    ...(headers ? { headers } : {}),
  };
}

/** The reply while the store does not answer: retry shortly, nothing was written. */
export function storeDown(): Reply {
  return errorReply(
    'store_unavailable',
    'the server cannot reach its database; nothing was registered, retry shortly',
    { 'retry-after': String(STORE_RETRY_AFTER_S) },
  );
}

/** The error code of a refusal (for the metrics). */
export function codeOf(reply: Reply): string {
  const body = reply.body as { error?: { code?: unknown } } | null;
  return typeof body?.error?.code === 'string' ? body.error.code : `http_${reply.status}`;
}
