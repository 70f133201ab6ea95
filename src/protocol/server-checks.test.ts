import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DETAILS, TEST_KDF, makeSecrets, runExchange } from '../../test/support/exchange.ts';
import {
  HandshakeTable,
  Secret,
  answerFinish,
  answerStart,
  continueRegistration,
  createHello,
  createServerIdentity,
  derivePrs,
  generateSigningKey,
  parseM2,
  startRegistration,
  verifyHello,
} from './index.ts';
import type { ActiveSecret, M3, ServerIdentity } from './index.ts';

function openHandshake(
  identity: ServerIdentity,
  secrets: ActiveSecret[],
  held: ActiveSecret,
  now = 0,
) {
  const start = startRegistration({ serverId: identity.serverId, prs: held.prs });
  const { m2, pending } = answerStart(start.m1, {
    identity,
    seenAs: 'intranet',
    secretRequired: true,
    secrets,
    now,
  });
  const step = continueRegistration(start, m2, {
    trust: { allowTofu: false },
    clientKey: generateSigningKey(),
    details: DETAILS,
  });
  if (step.kind !== 'finish') throw new Error('expected a matching share');
  return { m3: step.m3, pending };
}

describe('the server refuses', async () => {
  const identity = createServerIdentity();
  const secrets = await makeSecrets(identity, ['Alpha-Secret-1', 'Bravo-Secret-2']);
  const held = secrets[0]!;

  it('a replayed M3', () => {
    const table = new HandshakeTable(10);
    const { m3, pending } = openHandshake(identity, secrets, held);
    table.add(pending, 0);
    expect(() => answerFinish(table.take(m3.hsId, 1), m3, identity)).not.toThrow();
    expect(() => table.take(m3.hsId, 2)).toThrow(
      expect.objectContaining({ code: 'handshake_expired' }),
    );
  });

  it('an M3 spliced onto another handshake', () => {
    const table = new HandshakeTable(10);
    const a = openHandshake(identity, secrets, held);
    const b = openHandshake(identity, secrets, held);
    table.add(a.pending, 0);
    table.add(b.pending, 0);
    const spliced: M3 = { ...a.m3, hsId: b.m3.hsId };
    expect(() => answerFinish(table.take(spliced.hsId, 1), spliced, identity)).toThrow(
      expect.objectContaining({ code: 'invalid_secret' }),
    );
    expect(() => answerFinish(b.pending, a.m3, identity)).toThrow(
      expect.objectContaining({ code: 'handshake_unknown' }),
    );
  });

  it('an M3 after the handshake expired', () => {
    const table = new HandshakeTable(10);
    const { m3, pending } = openHandshake(identity, secrets, held, 0);
    table.add(pending, 0);
    expect(() => table.take(m3.hsId, 60_000)).toThrow(
      expect.objectContaining({ code: 'handshake_expired' }),
    );
  });

  it('new handshakes past its bound, until old ones expire', () => {
    const table = new HandshakeTable(2);
    for (let i = 0; i < 2; i++)
      expect(table.add(openHandshake(identity, secrets, held, 0).pending, 0)).toBe(true);
    const third = openHandshake(identity, secrets, held, 0).pending;
    expect(table.add(third, 1)).toBe(false);
    expect(table.add(third, 60_001)).toBe(true);
    expect(table.size).toBe(1);
  });

  it('an M1 for another server', () => {
    const other = createServerIdentity();
    const start = startRegistration({ serverId: other.serverId });
    expect(() =>
      answerStart(start.m1, {
        identity,
        seenAs: 'intranet',
        secretRequired: false,
        secrets: [],
        now: 0,
      }),
    ).toThrow(expect.objectContaining({ code: 'wrong_server' }));
  });
});

