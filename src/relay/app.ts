/**
 * The relay's HTTP surface. Clients: `/v1/servers/{id}/hello`,
 * `.../register/start`, `.../register/finish`, `.../unregister`, `.../status`. Servers, with
 * their tunnel token: `POST /v1/tunnel/{id}/poll` (long poll for client
 * requests) and `POST /v1/tunnel/{id}/reply` (in tunnel-route.ts). The
 * relay passes bodies through unchanged and adds only the client's address.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  HttpError,
  readBody,
  remoteAddressOf,
  requireJson,
  sendError,
  sendJson,
} from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import type { Fleet } from './fleet.ts';
import type { RelayMetrics } from './metrics.ts';
import { serveOps } from './metrics.ts';
import { timeoutReply } from './queue.ts';
import type { RelayItem, RelayQueues, ReplyPayload } from './queue.ts';
import { RegistryUnavailable } from './registry.ts';
import { tunnelRoute } from './tunnel-route.ts';
import type { RelayRegistry } from './registry.ts';

export interface RelayOptions {
  /** How long a client request waits for the server's answer. */
  readonly requestTimeoutMs: number;
  /** How long a server poll waits for client requests. */
  readonly pollWaitMs: number;
  /** A server is online while polling, and this long after its last poll. */
  readonly onlineGraceMs: number;
  /** Most requests handed to one poll. */
  readonly pollBatch: number;
}

export const DEFAULT_RELAY_OPTIONS: RelayOptions = {
  requestTimeoutMs: 30_000,
  pollWaitMs: 25_000,
  onlineGraceMs: 35_000,
  pollBatch: 64,
};

export interface RelayDeps {
  readonly registry: RelayRegistry;
  readonly queues: RelayQueues;
  readonly log: Logger;
  readonly options: RelayOptions;
  /** Fleet mode: the NATS link to the other instances. */
  readonly fleet?: Fleet;
  readonly metrics?: RelayMetrics;
  /** The client's address (behind a trusted load balancer: from X-Forwarded-For). */
  readonly sourceOf?: (req: IncomingMessage) => string;
}

/** In a fleet, a request is held where a poll of its server waits or ended this recently. */
const FLEET_ACTIVE_MS = 1_000;

const CLIENT_ROUTE =
  /^\/v1\/servers\/([A-Za-z0-9_-]{22})\/(hello|register\/start|register\/finish|unregister|status)$/;
const TUNNEL_ROUTE = /^\/v1\/tunnel\/([A-Za-z0-9_-]{22})\/(poll|reply)$/;

/** The tunnel's request kind for each client route. */
const KIND_OF: Record<string, string> = {
  hello: 'hello',
  'register/start': 'start',
  'register/finish': 'finish',
  unregister: 'unregister',
};

