/**
 * The server's registration listener (`/v1/...`), built without listening,
 * and what both listeners share: their dependencies and the answer an error
 * becomes. The admin listener is in admin-app.ts.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { UserError } from '../common/errors.ts';
import {
  HttpError,
  parseJsonBody,
  readBody,
  remoteAddressOf,
  requireJson,
  sendError,
  sendJson,
} from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import type { DataDir } from './data-dir.ts';
import type { RegistrationService } from './registration.ts';
import type { MessageKind } from './registration-reply.ts';
import type { TunnelState } from './tunnel.ts';
import { serveServerOps } from './ops.ts';
import type { ServerMetrics } from './ops.ts';
import { STORE_RETRY_AFTER_S } from './store-api.ts';

export interface ServerAppDeps {
  readonly dd: DataDir;
  readonly service: RegistrationService;
  readonly log: Logger;
  readonly now: () => number;
  /** URLs for client-config over the API. */
  readonly urls: () => { serverUrl?: string; relayUrl?: string };
  /** Host header values the admin listener answers to (lower case, with port). */
  readonly adminHosts: () => ReadonlySet<string>;
  /** The relay tunnel's state, for the page. */
  readonly tunnel: () => TunnelState;
  /** The client's address (default: the peer's; behind a trusted balancer, from X-Forwarded-For). */
  readonly sourceOf?: (req: IncomingMessage) => string;
  /** Readiness and metrics for /healthz, /readyz and /metrics. */
  readonly ops?: {
    readonly readiness: () => Promise<{ ready: boolean; reason?: string }>;
    readonly metrics?: ServerMetrics;
  };
}

const ROUTES: Record<string, { method: string; kind: MessageKind }> = {
  '/v1/hello': { method: 'GET', kind: 'hello' },
  '/v1/register/start': { method: 'POST', kind: 'start' },
  '/v1/register/finish': { method: 'POST', kind: 'finish' },
  '/v1/unregister': { method: 'POST', kind: 'unregister' },
};

/** Sends the answer a failed request's error calls for; anything unexpected is logged as a bug (500). */
export function guard(res: ServerResponse, log: Logger, work: Promise<void>): void {
  work.catch((err: unknown) => {
    if (err instanceof HttpError) return sendError(res, err);
    if (err instanceof UserError)
      return sendError(
        res,
        new HttpError(
          STATUS_OF_ADMIN[err.code] ?? 400,
          err.code,
          err.message,
          err.code === 'store_unavailable' ? { 'retry-after': String(STORE_RETRY_AFTER_S) } : {},
        ),
      );
    log.error('server.bug', { err });
    sendError(res, new HttpError(500, 'internal', 'the server failed; see its log'));
  });
}

const STATUS_OF_ADMIN: Record<string, number> = {
  weak_secret: 422,
  too_many_secrets: 409,
  duplicate_secret: 409,
  unknown_secret: 404,
  unknown_client: 404,
  bad_mode: 400,
  bad_label: 400,
  bad_expiry: 400,
  bad_max_uses: 400,
  store_unavailable: 503,
};

/** The registration listener: direct clients. */
export function createRegistrationApp(deps: ServerAppDeps): RequestListener {
  return (req, res) => {
    guard(
      res,
      deps.log,
      (async () => {
        const path = (req.url ?? '/').split('?')[0] as string;
        // Probes for the load balancer: health and readiness, never the metrics.
        const ops =
          deps.ops && (path === '/healthz' || path === '/readyz')
            ? serveServerOps(req, res, path, {
                store: deps.dd.store,
                readiness: deps.ops.readiness,
              })
            : null;
        if (ops) return ops;
        const route = ROUTES[path];
        if (!route) throw new HttpError(404, 'not_found', 'no such endpoint');
        if (req.method !== route.method)
          throw new HttpError(405, 'method_not_allowed', `use ${route.method}`);
        if (route.method === 'POST') requireJson(req);
        const body = route.method === 'POST' ? parseJsonBody(await readBody(req)) : null;
        const reply = await deps.service.handle(route.kind, body, {
          route: 'direct',
          source: (deps.sourceOf ?? remoteAddressOf)(req),
        });
        sendJson(res, reply.status, reply.body, reply.headers);
      })(),
    );
  };
}
