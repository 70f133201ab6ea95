import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../src/protocol/index.ts';
import { BIN, runProc, startRelay, startServer, tempDir, TEST_KDF_LOG_N } from './support/procs.ts';
import type { Proc } from './support/procs.ts';
import { countStoredClients, storedClientIds } from './support/store-counts.ts';
import { call, hello, register } from './support/wire-client.ts';

const SECRET = 'Lifecycle-Secret-42';
const running: Proc[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
});

async function serverDir(): Promise<{ dataDir: string; serverId: string }> {
  const dataDir = join(tempDir(), 'server');
  const init = await runProc(
    BIN.server,
    ['auth', 'secret', 'add', '--data-dir', dataDir, '--kdf-log-n', TEST_KDF_LOG_N],
    { input: SECRET },
  );
  expect(init.code).toBe(0);
  const show = JSON.parse(
    (await runProc(BIN.server, ['auth', 'show', '--json', '--data-dir', dataDir])).stdout,
  ) as { serverId: string };
  return { dataDir, serverId: show.serverId };
}

/** A server with a secret and a relay at `relayDir`, tunnel up; both stopped after the test. */
async function tunnelPair(relayDir: string) {
  const { dataDir, serverId } = await serverDir();
  const relay = await startRelay({ dataDir: relayDir });
  running.push(relay.proc);
  const tokenFile = await relay.addServer(serverId);
  const server = await startServer({
    dataDir,
    args: ['--relay', relay.url, '--relay-token-file', tokenFile],
  });
  running.push(server.proc);
  await server.proc.waitFor(/tunnel\.up/);
  return { serverId, relay, server };
}

