/**
 * The admin listener (`/admin/v1/...` with a bearer admin token, the admin
 * page, and health, readiness and metrics), built without listening. It
 * answers only to its own host names, against DNS rebinding.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  HttpError,
  parseJsonBody,
  readBody,
  remoteAddressOf,
  requireJson,
  sendJson,
} from '../common/http.ts';
import { Secret } from '../protocol/index.ts';
import {
  addSecret,
  applyChanges,
  parseMode,
  removeSecret,
  setMode,
  showSettings,
} from './admin.ts';
import type { Changes } from './admin.ts';
import { servePage } from './admin-page.ts';
import { isAdminToken } from './admin-token.ts';
import { guard } from './app.ts';
import type { ServerAppDeps } from './app.ts';
import { clientConfig, listClientsPage, removeClient } from './clients.ts';
import { formatInstallCommand, defaultSecretPath, INSTALL_SHELLS } from './install-command.ts';
import type { InstallShell } from './install-command.ts';
import { limitsFromBody } from './secrets-expiry.ts';
import { serveServerOps } from './ops.ts';

/** The admin API listener. */
export function createAdminApp(deps: ServerAppDeps): RequestListener {
  const { dd } = deps;
  const now = (): Date => new Date(deps.now());

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    const source = remoteAddressOf(req);
    // DNS rebinding: a page on another site whose name now points here still sends its own Host.
    const host = (req.headers.host ?? '').toLowerCase();
    if (!deps.adminHosts().has(host)) {
      deps.log.warn('admin.bad_host', { source, host: host.slice(0, 100) });
      throw new HttpError(
        421,
        'misdirected_request',
        'this admin listener does not answer to that host name; add it with --admin-host',
      );
    }
    if (!path.startsWith('/admin/v1/')) {
      const ops = deps.ops
        ? serveServerOps(req, res, path, { store: dd.store, ...deps.ops, detail: true })
        : null;
      if (ops) return ops;
      if (servePage(req, res, path)) return;
      throw new HttpError(404, 'not_found', 'no such endpoint');
    }
    const header = req.headers.authorization ?? '';
    if (
      !header.startsWith('Bearer ') ||
      !(await isAdminToken(dd.store, header.slice(7).trim(), deps.now()))
    ) {
      await dd.store.auditRepeated(
        { event: 'admin.auth', route: 'api', source, outcome: 'refused', reason: 'unauthorized' },
        now().toISOString(),
      );
      deps.log.warn('admin.unauthorized', { source, path });
      throw new HttpError(401, 'unauthorized', 'a valid admin token is required', {
        'www-authenticate': 'Bearer',
      });
    }
    const actor = { via: 'api' as const, source };
    const key = `${req.method ?? ''} ${path}`;
    if (req.method === 'POST' || req.method === 'PUT') requireJson(req);
    const secretMatch = /^\/admin\/v1\/secrets\/([A-Za-z0-9_-]{1,40})$/.exec(path);
    const clientMatch = /^\/admin\/v1\/clients\/([A-Za-z0-9_-]{1,100})$/.exec(path);
    if (key === 'GET /admin/v1/settings')
      return sendJson(res, 200, { ...(await showSettings(dd, now())), tunnel: deps.tunnel() });
    if (key === 'PUT /admin/v1/mode') {
      const body = parseJsonBody(await readBody(req)) as { mode?: unknown };
      await setMode(dd, parseMode(typeof body?.mode === 'string' ? body.mode : ''), actor, now());
      return sendJson(res, 200, await showSettings(dd));
    }
    if (key === 'GET /admin/v1/secrets')
      return sendJson(res, 200, await dd.store.secrets.list(now().toISOString()));
    if (key === 'POST /admin/v1/secrets') {
      const body = parseJsonBody(await readBody(req)) as {
        secret?: unknown;
        label?: unknown;
        generate?: unknown;
        allowWeak?: unknown;
        expires?: unknown;
        maxUses?: unknown;
      } | null;
      if (typeof body !== 'object' || body === null)
        throw new HttpError(400, 'bad_request', 'expected a JSON object');
      const generate = body.generate === true;
      if (!generate && typeof body.secret !== 'string')
        throw new HttpError(400, 'bad_request', 'give a secret, or generate: true');
      if (body.label !== undefined && typeof body.label !== 'string')
        throw new HttpError(400, 'bad_request', 'label must be text');
      const added = await addSecret(
        dd,
        {
          ...(generate ? {} : { secret: Secret.from(body.secret as string) }),
          label: body.label,
          allowWeak: body.allowWeak === true,
          limits: limitsFromBody(body, now()),
        },
        actor,
        now(),
      );
      return sendJson(
        res,
        201,
        added.generated ? { ...added, secret: added.generated, generated: true } : added,
      );
    }
    if (secretMatch && req.method === 'DELETE') {
      await removeSecret(dd, secretMatch[1] as string, actor, now());
      return sendJson(res, 200, { removed: secretMatch[1] });
    }
    if (clientMatch && req.method === 'DELETE') {
      const removed = await removeClient(dd, clientMatch[1] as string, actor, now());
      deps.log.info('client.removed', { clientId: removed.clientId, via: 'api', source });
      return sendJson(res, 200, { removed: removed.clientId, hostname: removed.hostname });
    }
    if (key === 'GET /admin/v1/install-command') {
      const shell = (url.searchParams.get('shell') ?? 'sh') as InstallShell;
      if (!INSTALL_SHELLS.includes(shell))
        throw new HttpError(400, 'bad_request', `shell is one of ${INSTALL_SHELLS.join(', ')}`);
      const c = clientConfig(dd, deps.urls());
      const command = formatInstallCommand(
        {
          ...(c.server ? { server: c.server } : {}),
          ...(c.relay ? { relay: c.relay } : {}),
          serverId: dd.identity.serverId,
          serverPin: dd.identity.pin,
          secretPath: defaultSecretPath(shell),
        },
        shell,
      );
      return sendJson(res, 200, { shell, command });
    }
    if (key === 'GET /admin/v1/clients') {
      const limit = Math.min(
        10_000,
        Math.max(1, Number(url.searchParams.get('limit') ?? '1000') || 1000),
      );
      const offset = Math.max(0, Math.floor(Number(url.searchParams.get('offset') ?? '0')) || 0);
      // The body stays an array; the total travels in a header so a page is never mistaken for all.
      const page = await listClientsPage(dd, { limit, offset });
      return sendJson(res, 200, page.clients, { 'x-total-count': String(page.total) });
    }
    if (key === 'GET /admin/v1/audit') {
      const limit = Math.min(
        1_000,
        Math.max(1, Number(url.searchParams.get('limit') ?? '50') || 50),
      );
      const event = url.searchParams.get('event') ?? undefined;
      return sendJson(res, 200, await dd.store.listAudit(limit, event));
    }
    if (key === 'POST /admin/v1/apply') {
      const changes = parseChanges(parseJsonBody(await readBody(req)), now());
      const { added } = await applyChanges(dd, changes, actor, now());
      return sendJson(res, 200, { added, settings: await showSettings(dd) });
    }
    if (key === 'GET /admin/v1/client-config')
      return sendJson(res, 200, clientConfig(dd, deps.urls()));
    throw new HttpError(404, 'not_found', 'no such endpoint');
  }

  return (req, res) => guard(res, deps.log, route(req, res));
}

