/**
 * The client's signed unregister (`POST /v1/unregister`, and through the
 * relay): a registered client asks the server to forget it, signing the
 * request with the key it registered. Checks in a fixed order, each with a
 * stable code; a success removes the client exactly as
 * `bootstrap-server clients remove ID` does.
 */
import {
  UNREGISTER_CONTEXT,
  fromB64u,
  parseUnregister,
  unregisterSignedBytes,
  verifyWith,
} from '../protocol/index.ts';
import type { UnregisterRequest } from '../protocol/index.ts';
import { ProtocolError } from '../protocol/index.ts';
import type { Logger } from '../common/log.ts';
import { removeClient } from './clients.ts';
import type { DataDir } from './data-dir.ts';
import { STATUS_OF } from './status-of.ts';
import type { Channel, Reply } from './registration-reply.ts';
import { addressGroup } from './source.ts';

/** How far the request's time may be from the server's clock. */
export const UNREGISTER_SKEW_MS = 10 * 60_000;
/** Requests one source (an IPv6 /64 as one) may make in a window. */
export const UNREGISTER_LIMIT = { requests: 20, windowMs: 60_000 };
/** Sources remembered at once by the limiter. */
const MAX_SOURCES = 10_000;

export interface UnregisterDeps {
  readonly dd: DataDir;
  readonly log: Logger;
  readonly now: () => number;
}

/** An expected refusal of an unregister; its HTTP status comes from the server's one table. */
class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  get status(): number {
    return STATUS_OF[this.code] ?? 400;
  }
}

/** A fixed-window count per source, bounded in memory. */
function createWindowLimiter(limit: typeof UNREGISTER_LIMIT) {
  const windows = new Map<string, { start: number; n: number }>();
  return (key: string, now: number): number => {
    let w = windows.get(key);
    if (!w || now - w.start >= limit.windowMs) {
      windows.delete(key);
      w = { start: now, n: 0 };
      windows.set(key, w);
      if (windows.size > MAX_SOURCES) windows.delete(windows.keys().next().value as string);
    }
    w.n += 1;
    return w.n > limit.requests ? w.start + limit.windowMs - now : 0;
  };
}

/** Builds the handler of unregister requests. */
export function createUnregisterService(deps: UnregisterDeps) {
  const { dd, log } = deps;
  const limited = createWindowLimiter(UNREGISTER_LIMIT);

  async function check(body: unknown, channel: Channel): Promise<UnregisterRequest> {
    const group = addressGroup(channel.source);
    const waitMs = limited(`${channel.route}:${group}`, deps.now());
    if (waitMs > 0) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      throw new Refusal(
        'rate_limited',
        `too many unregister requests from this network; retry in ${seconds} s`,
        { 'retry-after': String(seconds) },
      );
    }
    let req: UnregisterRequest;
    try {
      req = parseUnregister(body);
    } catch (err) {
      if (err instanceof ProtocolError) throw new Refusal(err.code, err.message);
      throw err;
    }
    if (req.serverId !== dd.identity.serverId)
      throw new Refusal('wrong_server', 'the request names another server id');
    const client = await dd.store.clientById(req.clientId);
    if (!client) throw new Refusal('unknown_client', 'this server has no client with that id');
    if (Math.abs(req.time - deps.now()) > UNREGISTER_SKEW_MS)
      throw new Refusal(
        'stale_request',
        "the request's time is more than 10 minutes from the server's clock; check this machine's clock",
      );
    const ok = verifyWith(
      fromB64u(client.clientKey, 'clientKey', 32),
      UNREGISTER_CONTEXT,
      unregisterSignedBytes(req),
      fromB64u(req.sig, 'sig', 64),
    );
    if (!ok)
      throw new Refusal(
        'bad_signature',
        'the signature is not by the key this client registered with',
      );
    return req;
  }

  return async (body: unknown, channel: Channel): Promise<Reply> => {
    const iso = new Date(deps.now()).toISOString();
    try {
      const req = await check(body, channel);
      const removed = await removeClient(
        dd,
        req.clientId,
        { via: 'client', source: channel.source, route: channel.route },
        new Date(deps.now()),
      );
      log.info('client.removed', {
        clientId: removed.clientId,
        via: 'client',
        route: channel.route,
        source: channel.source,
      });
      return { status: 200, body: { v: 1, clientId: removed.clientId, removed: true } };
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      await dd.store.auditRepeated(
        {
          event: 'unregister',
          route: channel.route,
          source: addressGroup(channel.source),
          outcome: 'refused',
          reason: err.code,
        },
        iso,
      );
      log.info('unregister.refused', {
        route: channel.route,
        source: channel.source,
        reason: err.code,
      });
      return {
        status: err.status,
        body: { error: { code: err.code, message: err.message } },
        ...(err.headers ? { headers: err.headers } : {}),
      };
    }
  };
}
