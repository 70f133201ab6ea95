/**
 * The agent's side of the signed unregister, against undici's MockAgent:
 * what is sent (and that its signature verifies), and how each answer is
 * judged. The real server is in test/agent-day2.test.ts.
 */
import { MockAgent, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../common/log.ts';
import { canonicalBytes, fromB64u, generateSigningKey, verifyWith } from '../protocol/index.ts';
import type { Registration } from './state.ts';
import { translateError } from './transport.ts';
import type { Transport } from './transport.ts';
import {
  UNREGISTER_CONTEXT,
  signUnregister,
  tellServer,
  unregisterTargets,
} from './unregister-remote.ts';

const SERVER = 'http://server.test:8443';
const RELAY = 'http://relay.test';
const SERVER_ID = 'AAAAAAAAAAAAAAAAAAAAAA';
const NOW = 1_760_000_000_000;

const reg: Registration = {
  clientId: 'client-1',
  serverId: SERVER_ID,
  serverPin: 'sha256:x',
  route: 'direct',
  serverUrl: SERVER,
  relayUrl: RELAY,
  registeredAt: '2026-01-01T00:00:00.000Z',
  credential: 'c',
  keyFingerprint: 'f',
  savedAt: '2026-01-01T00:00:00.000Z',
};

/** The agent's Transport contract over a MockAgent (the real one builds its own dispatcher). */
function mockTransport(agent: MockAgent): Transport {
  return {
    async send(method, url, body, { signal }) {
      try {
        const res = await request(url, {
          method,
          dispatcher: agent,
          signal,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        const text = await res.body.text();
        const retryAfter = res.headers['retry-after'];
        return {
          status: res.statusCode,
          json: text ? (JSON.parse(text) as unknown) : undefined,
          ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
        };
      } catch (err) {
        throw translateError(err, url);
      }
    },
    close: () => agent.close(),
  };
}

/** The error body every server and relay answer has. */
const fail = (code: string, message: string) => ({ error: { code, message } });

let agent: MockAgent;
const key = generateSigningKey();
const sent: { path: string; body: Record<string, unknown> }[] = [];

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  sent.length = 0;
});
afterEach(() => agent.close());

function answer(origin: string, path: string, status: number, json: unknown, headers = {}) {
  agent
    .get(origin)
    .intercept({ path, method: 'POST' })
    .reply(
      status,
      (opts) => {
        sent.push({ path, body: JSON.parse(opts.body as string) as Record<string, unknown> });
        return json as object;
      },
      { headers: { 'content-type': 'application/json', ...headers } },
    );
}

function refuse(origin: string, path: string) {
  const err = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  agent.get(origin).intercept({ path, method: 'POST' }).replyWithError(err);
}

function tell(targets = unregisterTargets(reg, { route: 'auto' })) {
  return tellServer({
    reg,
    key,
    targets,
    transport: mockTransport(agent),
    signal: new AbortController().signal,
    timeoutMs: 1000,
    now: () => NOW,
    log: silentLogger,
  });
}

describe('the signed request', () => {
  it('carries v, clientId, serverId, time, and a signature over the canonical rest', () => {
    const body = signUnregister(key, 'client-1', SERVER_ID, NOW + 0.7);
    expect(Object.keys(body).sort()).toEqual(['clientId', 'serverId', 'sig', 'time', 'v']);
    expect(body).toMatchObject({ v: 1, clientId: 'client-1', serverId: SERVER_ID, time: NOW });
    const { sig, ...rest } = body;
    const signed = canonicalBytes(rest);
    expect(signed.toString()).toBe(
      `{"clientId":"client-1","serverId":"${SERVER_ID}","time":${NOW},"v":1}`,
    );
    expect(verifyWith(key.publicRaw, UNREGISTER_CONTEXT, signed, fromB64u(sig, 'sig', 64))).toBe(
      true,
    );
    expect(verifyWith(key.publicRaw, 'cb1 other', signed, fromB64u(sig, 'sig', 64))).toBe(false);
  });

  it('goes to the registered route first; flags override the saved URLs', () => {
    expect(unregisterTargets(reg, { route: 'auto' }).map((t) => t.url)).toEqual([
      `${SERVER}/v1/unregister`,
      `${RELAY}/v1/servers/${SERVER_ID}/unregister`,
    ]);
    expect(unregisterTargets({ ...reg, route: 'relay' }, { route: 'auto' })[0]?.name).toBe('relay');
    expect(
      unregisterTargets(reg, { server: 'http://other.test', route: 'direct' }).map((t) => t.url),
    ).toEqual(['http://other.test/v1/unregister']);
    expect(
      unregisterTargets({ ...reg, serverUrl: null, relayUrl: null }, { route: 'auto' }),
    ).toEqual([]);
  });
});

describe('how the answer is judged', () => {
  it('200 removed: the server was told', async () => {
    answer(SERVER, '/v1/unregister', 200, { v: 1, clientId: 'client-1', removed: true });
    const n = await tell();
    expect(n).toMatchObject({ notified: true, result: 'removed', route: 'direct' });
    expect(sent).toHaveLength(1);
    expect(sent[0]?.body).toMatchObject({ v: 1, clientId: 'client-1', serverId: SERVER_ID });
  });

  it('404 unknown_client: the server had already forgotten it', async () => {
    answer(SERVER, '/v1/unregister', 404, fail('unknown_client', 'no such client'));
    expect(await tell()).toMatchObject({ notified: true, result: 'unknown_client' });
  });

  it('403 bad_signature: not told, and not tried again on the relay (same server)', async () => {
    answer(SERVER, '/v1/unregister', 403, fail('bad_signature', 'bad signature'));
    const n = await tell();
    expect(n).toMatchObject({ notified: false, result: 'bad_signature' });
    expect(n.detail).toContain('HTTP 403 (bad_signature: bad signature)');
    expect(sent).toHaveLength(1);
  });

  it('503 on the direct route: the relay is tried, and its answer counts', async () => {
    answer(SERVER, '/v1/unregister', 503, fail('unavailable', 'busy'));
    answer(RELAY, `/v1/servers/${SERVER_ID}/unregister`, 200, { v: 1, removed: true });
    expect(await tell()).toMatchObject({ notified: true, result: 'removed', route: 'relay' });
    expect(sent.map((s) => s.path)).toEqual([
      '/v1/unregister',
      `/v1/servers/${SERVER_ID}/unregister`,
    ]);
  });

  it('503 everywhere: not told, naming each route', async () => {
    answer(SERVER, '/v1/unregister', 503, fail('unavailable', 'busy'));
    answer(RELAY, `/v1/servers/${SERVER_ID}/unregister`, 503, fail('server_offline', 'offline'));
    const n = await tell();
    expect(n).toMatchObject({ notified: false, result: 'server_offline' });
    expect(n.detail).toMatch(/^server: answered HTTP 503 .*; relay: answered HTTP 503/);
  });

  it('unreachable everywhere: not told, with the reason', async () => {
    refuse(SERVER, '/v1/unregister');
    refuse(RELAY, `/v1/servers/${SERVER_ID}/unregister`);
    const n = await tell();
    expect(n).toMatchObject({ notified: false, result: 'unreachable' });
    expect(n.detail).toBe(
      'server: server.test:8443 refused the connection; relay: relay.test refused the connection',
    );
  });

  it('no URL at all: not told, nothing sent', async () => {
    const n = await tell([]);
    expect(n).toMatchObject({ notified: false, result: 'no_route' });
  });

  it('404 wrong_server on one route: the other route is tried', async () => {
    answer(SERVER, '/v1/unregister', 404, fail('wrong_server', 'not this server'));
    answer(RELAY, `/v1/servers/${SERVER_ID}/unregister`, 404, fail('unknown_client', 'gone'));
    expect(await tell()).toMatchObject({
      notified: true,
      result: 'unknown_client',
      route: 'relay',
    });
  });

  it('429: not told, and the same server is not asked again on the other route', async () => {
    answer(SERVER, '/v1/unregister', 429, fail('rate_limited', 'slow down'), {
      'retry-after': '5',
    });
    expect(await tell()).toMatchObject({ notified: false, result: 'rate_limited' });
    expect(sent).toHaveLength(1);
  });
});
