import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from './support/deploy.ts';
import { describeFindings, scanFiles, secretNeedles } from './support/leak.ts';
import type { Deployment } from './support/deploy.ts';
import { call, endpoint, hello, register } from './support/wire-client.ts';

const SECRETS = ['Fleet-Secret-2026a', 'Second-Fleet-77b'];

async function startPair(serverArgs: string[] = []): Promise<Deployment> {
  return deploy([], { serverArgs });
}

const scanned: string[] = [];
const everySecretSeen = new Set<string>(SECRETS);

/** Fails if any file below `dir` holds a secret in any form the leak detector knows. */
function scanForSecrets(dir: string): void {
  const needles = [...everySecretSeen].flatMap((s) => secretNeedles(s));
  const { findings, files } = scanFiles([dir], needles);
  expect(describeFindings(findings)).toBe('');
  scanned.push(...Array.from({ length: files }, () => dir));
}

describe('server and relay', () => {
  let pair: Awaited<ReturnType<typeof startPair>>;
  let internetPair: Awaited<ReturnType<typeof startPair>>;
  beforeAll(async () => {
    [pair, internetPair] = await Promise.all([
      startPair(),
      startPair(['--intranet', '10.0.0.0/8']),
    ]);
    for (const p of [pair, internetPair]) {
      for (const s of SECRETS)
        expect(
          (await p.server.cli(['auth', 'secret', 'add', '--label', 'fleet'], `${s}\n`)).code,
        ).toBe(0);
    }
  });
  afterAll(async () => {
    for (const p of [pair, internetPair]) {
      if (!p) continue;
      await p.server.proc.stop();
      await p.relay.proc.stop();
      scanForSecrets(p.server.dataDir);
      scanForSecrets(p.relay.dataDir);
    }
    expect(scanned.length).toBeGreaterThan(4);
  });

  const matrix = [
    // mode, route, intranet pair?, secret required
    ['none', 'direct', 'intranet', false],
    ['none', 'direct', 'internet', false],
    ['none', 'relay', 'internet', false],
    ['internet', 'direct', 'intranet', false],
    ['internet', 'direct', 'internet', true],
    ['internet', 'relay', 'internet', true],
    ['all', 'direct', 'intranet', true],
    ['all', 'direct', 'internet', true],
    ['all', 'relay', 'internet', true],
  ] as const;

  it.each(matrix)(
    'mode %s, %s route seen as %s: secret required = %s',
    async (mode, routeName, seenAs, required) => {
      const p = routeName === 'direct' && seenAs === 'internet' ? internetPair : pair;
      expect((await p.server.cli(['auth', 'mode', mode])).code).toBe(0);
      const route = p.routes[routeName];
      const h = await hello(route);
      expect(h.seenAs).toBe(seenAs);
      expect(h.secretRequired).toBe(required);
      const withSecret = await register(route, { secret: SECRETS[1], pin: p.server.pin });
      expect(withSecret.ok).toBe(true);
      const without = await register(route, { pin: p.server.pin });
      if (required) {
        expect(without).toMatchObject({ ok: false, code: 'secret_required', status: 401 });
        const wrong = await register(route, { secret: 'Wrong-Secret-123', pin: p.server.pin });
        expect(wrong).toMatchObject({ ok: false, code: 'invalid_secret' });
      } else {
        expect(without.ok).toBe(true);
      }
    },
  );

  it('a relay route without pin or secret cannot authenticate the server', async () => {
    expect((await pair.server.cli(['auth', 'mode', 'none'])).code).toBe(0);
    const out = await register(pair.routes.relay, { allowTofu: false });
    expect(out).toMatchObject({ ok: false, code: 'server_unauthenticated' });
  });

  it('secrets added and removed while the server runs take effect at once', async () => {
    expect((await pair.server.cli(['auth', 'mode', 'all'])).code).toBe(0);
    const fresh = 'Brand-New-Secret-9x';
    everySecretSeen.add(fresh);
    expect(await register(pair.routes.direct, { secret: fresh })).toMatchObject({
      ok: false,
      code: 'invalid_secret',
    });
    const added = await pair.server.cli(['auth', 'secret', 'add'], fresh);
    const id = /added secret (\S+)/.exec(added.stdout)?.[1] as string;
    const first = await register(pair.routes.relay, { secret: fresh });
    expect(first.ok).toBe(true);
    const clientId = first.ok && first.result.kind === 'registered' ? first.result.clientId : '';
    expect((await pair.server.cli(['auth', 'secret', 'remove', id])).code).toBe(0);
    expect(await register(pair.routes.relay, { secret: fresh })).toMatchObject({
      ok: false,
      code: 'invalid_secret',
    });
    const clients = JSON.parse((await pair.server.cli(['clients', 'list', '--json'])).stdout) as {
      clientId: string;
      secretId: string;
    }[];
    expect(clients.find((c) => c.clientId === clientId)).toMatchObject({ secretId: id });
  });

  it('a secret removed between M2 and M3 fails that registration', async () => {
    expect((await pair.server.cli(['auth', 'mode', 'all'])).code).toBe(0);
    const doomed = 'Doomed-Secret-55z';
    everySecretSeen.add(doomed);
    const added = await pair.server.cli(['auth', 'secret', 'add'], doomed);
    const id = /added secret (\S+)/.exec(added.stdout)?.[1] as string;
    const out = await register(pair.routes.direct, {
      secret: doomed,
      betweenM2AndM3: async () => {
        expect((await pair.server.cli(['auth', 'secret', 'remove', id])).code).toBe(0);
      },
    });
    expect(out).toMatchObject({ ok: false, stage: 'finish', code: 'secret_revoked', status: 403 });
  });

  it('the same client key registers once; a new key from the same machine supersedes it', async () => {
    const { generateSigningKey } = await import('../src/protocol/index.ts');
    const key = generateSigningKey();
    const machineId = 'f'.repeat(64);
    const a = await register(pair.routes.direct, { secret: SECRETS[0], clientKey: key, machineId });
    const b = await register(pair.routes.relay, { secret: SECRETS[0], clientKey: key, machineId });
    expect(a.ok && b.ok).toBe(true);
    const idOf = (o: typeof a): string =>
      o.ok && o.result.kind === 'registered' ? o.result.clientId : '';
    expect(idOf(a)).toBe(idOf(b));
    const c = await register(pair.routes.direct, { secret: SECRETS[0], machineId });
    const clients = JSON.parse((await pair.server.cli(['clients', 'list', '--json'])).stdout) as {
      clientId: string;
      supersededBy: string | null;
    }[];
    expect(clients.filter((x) => x.clientId === idOf(a))).toEqual([
      expect.objectContaining({ supersededBy: idOf(c) }),
    ]);
  });

  it('check (verifyOnly) confirms a secret without registering', async () => {
    expect((await pair.server.cli(['auth', 'mode', 'all'])).code).toBe(0);
    const before = JSON.parse(
      (await pair.server.cli(['clients', 'list', '--json'])).stdout,
    ) as unknown[];
    const out = await register(pair.routes.relay, { secret: SECRETS[0], verifyOnly: true });
    expect(out.ok && out.result.kind).toBe('verified');
    const after = JSON.parse(
      (await pair.server.cli(['clients', 'list', '--json'])).stdout,
    ) as unknown[];
    expect(after.length).toBe(before.length);
  });

  it.each([
    ['malformed JSON', '{"v":1,', 400, 'bad_request'],
    ['wrong types', { v: 1, serverId: 5, sid: [], cEph: null }, 400, 'bad_request'],
    ['an unknown version', { v: 2 }, 400, 'unsupported_version'],
    ['an array', [], 400, 'bad_request'],
  ])(
    'refuses %s with a clear 4xx, directly and through the relay',
    async (_name, body, status, code) => {
      for (const route of [pair.routes.direct, pair.routes.relay]) {
        const r = await call(endpoint(route, 'register/start'), body);
        expect(r.status).toBe(status);
        expect(r.body).toMatchObject({ error: { code } });
      }
      expect((await register(pair.routes.direct, { secret: SECRETS[0] })).ok).toBe(true);
    },
  );

  it('refuses oversized bodies with 413 before reading them whole', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(200_000) });
    for (const route of [pair.routes.direct, pair.routes.relay]) {
      const r = await call(endpoint(route, 'register/start'), big);
      expect(r.status).toBe(413);
    }
    expect((await register(pair.routes.relay, { secret: SECRETS[0] })).ok).toBe(true);
  });

  it('answers a truncated request with 4xx or a closed connection, and keeps serving', async () => {
    const net = await import('node:net');
    const { port } = new URL(pair.server.url);
    const reply = await new Promise<string>((resolve) => {
      const sock = net.connect(Number(port), '127.0.0.1', () => {
        sock.write(
          'POST /v1/register/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"v":1,',
        );
        sock.end();
      });
      let data = '';
      sock.on('data', (d) => (data += d.toString()));
      sock.on('close', () => resolve(data));
    });
    expect(reply === '' || /^HTTP\/1\.1 4\d\d/.test(reply)).toBe(true);
    expect((await register(pair.routes.direct, { secret: SECRETS[0] })).ok).toBe(true);
  });

  it('refuses garbage and a wrong token on the tunnel', async () => {
    const tunnel = `${pair.relay.url}/v1/tunnel/${pair.server.serverId}`;
    const { request } = await import('undici');
    const wrong = await request(`${tunnel}/poll`, {
      method: 'POST',
      headers: { authorization: 'Bearer nope' },
      body: '{}',
    });
    expect(wrong.statusCode).toBe(401);
    await wrong.body.dump();
    const token = readFileSync(
      join(pair.relay.dataDir, '..', `token-${pair.server.serverId}`),
      'utf8',
    ).trim();
    for (const body of [
      'not json',
      '{"replies":5}',
      '{"replies":[{"id":1}]}',
      '{"replies":[{"id":"x","status":999,"body":""}]}',
    ]) {
      const r = await request(`${tunnel}/reply`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body,
      });
      expect(r.statusCode, body).toBe(400);
      await r.body.dump();
    }
    const unknownServer = await call(`${pair.relay.url}/v1/servers/AAAAAAAAAAAAAAAAAAAAAA/hello`);
    expect(unknownServer.status).toBe(404);
    const status = await call(`${pair.relay.url}/v1/servers/${pair.server.serverId}/status`);
    expect(status).toMatchObject({ status: 200, body: { online: true } });
    expect((await register(pair.routes.relay, { secret: SECRETS[0] })).ok).toBe(true);
  });

  it('throttles brute force from one source while other sources keep registering', async () => {
    expect((await internetPair.server.cli(['auth', 'mode', 'all'])).code).toBe(0);
    let throttled: { retryAfter?: string } | undefined;
    for (let i = 0; i < 15 && !throttled; i++) {
      const out = await register(internetPair.routes.direct, {
        secret: `Guess-Number-${i}-Q`,
        localAddress: '127.0.0.2',
      });
      if (!out.ok && out.code === 'rate_limited') throttled = out;
      else expect(out).toMatchObject({ ok: false, code: 'invalid_secret' });
    }
    expect(throttled?.retryAfter).toMatch(/^\d+$/);
    const other = await register(internetPair.routes.direct, {
      secret: SECRETS[0],
      localAddress: '127.0.0.3',
    });
    expect(other).toMatchObject({ ok: true });
    const audit = await call(`${internetPair.server.adminUrl}/admin/v1/audit?limit=200`);
    expect(audit.status).toBe(401);
  });
});