describe('the client refuses', async () => {
  const identity = createServerIdentity();
  const secrets = await makeSecrets(identity, ['Alpha-Secret-1']);

  it('an M2 with more than 16 shares', () => {
    const share = {
      Yb: Buffer.alloc(32, 9).toString('base64url'),
      tagB: Buffer.alloc(32).toString('base64url'),
    };
    const m2 = {
      v: 1,
      hsId: Buffer.alloc(16).toString('base64url'),
      serverKey: identity.serverKey,
      sEph: Buffer.alloc(32, 9).toString('base64url'),
      seenAs: 'internet',
      secretRequired: true,
      shares: Array.from({ length: 17 }, () => share),
      sig: Buffer.alloc(64).toString('base64url'),
    };
    expect(() => parseM2(m2)).toThrow(expect.objectContaining({ code: 'too_many_shares' }));
    expect(() => parseM2({ ...m2, shares: m2.shares.slice(0, 16) })).not.toThrow();
  });

  it('with a pin, an M2 signed by any other key', () => {
    const impostor = createServerIdentity();
    const asImpostor = {
      ...impostor,
      serverId: identity.serverId,
      serverIdBytes: identity.serverIdBytes,
    };
    const out = runExchange({
      identity: asImpostor,
      secrets,
      secretRequired: true,
      clientPrs: secrets[0]!.prs,
      trust: { pin: identity.pin, allowTofu: false },
    });
    expect(!out.ok && out.failedAt).toBe('client-m2');
    if (!out.ok) expect(out.error).toMatchObject({ code: 'pin_mismatch' });
  });

  it('with a pin, an M2 that names the pinned key but is signed by another', () => {
    const impostor = createServerIdentity();
    const forger = {
      ...impostor,
      serverId: identity.serverId,
      serverIdBytes: identity.serverIdBytes,
      serverKey: identity.serverKey,
    };
    const out = runExchange({
      identity: forger,
      secrets,
      secretRequired: true,
      clientPrs: secrets[0]!.prs,
      trust: { pin: identity.pin, allowTofu: false },
    });
    if (!out.ok) expect(out.error).toMatchObject({ code: 'bad_signature' });
    expect(out.ok).toBe(false);
  });

  it('without a pin, an impostor that does not know the secret cannot produce a matching tag', async () => {
    const impostor = createServerIdentity();
    const asImpostor = {
      ...impostor,
      serverId: identity.serverId,
      serverIdBytes: identity.serverIdBytes,
    };
    const guesses = await makeSecrets(
      asImpostor,
      Array.from({ length: 16 }, (_, i) => `Guess-Number-${i}X`),
    );
    const out = runExchange({
      identity: asImpostor,
      secrets: guesses,
      secretRequired: true,
      clientPrs: secrets[0]!.prs,
      trust: { allowTofu: false },
    });
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.abort).toBe(true);
      expect(out.error).toMatchObject({ code: 'invalid_secret' });
    }
  });

  it('an impostor claiming no secret is needed, when it cannot be authenticated otherwise', () => {
    const impostor = createServerIdentity();
    const asImpostor = {
      ...impostor,
      serverId: identity.serverId,
      serverIdBytes: identity.serverIdBytes,
    };
    const out = runExchange({
      identity: asImpostor,
      secrets: [],
      secretRequired: false,
      clientPrs: secrets[0]!.prs,
      trust: { allowTofu: false },
    });
    if (!out.ok) expect(out.error).toMatchObject({ code: 'server_unauthenticated' });
    expect(out.ok).toBe(false);
  });
});

describe('hello', () => {
  const identity = createServerIdentity();
  const hello = createHello(identity, {
    seenAs: 'internet',
    secretRequired: true,
    kdf: TEST_KDF,
    now: 123,
  });

  it('verifies and yields the server pin', () => {
    expect(verifyHello(hello, { serverId: identity.serverId, pin: identity.pin })).toBe(
      identity.pin,
    );
  });
  it.each([
    ['a wrong pin', {}, { pin: createServerIdentity().pin }, 'pin_mismatch'],
    ['another server id', {}, { serverId: createServerIdentity().serverId }, 'wrong_server'],
    ['a changed answer', { secretRequired: false }, {}, 'bad_signature'],
    ['a changed classification', { seenAs: 'intranet' }, {}, 'bad_signature'],
    ['a changed kdf', { kdf: { ...TEST_KDF, N: 2 ** 15 } }, {}, 'bad_signature'],
  ] as const)('refuses %s', (_name, change, expectation, code) => {
    expect(() => verifyHello({ ...hello, ...change }, expectation)).toThrow(
      expect.objectContaining({ code }),
    );
  });
});

describe('the secret and PRS never show', () => {
  it('in errors, messages, or any string form of protocol objects', async () => {
    const identity = createServerIdentity();
    const text = 'Very-Private-Secret-77';
    const secret = Secret.from(text);
    const prs = await derivePrs(secret, identity.serverIdBytes, TEST_KDF);
    const wrongPrs = await derivePrs(
      Secret.from('Other-Private-99x'),
      identity.serverIdBytes,
      TEST_KDF,
    );
    const secrets = [{ id: 's1', prs }];
    const outs = [
      runExchange({ identity, secrets, secretRequired: true, clientPrs: prs }),
      runExchange({ identity, secrets, secretRequired: true, clientPrs: wrongPrs }),
      runExchange({
        identity,
        secrets,
        secretRequired: true,
        clientPrs: prs,
        tamper: { m3: (m) => void (m.tagA = m.iv) },
      }),
      runExchange({ identity, secrets: [], secretRequired: true, clientPrs: prs }),
    ];
    const start = startRegistration({ serverId: identity.serverId, prs });
    const answered = answerStart(start.m1, {
      identity,
      seenAs: 'internet',
      secretRequired: true,
      secrets,
      now: 0,
    });
    const objects: unknown[] = [secret, prs, secrets, outs, start, answered, { secret, prs }];
    const forms = objects.flatMap((o) => [
      JSON.stringify(o) ?? '',
      String(o),
      inspect(o, { depth: 10, showHidden: true }),
      `${o as string}`,
    ]);
    for (const out of outs)
      if (!out.ok)
        forms.push(String(out.error), (out.error as Error).stack ?? '', JSON.stringify(out.error));
    const haystack = forms.join('\n');
    const needles = [
      text,
      Buffer.from(text).toString('hex'),
      Buffer.from(text).toString('base64'),
      Buffer.from(text).toString('base64url'),
      prs.use().toString('hex'),
      prs.use().toString('base64'),
      prs.use().toString('base64url'),
    ];
    for (const needle of needles) expect(haystack).not.toContain(needle);
    expect(haystack).toContain('[redacted]');
  });
});
