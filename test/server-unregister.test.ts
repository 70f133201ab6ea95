/**
 * The client's signed unregister, spoken on the wire as docs/protocol.md
 * describes it, directly and through the relay: every refusal in its
 * order, the removal, the replay, the rate limit, the audit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalBytes, generateSigningKey, signWith, toB64u } from '../src/protocol/index.ts';
import type { SigningKey } from '../src/protocol/index.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { call, register } from './support/wire-client.ts';
import type { Route } from './support/wire-client.ts';

const SECRET = 'Unregister-Fleet-42x';
let d: Deployment;

beforeAll(async () => {
  d = await deploy([SECRET]);
}, 60_000);
afterAll(async () => {
  await d?.stop();
});

function unregisterUrl(route: 'direct' | 'relay'): string {
  return route === 'direct'
    ? `${d.server.url}/v1/unregister`
    : `${d.relay.url}/v1/servers/${d.serverId}/unregister`;
}

/** A signed unregister body, made here from the protocol's own pieces, not the server's helper. */
function signed(
  key: SigningKey,
  fields: { clientId: string; serverId?: string; time?: number; v?: number },
): Record<string, unknown> {
  const body = {
    v: fields.v ?? 1,
    clientId: fields.clientId,
    serverId: fields.serverId ?? d.serverId,
    time: fields.time ?? Date.now(),
  };
  return { ...body, sig: toB64u(signWith(key.privateKey, 'cb1 unregister', canonicalBytes(body))) };
}

async function registered(route: Route): Promise<{ clientId: string; key: SigningKey }> {
  const key = generateSigningKey();
  const r = await register(route, { secret: SECRET, clientKey: key, pin: d.server.pin });
  if (!r.ok || r.result.kind !== 'registered') throw new Error('registration failed');
  return { clientId: r.result.clientId, key };
}

async function listedIds(): Promise<string[]> {
  const r = await d.server.cli(['clients', 'list', '--json']);
  return (JSON.parse(r.stdout) as { clientId: string }[]).map((c) => c.clientId);
}

const code = (r: { body: unknown }): string | undefined =>
  (r.body as { error?: { code?: string } }).error?.code;

describe.each(['direct', 'relay'] as const)('POST unregister, %s', (route) => {
  it('refuses each bad request with its code, in order, and removes nothing', async () => {
    const c = await registered(d.routes[route]);
    const other = generateSigningKey();
    const cases: [string, unknown, number, string][] = [
      ['not JSON object', '[1,2]', 400, 'bad_request'],
      [
        'a missing field',
        { v: 1, clientId: c.clientId, serverId: d.serverId, time: 1 },
        400,
        'bad_request',
      ],
      [
        'an extra field',
        { ...signed(c.key, { clientId: c.clientId }), extra: 1 },
        400,
        'bad_request',
      ],
      [
        'a float time',
        { ...signed(c.key, { clientId: c.clientId }), time: 1.5 },
        400,
        'bad_request',
      ],
      ['version 2', signed(c.key, { clientId: c.clientId, v: 2 }), 400, 'unsupported_version'],
      [
        'another server id',
        signed(c.key, { clientId: c.clientId, serverId: toB64u(Buffer.alloc(16, 7)) }),
        404,
        'wrong_server',
      ],
      ['an unknown client', signed(c.key, { clientId: 'no-such-client' }), 404, 'unknown_client'],
      [
        'a time 11 minutes old',
        signed(c.key, { clientId: c.clientId, time: Date.now() - 11 * 60_000 }),
        400,
        'stale_request',
      ],
      [
        'a time 11 minutes ahead',
        signed(c.key, { clientId: c.clientId, time: Date.now() + 11 * 60_000 }),
        400,
        'stale_request',
      ],
      ['another key', signed(other, { clientId: c.clientId }), 403, 'bad_signature'],
      [
        'a signature over other fields',
        { ...signed(c.key, { clientId: c.clientId }), time: Date.now() + 1 },
        403,
        'bad_signature',
      ],
    ];
    for (const [what, body, status, expected] of cases) {
      const r = await call(unregisterUrl(route), body);
      expect({ what, status: r.status, code: code(r) }).toEqual({ what, status, code: expected });
    }
    const stale = await call(
      unregisterUrl(route),
      signed(c.key, { clientId: c.clientId, time: Date.now() - 11 * 60_000 }),
    );
    expect((stale.body as { error: { message: string } }).error.message).toMatch(/clock/);
    expect(await listedIds()).toContain(c.clientId);
    expect((await call(unregisterUrl(route))).status).toBe(405);
  });

  it('removes the client it names, once; a replay gets unknown_client; the audit names the client', async () => {
    const c = await registered(d.routes[route]);
    const keep = await registered(d.routes[route]);
    const body = signed(c.key, { clientId: c.clientId });
    const r = await call(unregisterUrl(route), body);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ v: 1, clientId: c.clientId, removed: true });
    const ids = await listedIds();
    expect(ids).not.toContain(c.clientId);
    expect(ids).toContain(keep.clientId);
    const replay = await call(unregisterUrl(route), body);
    expect([replay.status, code(replay)]).toEqual([404, 'unknown_client']);
    const audit = await fetchAudit('client.removed');
    const row = audit.find((a) => a.clientId === c.clientId);
    expect(row).toMatchObject({ outcome: 'removed', route, reason: 'by client' });
    expect(row?.source).toMatch(/127\.0\.0\.1/);
    // The same key may register again afterwards: it is a new client.
    const again = await register(d.routes[route], {
      secret: SECRET,
      clientKey: c.key,
      pin: d.server.pin,
    });
    expect(again.ok && again.result.kind === 'registered' && again.result.clientId).not.toBe(
      c.clientId,
    );
    expect(again.ok).toBe(true);
  });
});

async function fetchAudit(event: string): Promise<Record<string, unknown>[]> {
  const { request } = await import('undici');
  const res = await request(`${d.server.adminUrl}/admin/v1/audit?event=${event}&limit=100`, {
    headers: { authorization: `Bearer ${d.server.adminToken}` },
  });
  return (await res.body.json()) as Record<string, unknown>[];
}

describe('the unregister rate limit', () => {
  it('answers 429 with Retry-After once one source has sent 20 in a minute; other sources go on', async () => {
    const c = await registered(d.routes.direct);
    const body = signed(generateSigningKey(), { clientId: c.clientId });
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 22; i += 1) {
      last = await call(unregisterUrl('direct'), body, '127.0.0.9');
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(403));
    expect(statuses.slice(20)).toEqual([429, 429]);
    expect(code(last as { body: unknown })).toBe('rate_limited');
    expect(Number(last?.headers['retry-after'])).toBeGreaterThan(0);
    // Another address is not held back, and the client is still there.
    const ok = await call(
      unregisterUrl('direct'),
      signed(c.key, { clientId: c.clientId }),
      '127.0.0.10',
    );
    expect(ok.status).toBe(200);
    const refused = await fetchAudit('unregister');
    expect(refused.some((a) => a.reason === 'rate_limited' && Number(a.count) >= 2)).toBe(true);
    expect(refused.some((a) => a.reason === 'bad_signature' && Number(a.count) >= 20)).toBe(true);
  });
});
