/**
 * The server's outbound tunnel to the relay: a few concurrent long polls
 * take client requests, the registration service answers them, and the
 * replies go back in one POST per batch. Reconnects with jittered backoff;
 * logs when the tunnel comes up and when it drops.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isIP } from 'node:net';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import type { Logger } from '../common/log.ts';
import type { Channel, MessageKind, Reply } from './registration-reply.ts';

export interface TunnelDeps {
  readonly relayUrl: string;
  readonly serverId: string;
  readonly token: string;
  readonly handle: (kind: MessageKind, body: unknown, channel: Channel) => Promise<Reply>;
  readonly log: Logger;
  readonly dispatcher: Dispatcher;
  readonly signal: AbortSignal;
  readonly concurrency?: number;
  /** Called when the tunnel's state changes. */
  readonly onState?: (state: TunnelState) => void;
}

/** The tunnel as the administrator sees it (the page, `start`). */
export type TunnelState =
  | { readonly state: 'not-configured' }
  | { readonly state: 'connecting' }
  | { readonly state: 'connected'; readonly since: string }
  | { readonly state: 'refused'; readonly reason: string; readonly since: string }
  | { readonly state: 'down'; readonly reason: string; readonly since: string };

/** The relay said no to this server: its token or server id is not what the relay holds. */
class TunnelRefused extends Error {}

interface RelayRequest {
  readonly id: string;
  readonly kind: string;
  readonly body: string;
  readonly source: string;
}

const KINDS: readonly string[] = ['hello', 'start', 'finish', 'unregister'];

/** Answers one client request the relay carried; exported for its unit test. */
export async function answerRelayRequest(
  item: RelayRequest,
  handle: TunnelDeps['handle'],
  log?: Logger,
): Promise<{ id: string; status: number; body: string; retryAfter?: string }> {
  const refusal = (message: string) => ({
    id: item.id,
    status: 400,
    body: JSON.stringify({ error: { code: 'bad_request', message } }),
  });
  // The guess limits count per client address: a relay must name one, not any text it likes.
  const source = String(item.source);
  if (isIP(source) === 0) return refusal('the relay reported no client address');
  let body: unknown = null;
  if (item.kind !== 'hello') {
    try {
      body = JSON.parse(item.body) as unknown;
    } catch {
      return refusal('the request body is not valid JSON');
    }
  }
  let reply: Reply;
  try {
    reply = await handle(item.kind as MessageKind, body, { route: 'relay', source });
  } catch (err) {
    // A bug answers this one request, not the whole batch the relay is waiting on.
    log?.error('server.bug', { err });
    reply = {
      status: 500,
      body: { error: { code: 'internal', message: 'the server failed; see its log' } },
    };
  }
  const retryAfter = reply.headers?.['retry-after'];
  return {
    id: item.id,
    status: reply.status,
    body: JSON.stringify(reply.body),
    ...(retryAfter ? { retryAfter } : {}),
  };
}

function isRelayRequest(v: unknown): v is RelayRequest {
  const o = v as Partial<RelayRequest> | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.id === 'string' &&
    typeof o.body === 'string' &&
    typeof o.kind === 'string' &&
    KINDS.includes(o.kind)
  );
}

/** Why the relay refused the tunnel, in words, from its status and error body. */
function refusalReason(status: number, text: string): string {
  let message = '';
  try {
    const m = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof m === 'string') message = m.slice(0, 200);
  } catch {
    // not JSON: the status says enough
  }
  const what =
    status === 401
      ? 'the relay refused the tunnel token'
      : status === 404
        ? 'the relay does not know this server id (or is not a bootstrap-relay)'
        : `the relay refused the tunnel (${status})`;
  return message ? `${what}: ${message}` : what;
}

/** Rejects when the signal aborts. */
function abortion(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(new Error('aborted'));
    signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
  });
}

