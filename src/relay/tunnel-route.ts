/**
 * The servers' side of the relay: `POST /v1/tunnel/{id}/poll`, a long poll
 * that hands over the client requests waiting for that server, and
 * `POST /v1/tunnel/{id}/reply`, its answers. Both need the server's tunnel
 * token.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, parseJsonBody, readBody, remoteAddressOf, sendJson } from '../common/http.ts';
import type { RelayDeps } from './app.ts';
import type { ReplyPayload } from './queue.ts';

const OFFLINE_REPLY = {
  status: 503,
  body: JSON.stringify({
    error: { code: 'server_offline', message: 'the server disconnected from the relay' },
  }),
  retryAfter: '10',
};

function bearer(req: IncomingMessage): string {
  const header = req.headers.authorization ?? '';
  return header.startsWith('Bearer ') ? header.slice(7).trim() : '';
}

/** The tunnel's handler; `knows` answers whether the registry has a server (a 503 when it cannot say). */
export function tunnelRoute(
  deps: RelayDeps,
  knows: (serverId: string) => Promise<boolean>,
): (req: IncomingMessage, res: ServerResponse, serverId: string, route: string) => Promise<void> {
  const { registry, queues, log, options, fleet } = deps;
  return async function tunnel(
    req: IncomingMessage,
    res: ServerResponse,
    serverId: string,
    route: string,
  ): Promise<void> {
    if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'use POST');
    await knows(serverId);
    if (!registry.verify(serverId, bearer(req))) {
      log.warn('tunnel.unauthorized', { serverId, source: remoteAddressOf(req) });
      throw new HttpError(401, 'unauthorized', 'the tunnel token is not valid for this server');
    }
    if (route === 'poll') {
      req.resume();
      // Headers go out at once so the server knows its tunnel is up while it waits.
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
      });
      res.flushHeaders();
      let withdraw = (): void => undefined;
      const items = await new Promise<unknown[]>((resolve) => {
        const timer = setTimeout(() => {
          withdraw();
          resolve([]);
        }, options.pollWaitMs);
        withdraw = queues.poll(serverId, options.pollBatch, (delivered) => {
          clearTimeout(timer);
          resolve(delivered);
        });
        res.on('close', () => {
          clearTimeout(timer);
          withdraw();
          if (!res.writableFinished) {
            log.warn('tunnel.gone', { serverId });
            queues.gone(serverId, OFFLINE_REPLY);
          }
        });
      });
      if (res.destroyed) return;
      res.end(JSON.stringify({ requests: items }));
      return;
    }
    const replies = parseReplies(parseJsonBody(await readBody(req, 1024 * 1024)));
    let unknown = 0;
    await Promise.all(
      replies.map(async (r) => {
        const { id, ...reply } = r;
        if (queues.reply(serverId, id, reply)) return;
        // Fleet mode: a request another instance holds (its id names the instance).
        if (!(fleet && (await fleet.forwardReply(serverId, id, reply)))) unknown += 1;
      }),
    );
    sendJson(res, 200, { accepted: replies.length - unknown, unknown });
  };
}

function parseReplies(value: unknown): (ReplyPayload & { id: string })[] {
  const list = (value as { replies?: unknown } | null)?.replies;
  if (!Array.isArray(list) || list.length > 1000)
    throw new HttpError(400, 'bad_request', 'expected {replies: [...]} with at most 1000 entries');
  return list.map((r: unknown) => {
    const o = r as { id?: unknown; status?: unknown; body?: unknown; retryAfter?: unknown } | null;
    if (
      typeof o !== 'object' ||
      o === null ||
      typeof o.id !== 'string' ||
      typeof o.status !== 'number' ||
      !Number.isInteger(o.status) ||
      o.status < 200 ||
      o.status > 599 ||
      typeof o.body !== 'string' ||
      (o.retryAfter !== undefined &&
        (typeof o.retryAfter !== 'string' || !/^\d{1,6}$/.test(o.retryAfter)))
    ) {
      throw new HttpError(
        400,
        'bad_request',
        'each reply needs id, an HTTP status, a string body and an optional numeric retryAfter',
      );
    }
    return o.retryAfter === undefined
      ? { id: o.id, status: o.status, body: o.body }
      : { id: o.id, status: o.status, body: o.body, retryAfter: o.retryAfter };
  });
}
