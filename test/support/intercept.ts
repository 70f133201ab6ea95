/**
 * An HTTP proxy on loopback that stands between the agent and the server
 * (or the relay) and lets a fault test act at a chosen point of a
 * registration: before a request is passed on, or after the answer came
 * back and before the agent gets it.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { onCleanup } from './cleanup.ts';

export type Step = 'hello' | 'start' | 'finish';

export interface Hooks {
  /** Runs before the request goes upstream; return 'drop' to close the connection instead. */
  beforeUpstream?: (step: Step) => Promise<void | 'drop'> | void | 'drop';
  /** Runs after the upstream answered, before the agent gets the answer. */
  beforeAnswer?: (step: Step, status: number) => Promise<void | 'drop'> | void | 'drop';
}

function stepOf(path: string): Step | null {
  if (path.endsWith('/hello')) return 'hello';
  if (path.endsWith('/register/start')) return 'start';
  if (path.endsWith('/register/finish')) return 'finish';
  return null;
}

export interface Intercept {
  readonly url: string;
  /** Requests seen per step. */
  readonly seen: Record<Step, number>;
  /** TCP connections the agent opened to this proxy. */
  readonly connections: number;
  hooks: Hooks;
  /** Where requests go; may change (a restarted server on the same port needs no change). */
  upstream: string;
  close(): Promise<void>;
}

export async function intercept(upstream: string, hooks: Hooks = {}): Promise<Intercept> {
  const state: Intercept = {
    url: '',
    seen: { hello: 0, start: 0, finish: 0 },
    connections: 0,
    hooks,
    upstream,
    close: () => Promise.resolve(),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const path = req.url ?? '/';
        const step = stepOf(path);
        if (step) state.seen[step] += 1;
        try {
          if (step && (await state.hooks.beforeUpstream?.(step)) === 'drop') {
            req.socket.destroy();
            return;
          }
          const up = await request(`${state.upstream}${path}`, {
            method: req.method as 'GET' | 'POST',
            headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
            ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
            headersTimeout: 30_000,
            bodyTimeout: 30_000,
          });
          const body = Buffer.from(await up.body.arrayBuffer());
          if (step && (await state.hooks.beforeAnswer?.(step, up.statusCode)) === 'drop') {
            req.socket.destroy();
            return;
          }
          const retryAfter = up.headers['retry-after'];
          res.writeHead(up.statusCode, {
            'content-type': 'application/json',
            ...(typeof retryAfter === 'string' ? { 'retry-after': retryAfter } : {}),
          });
          res.end(body);
        } catch {
          // The upstream is down: as the agent would see it, a reset connection.
          req.socket.destroy();
        }
      })();
    });
  });
  server.on('connection', () => {
    (state as { connections: number }).connections += 1;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const close = (): Promise<void> =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  onCleanup(close);
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close,
  });
}
