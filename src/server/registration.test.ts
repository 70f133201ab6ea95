/**
 * The registration service in process, with sources a test on loopback
 * cannot have (IPv6 networks, made-up relay addresses): one network's share
 * of the table, a relay that names no address, and a success bonus that
 * re-registering one key cannot pump.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { floodM1 } from '../../test/support/attacker.ts';
import { DETAILS } from '../../test/support/exchange.ts';
import { silentLogger } from '../common/log.ts';
import {
  Secret,
  continueRegistration,
  derivePrs,
  fromB64u,
  generateSigningKey,
  parseM2,
  startRegistration,
  toB64u,
} from '../protocol/index.ts';
import type { SigningKey } from '../protocol/index.ts';
import { addSecret } from './admin.ts';
import { parseIntranet } from './classify.ts';
import { openDataDir } from './data-dir.ts';
import { MemoryState } from './state-memory.ts';
import { createRegistrationService } from './registration.ts';
import type { Channel } from './registration-reply.ts';
import type { DataDir } from './data-dir.ts';
import { CryptoBusy, inlineCrypto } from './handshake-crypto.ts';
import type { HandshakeSteps } from './handshake-crypto.ts';
import { sourceKey } from './source.ts';
import { answerRelayRequest } from './tunnel.ts';

const SECRET = 'In-Process-Secret-1';
const root = mkdtempSync(join(tmpdir(), 'cb-registration-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function service(steps?: (dd: DataDir) => HandshakeSteps) {
  const dd = await openDataDir(join(root, `server-${Math.random()}`), { kdfLogN: 14 });
  await addSecret(
    dd,
    { secret: Secret.from(SECRET), allowWeak: false },
    { via: 'cli' },
    new Date(),
  );
  const state = new MemoryState({ maxHandshakes: 10_000, alarmThreshold: 1_000_000 });
  const svc = createRegistrationService({
    dd,
    intranet: parseIntranet(['127.0.0.0/8']),
    now: Date.now,
    log: silentLogger,
    state,
    alarmThreshold: 1_000_000,
    ...(steps ? { steps: steps(dd) } : {}),
  });
  return { dd, svc, limiter: state.limiter };
}

describe('one network holds only a share of the table', () => {
  it('a /48 spread over 100 /64s is stopped at 1,000 open handshakes; another network is not', async () => {
    const { dd, svc } = await service();
    const statuses = new Map<number, number>();
    for (let net = 0; net < 110; net++) {
      for (let i = 0; i < 10; i++) {
        const channel: Channel = {
          route: 'relay',
          source: `2001:db8:77:${net.toString(16)}::${i + 1}`,
        };
        const r = await svc.handle('start', floodM1(dd.identity.serverId), channel);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    }
    expect(statuses.get(200)).toBe(1_000);
    expect(statuses.get(429)).toBe(100);
    const other = await svc.handle('start', floodM1(dd.identity.serverId), {
      route: 'relay',
      source: '2001:db8:78::1',
    });
    expect(other.status).toBe(200);
    await dd.store.close();
  });
});

describe('what the relay reports', () => {
  it('a request that names no client address is refused, never counted under made-up text', async () => {
    const { dd, svc } = await service();
    const reply = await answerRelayRequest(
      {
        id: 'r1',
        kind: 'start',
        body: JSON.stringify(floodM1(dd.identity.serverId)),
        source: 'fake-source-1',
      },
      svc.handle,
    );
    expect(reply.status).toBe(400);
    expect(reply.body).toMatch(/no client address/);
    await dd.store.close();
  });
});

/** Starts a registration with the right secret and returns the M3 that would finish it. */
async function m3For(
  svc: Awaited<ReturnType<typeof service>>['svc'],
  dd: DataDir,
  key: SigningKey,
  channel: Channel,
): Promise<Record<string, unknown>> {
  const prs = await derivePrs(
    Secret.from(SECRET),
    fromB64u(dd.identity.serverId, 'serverId', 16),
    dd.kdf,
  );
  const start = startRegistration({ serverId: dd.identity.serverId, prs });
  const r2 = await svc.handle('start', start.m1, channel);
  const step = continueRegistration(start, parseM2(r2.body), {
    trust: { pin: dd.identity.pin, allowTofu: false },
    clientKey: key,
    details: DETAILS,
  });
  if (step.kind !== 'finish') throw new Error('no matching share');
  return { ...step.m3 };
}

describe('the success bonus', () => {
  async function registerOnce(
    svc: Awaited<ReturnType<typeof service>>['svc'],
    dd: Awaited<ReturnType<typeof service>>['dd'],
    key: SigningKey,
    channel: Channel,
  ): Promise<number> {
    return (await svc.handle('finish', await m3For(svc, dd, key, channel), channel)).status;
  }

  it('grows with new clients, not with one key registered again and again', async () => {
    const { dd, svc, limiter } = await service();
    const channel: Channel = { route: 'direct', source: '198.51.100.7' };
    const key = generateSigningKey();
    for (let i = 0; i < 5; i++) expect(await registerOnce(svc, dd, key, channel)).toBe(200);
    expect(limiter.limitFor(sourceKey(channel), Date.now())).toBe(11);
    expect(await registerOnce(svc, dd, generateSigningKey(), channel)).toBe(200);
    expect(limiter.limitFor(sourceKey(channel), Date.now())).toBe(12);
    await dd.store.close();
  });
});

describe('a finish when the pool is full or fails', () => {
  /** A finish whose tag does not verify: a failed guess wherever it is checked. */
  async function wrongFinish(
    svc: Awaited<ReturnType<typeof service>>['svc'],
    dd: DataDir,
    channel: Channel,
  ): Promise<number> {
    const m3 = await m3For(svc, dd, generateSigningKey(), channel);
    return (await svc.handle('finish', { ...m3, tagA: toB64u(Buffer.alloc(32, 7)) }, channel))
      .status;
  }

  it('is checked on the event loop when the pool is busy, and its failed guess is charged', async () => {
    const { dd, svc, limiter } = await service((d) => ({
      ...inlineCrypto(d.identity),
      finish: () => Promise.reject(new CryptoBusy(1)),
    }));
    const channel: Channel = { route: 'direct', source: '198.51.100.40' };
    expect(await wrongFinish(svc, dd, channel)).not.toBe(503);
    expect(limiter.failures(sourceKey(channel))).toBe(1);
    await dd.store.close();
  });

  it('charges the guess when the pool fails outright', async () => {
    const { dd, svc, limiter } = await service((d) => ({
      ...inlineCrypto(d.identity),
      finish: () => Promise.reject(new Error('worker died')),
    }));
    const channel: Channel = { route: 'direct', source: '198.51.100.41' };
    await expect(wrongFinish(svc, dd, channel)).rejects.toThrow(/worker died/);
    expect(limiter.failures(sourceKey(channel))).toBe(1);
    await dd.store.close();
  });
});