/** Builds the relay's request listener; it does not listen. */
export function createRelayApp(deps: RelayDeps): RequestListener {
  const { registry, queues, log, options, fleet, metrics } = deps;
  const sourceOf = deps.sourceOf ?? remoteAddressOf;

  /**
   * Holds a request in this instance's queue until the server answers, the
   * timeout, or the client leaves. With `handbackMs` (fleet mode), a request
   * no poll took by then is withdrawn ('handback') to be tried elsewhere.
   */
  function holdHere(
    serverId: string,
    item: RelayItem,
    res: ServerResponse,
    handbackMs?: number,
  ): Promise<ReplyPayload | 'busy' | 'handback' | null> {
    return new Promise((resolve) => {
      const timers: { timeout?: NodeJS.Timeout; handback?: NodeJS.Timeout } = {};
      const settle = (v: ReplyPayload | 'handback' | null): void => {
        clearTimeout(timers.timeout);
        clearTimeout(timers.handback);
        resolve(v);
      };
      const accepted = queues.submit(serverId, item, settle);
      if (!accepted) {
        resolve('busy');
        return;
      }
      timers.timeout = setTimeout(() => {
        if (queues.cancel(serverId, item.id)) settle(timeoutReply());
      }, options.requestTimeoutMs);
      if (handbackMs !== undefined)
        timers.handback = setTimeout(() => {
          if (queues.isQueued(serverId, item.id) && queues.cancel(serverId, item.id))
            settle('handback');
        }, handbackMs);
      res.on('close', () => {
        if (!res.writableFinished && queues.cancel(serverId, item.id)) settle(null);
      });
    });
  }

  /**
   * Here when the server polls here (a poll waits, or, in a fleet, one ended
   * within a second; alone or cut off from NATS, within the online grace);
   * else, or when no poll takes it within 2 s, through the fleet.
   */
  async function deliver(
    serverId: string,
    item: Omit<RelayItem, 'id'>,
    res: ServerResponse,
  ): Promise<ReplyPayload | 'busy' | 'offline' | null> {
    if (!fleet?.connected) {
      if (!queues.isOnline(serverId, options.onlineGraceMs)) return 'offline';
      metrics?.requests.inc({ path: 'local' });
      const held = await holdHere(serverId, { ...item, id: fleet?.newId() ?? randomUUID() }, res);
      return held === 'handback' ? 'offline' : held;
    }
    if (queues.isActive(serverId, FLEET_ACTIVE_MS)) {
      const held = await holdHere(serverId, { ...item, id: fleet.newId() }, res, 2_000);
      if (held !== 'handback') {
        metrics?.requests.inc({ path: 'local' });
        return held;
      }
    }
    metrics?.requests.inc({ path: 'fleet' });
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    return fleet.forward(serverId, item, gone.signal);
  }

  async function client(
    req: IncomingMessage,
    res: ServerResponse,
    serverId: string,
    route: string,
  ): Promise<void> {
    if (!registry.ready)
      throw new HttpError(503, 'relay_starting', 'the relay is still reading its registry', {
        'retry-after': '2',
      });
    if (!(await knows(serverId)))
      throw new HttpError(404, 'unknown_server', 'this relay does not know that server id');
    if (route === 'status') {
      if (req.method !== 'GET') throw new HttpError(405, 'method_not_allowed', 'use GET');
      const online =
        queues.isOnline(serverId, options.onlineGraceMs) ||
        (fleet?.connected === true && (await fleet.online(serverId)));
      sendJson(res, 200, { online });
      return;
    }
    const kind = KIND_OF[route] ?? 'finish';
    const method = kind === 'hello' ? 'GET' : 'POST';
    if (req.method !== method) throw new HttpError(405, 'method_not_allowed', `use ${method}`);
    if (method === 'POST') requireJson(req);
    const body = kind === 'hello' ? '' : (await readBody(req)).toString('utf8');
    const reply = await deliver(serverId, { kind, body, source: sourceOf(req) }, res);
    if (res.destroyed || reply === null) return;
    if (reply === 'offline')
      throw new HttpError(503, 'server_offline', 'the server is not connected to the relay', {
        'retry-after': '10',
      });
    if (reply === 'busy')
      throw new HttpError(503, 'relay_busy', 'the relay is holding too many requests', {
        'retry-after': '2',
      });
    metrics?.replies.inc({ status: String(reply.status) });
    res.writeHead(reply.status, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      ...(reply.retryAfter ? { 'retry-after': reply.retryAfter } : {}),
    });
    res.end(reply.body);
  }

  /**
   * Whether the registry has the server. A registry that cannot be asked
   * is a 503 to retry, never "unknown server" (a 404 ends an agent's run
   * with a configuration error, a 401 a server's tunnel).
   */
  async function knows(serverId: string): Promise<boolean> {
    if (registry.has(serverId)) return true;
    try {
      return (await registry.lookup?.(serverId)) ?? false;
    } catch (err) {
      if (!(err instanceof RegistryUnavailable)) throw err;
      log.warn('registry.unavailable', { serverId, err: err.message });
      throw new HttpError(503, 'registry_unavailable', 'the relay cannot read its registry now', {
        'retry-after': '2',
      });
    }
  }

  const tunnel = tunnelRoute(deps, knows);

  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const clientMatch = CLIENT_ROUTE.exec(path);
    const tunnelMatch = clientMatch ? null : TUNNEL_ROUTE.exec(path);
    const work = clientMatch
      ? client(req, res, clientMatch[1] as string, clientMatch[2] as string)
      : tunnelMatch
        ? tunnel(req, res, tunnelMatch[1] as string, tunnelMatch[2] as string)
        : (serveOps(req, res, path, { registry, queues, fleet, metrics }) ??
          Promise.reject(new HttpError(404, 'not_found', 'no such endpoint')));
    work.catch((err: unknown) => {
      if (err instanceof HttpError) {
        sendError(res, err);
        return;
      }
      log.error('relay.bug', { err, path });
      sendError(res, new HttpError(500, 'internal', 'the relay failed; see its log'));
    });
  };
}