/** Keeps the tunnel up until the signal aborts. */
export async function runTunnel(deps: TunnelDeps): Promise<void> {
  const base = deps.relayUrl.replace(/\/+$/, '');
  const pollUrl = `${base}/v1/tunnel/${deps.serverId}/poll`;
  const replyUrl = `${base}/v1/tunnel/${deps.serverId}/reply`;
  const headers = { authorization: `Bearer ${deps.token}`, 'content-type': 'application/json' };
  let up = false;
  let downSince: number | null = null;
  // While the tunnel is down one poller (the leader) probes the relay on a short, jittered
  // schedule; the others wait for it, so a relay that comes back is used within a second or two.
  let leader: number | null = null;
  let wakeAll: (() => void) | null = null;
  let wokenUp: Promise<void> | null = null;
  /** The state last reported (kind only): each change is reported once. */
  let reported = 'connecting';
  const report = (state: TunnelState): void => {
    if (state.state === reported) return;
    reported = state.state;
    deps.onState?.(state);
  };
  const setUp = (next: boolean, detail: { reason?: string; refused?: boolean } = {}): void => {
    const since = new Date().toISOString();
    if (!next && detail.refused && reported !== 'refused') {
      // Said once, as an error: retrying will not help until the token is fixed.
      deps.log.error('tunnel.refused', { relay: base, reason: detail.reason });
      report({ state: 'refused', reason: detail.reason ?? 'refused', since });
    } else if (!next && !detail.refused && reported === 'connecting') {
      report({ state: 'down', reason: detail.reason ?? 'unreachable', since });
    }
    if (next === up) return;
    up = next;
    if (next) {
      deps.log.info('tunnel.up', {
        relay: base,
        ...(downSince === null ? {} : { downMs: Date.now() - downSince }),
      });
      downSince = null;
      wakeAll?.();
      wakeAll = null;
      wokenUp = null;
      report({ state: 'connected', since });
    } else {
      downSince = Date.now();
      if (!detail.refused) {
        deps.log.warn('tunnel.down', { relay: base, reason: detail.reason });
        report({ state: 'down', reason: detail.reason ?? 'unreachable', since });
      }
    }
  };
  const aborted = abortion(deps.signal);
  aborted.catch(() => undefined);
  const untilUp = (): Promise<void> => {
    wokenUp ??= new Promise<void>((resolve) => {
      wakeAll = resolve;
    });
    return wokenUp;
  };

  async function poller(index: number): Promise<void> {
    let failures = 0;
    while (!deps.signal.aborted) {
      try {
        const res = await request(pollUrl, {
          method: 'POST',
          headers,
          body: '{}',
          dispatcher: deps.dispatcher,
          signal: deps.signal,
          headersTimeout: 60_000,
          bodyTimeout: 60_000,
        });
        if (res.statusCode !== 200) {
          const text = await res.body.text().catch(() => '');
          if (res.statusCode === 401 || res.statusCode === 403 || res.statusCode === 404)
            throw new TunnelRefused(refusalReason(res.statusCode, text));
          throw new Error(`the relay answered ${res.statusCode}`);
        }
        setUp(true);
        if (leader === index) leader = null;
        failures = 0;
        const payload = (await res.body.json()) as { requests?: unknown };
        const items = Array.isArray(payload.requests)
          ? payload.requests.filter(isRelayRequest)
          : [];
        if (items.length === 0) continue;
        const replies = await Promise.all(
          items.map((item) => answerRelayRequest(item, deps.handle, deps.log)),
        );
        const sent = await request(replyUrl, {
          method: 'POST',
          headers,
          body: JSON.stringify({ replies }),
          dispatcher: deps.dispatcher,
          signal: deps.signal,
        });
        await sent.body.dump();
      } catch (err) {
        if (deps.signal.aborted) return;
        setUp(false, {
          reason: err instanceof Error ? err.message : String(err),
          refused: err instanceof TunnelRefused,
        });
        leader ??= index;
        try {
          if (leader !== index) {
            await Promise.race([untilUp(), aborted]);
            continue;
          }
          failures += 1;
          const ceiling = Math.min(2_000, 250 * 2 ** Math.min(failures, 3));
          await sleep(ceiling / 2 + Math.random() * (ceiling / 2), undefined, {
            signal: deps.signal,
          });
        } catch {
          return;
        }
      }
    }
  }

  await Promise.all(Array.from({ length: deps.concurrency ?? 4 }, (_, i) => poller(i)));
}