/** Reads the body of POST /admin/v1/apply. */
function parseChanges(value: unknown, now: Date): Changes {
  const o = value as { mode?: unknown; add?: unknown; remove?: unknown } | null;
  if (typeof o !== 'object' || o === null)
    throw new HttpError(400, 'bad_request', 'expected a JSON object');
  const add = o.add ?? [];
  const remove = o.remove ?? [];
  if (!Array.isArray(add) || add.length > 16 || !Array.isArray(remove) || remove.length > 16) {
    throw new HttpError(400, 'bad_request', 'add and remove must be arrays of at most 16');
  }
  if (!remove.every((id): id is string => typeof id === 'string'))
    throw new HttpError(400, 'bad_request', 'remove holds secret ids');
  return {
    ...(o.mode === undefined ? {} : { mode: parseMode(typeof o.mode === 'string' ? o.mode : '') }),
    remove,
    add: add.map((a: unknown) => {
      const x = a as {
        secret?: unknown;
        label?: unknown;
        allowWeak?: unknown;
        expires?: unknown;
        maxUses?: unknown;
      } | null;
      if (
        typeof x !== 'object' ||
        x === null ||
        typeof x.secret !== 'string' ||
        x.secret.length === 0 ||
        x.secret.length > 1024
      ) {
        throw new HttpError(400, 'bad_request', 'each new secret needs its text');
      }
      if (x.label !== undefined && typeof x.label !== 'string')
        throw new HttpError(400, 'bad_request', 'label must be text');
      return {
        secret: Secret.from(x.secret),
        ...(typeof x.label === 'string' ? { label: x.label } : {}),
        allowWeak: x.allowWeak === true,
        limits: limitsFromBody(x, now),
      };
    }),
  };
}