describe('server lifecycle', () => {
  it('a server killed between M2 and M3 and restarted registers the retrying client exactly once', async () => {
    const { dataDir } = await serverDir();
    const first = await startServer({ dataDir });
    running.push(first.proc);
    const { port } = new URL(first.url);
    const key = generateSigningKey();
    let second: Awaited<ReturnType<typeof startServer>> | undefined;
    const attempt = await register(
      { kind: 'direct', url: first.url },
      {
        secret: SECRET,
        clientKey: key,
        betweenM2AndM3: async () => {
          await first.proc.stop('SIGKILL');
          second = await startServer({ dataDir, listen: `127.0.0.1:${port}` });
          running.push(second.proc);
        },
      },
    );
    expect(attempt).toMatchObject({ ok: false, stage: 'finish', code: 'handshake_expired' });
    const retry = await register(
      { kind: 'direct', url: first.url },
      { secret: SECRET, clientKey: key },
    );
    const again = await register(
      { kind: 'direct', url: first.url },
      { secret: SECRET, clientKey: key },
    );
    expect(retry.ok && again.ok).toBe(true);
    const ids = [retry, again].map((o) =>
      o.ok && o.result.kind === 'registered' ? o.result.clientId : '',
    );
    expect(ids[0]).toBe(ids[1]);
    // Counted in the store itself, with no limit: one row, the id the client holds.
    expect(countStoredClients(dataDir)).toMatchObject({ rows: 1, distinctClientIds: 1 });
    expect(storedClientIds(dataDir)).toEqual([ids[0]]);
    expect(second).toBeDefined();
  });

  it('shuts down cleanly on SIGTERM, and the database stays usable', async () => {
    const { dataDir } = await serverDir();
    const server = await startServer({ dataDir });
    expect((await register({ kind: 'direct', url: server.url }, { secret: SECRET })).ok).toBe(true);
    expect(await server.proc.stop('SIGTERM')).toBe(0);
    const list = await server.cli(['clients', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toHaveLength(1);
    expect(countStoredClients(dataDir).rows).toBe(1);
  });

  it('the tunnel comes back by itself after the relay restarts', async () => {
    const relayDir = join(tempDir(), 'relay');
    const { serverId, relay, server } = await tunnelPair(relayDir);
    const route = { kind: 'relay' as const, url: relay.url, serverId };
    expect((await register(route, { secret: SECRET })).ok).toBe(true);
    await relay.proc.stop('SIGKILL');
    await server.proc.waitFor(/tunnel\.down/);
    const { port } = new URL(relay.url);
    const again = await startRelay({ dataDir: relayDir, listen: `127.0.0.1:${port}` });
    running.push(again.proc);
    await server.proc.waitFor(/tunnel\.up[\s\S]*tunnel\.down[\s\S]*tunnel\.up/);
    expect((await register(route, { secret: SECRET })).ok).toBe(true);
  });

  it('the relay knows at once when the server goes away, and says 503 instead of holding clients', async () => {
    const { serverId, relay, server } = await tunnelPair(join(tempDir(), 'relay'));
    expect(await call(`${relay.url}/v1/servers/${serverId}/status`)).toMatchObject({
      body: { online: true },
    });
    await server.proc.stop('SIGKILL');
    await relay.proc.waitFor(/tunnel\.gone/);
    await expect
      .poll(async () => (await call(`${relay.url}/v1/servers/${serverId}/status`)).body)
      .toEqual({ online: false });
    const r = await call(`${relay.url}/v1/servers/${serverId}/hello`);
    expect(r).toMatchObject({ status: 503, body: { error: { code: 'server_offline' } } });
  });

  it('the relay answers 503 for an offline server, 504 when it does not answer, 503 with Retry-After when full', async () => {
    const { serverId } = await serverDir();
    const relay = await startRelay({ args: ['--request-timeout', '1', '--max-queued', '2'] });
    running.push(relay.proc);
    const tokenFile = await relay.addServer(serverId);
    const offline = await call(`${relay.url}/v1/servers/${serverId}/hello`);
    expect(offline).toMatchObject({ status: 503, body: { error: { code: 'server_offline' } } });
    expect(await call(`${relay.url}/v1/servers/${serverId}/status`)).toMatchObject({
      body: { online: false },
    });
    // A "server" that polls but never answers: take the requests and sit on them.
    const token = (await import('node:fs')).readFileSync(tokenFile, 'utf8').trim();
    const poll = request(`${relay.url}/v1/tunnel/${serverId}/poll`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: '{}',
    });
    const polling = await poll;
    expect(await call(`${relay.url}/v1/servers/${serverId}/status`)).toMatchObject({
      body: { online: true },
    });
    const waiting = [
      call(`${relay.url}/v1/servers/${serverId}/hello`),
      call(`${relay.url}/v1/servers/${serverId}/hello`),
    ];
    await new Promise((r) => setTimeout(r, 200));
    const full = await call(`${relay.url}/v1/servers/${serverId}/hello`);
    expect(full.status).toBe(503);
    expect(full.headers['retry-after']).toMatch(/^\d+$/);
    const timedOut = await Promise.all(waiting);
    expect(timedOut.map((r) => r.status)).toEqual([504, 504]);
    await polling.body.dump();
  });

  it('the admin API needs the token, audits refusals, and administers like the CLI', async () => {
    const { dataDir } = await serverDir();
    const server = await startServer({ dataDir });
    running.push(server.proc);
    const api = (method: string, path: string, body?: unknown, token = server.adminToken) =>
      request(`${server.adminUrl}/admin/v1/${path}`, {
        method: method as 'GET',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }).then(async (r) => ({
        status: r.statusCode,
        body: (await r.body.json()) as Record<string, unknown>,
      }));
    expect((await api('GET', 'settings', undefined, 'wrong')).status).toBe(401);
    expect((await request(`${server.adminUrl}/admin/v1/settings`)).statusCode).toBe(401);
    expect((await api('PUT', 'mode', { mode: 'internet' })).body).toMatchObject({
      mode: 'internet',
    });
    expect((await api('PUT', 'mode', { mode: 'bogus' })).status).toBe(400);
    expect((await api('POST', 'secrets', { secret: 'weakone' })).body).toMatchObject({
      error: { code: 'weak_secret' },
    });
    const weak = await api('POST', 'secrets', {
      secret: 'weakone',
      allowWeak: true,
      label: 'pilot',
    });
    expect(weak).toMatchObject({ status: 201, body: { weak: true, label: 'pilot' } });
    const gen = await api('POST', 'secrets', { generate: true });
    expect(gen.body.secret).toMatch(/^[A-Za-z0-9]{24}$/);
    expect((await api('POST', 'secrets', { secret: SECRET })).body).toMatchObject({
      error: { code: 'duplicate_secret' },
    });
    const listed = (await api('GET', 'secrets')).body as unknown as { id: string }[];
    expect(listed).toHaveLength(3);
    expect(JSON.stringify(listed)).not.toContain(gen.body.secret as string);
    expect((await api('DELETE', `secrets/${weak.body.id as string}`)).status).toBe(200);
    expect((await api('DELETE', `secrets/${weak.body.id as string}`)).status).toBe(404);
    const cli = JSON.parse((await server.cli(['auth', 'show', '--json'])).stdout) as {
      mode: string;
      secrets: unknown[];
    };
    expect(cli).toMatchObject({ mode: 'internet' });
    expect(cli.secrets).toHaveLength(2);
    const audit = (await api('GET', 'audit?limit=100')).body as unknown as {
      event: string;
      outcome: string;
    }[];
    expect(audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'admin.auth', outcome: 'refused' }),
        expect.objectContaining({ event: 'admin.secret.add', outcome: 'added-weak' }),
      ]),
    );
    const h = await hello({ kind: 'direct', url: server.url });
    expect(h.secretRequired).toBe(false);
  });

  it('clients list pages and says "showing N of M" instead of cutting silently; the admin API sends the total', async () => {
    const { dataDir } = await serverDir();
    const server = await startServer({ dataDir });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const out = await register(
        { kind: 'direct', url: server.url },
        { secret: SECRET, machineId: `page-${i}` },
      );
      if (out.ok && out.result.kind === 'registered') ids.push(out.result.clientId);
    }
    expect(ids).toHaveLength(5);
    expect(countStoredClients(dataDir)).toMatchObject({ rows: 5, distinctClientIds: 5 });
    const all = await server.cli(['clients', 'list', '--json']);
    expect((JSON.parse(all.stdout) as { clientId: string }[]).map((c) => c.clientId)).toEqual(
      [...ids].reverse(),
    );
    expect(all.stderr).toBe('');
    const page = await server.cli(['clients', 'list', '--json', '--limit', '2', '--offset', '1']);
    expect((JSON.parse(page.stdout) as { clientId: string }[]).map((c) => c.clientId)).toEqual([
      ids[3],
      ids[2],
    ]);
    expect(page.stderr).toMatch(/showing 2-3 of 5 clients; --offset 3 for the next page/);
    const plain = await server.cli(['clients', 'list', '--limit', '4']);
    expect(plain.stderr).toMatch(/showing 1-4 of 5 clients/);
    expect((await server.cli(['clients', 'list', '--limit', '0'])).stderr).toBe('');
    const past = await server.cli(['clients', 'list', '--json', '--offset', '9']);
    expect(JSON.parse(past.stdout)).toEqual([]);
    expect(past.stderr).toMatch(/showing none of 5 clients: --offset 9 is past the end/);
    const api = await request(`${server.adminUrl}/admin/v1/clients?limit=2&offset=4`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    expect(api.headers['x-total-count']).toBe('5');
    expect(((await api.body.json()) as { clientId: string }[]).map((c) => c.clientId)).toEqual([
      ids[0],
    ]);
  });
});
