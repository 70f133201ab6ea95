import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DETAILS, TEST_KDF, makeSecrets, runExchange } from '../../test/support/exchange.ts';
import {
  HandshakeTable,
  ProtocolError,
  Secret,
  answerFinish,
  answerStart,
  continueRegistration,
  createServerIdentity,
  derivePrs,
  generateSigningKey,
  startRegistration,
  toB64u,
} from './index.ts';

const STRONG = ['Correct-Horse-7', 'Battery9Staple', 'Tr0ub4dor&3xyz', 'Zebra-Quartz-42'];
const manySecrets = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `Secret-Number-${i}-Xy`);

function codeOf(err: unknown): string | undefined {
  return err instanceof ProtocolError ? err.code : undefined;
}

describe('a full exchange', () => {
  it.each([1, 2, 16])(
    'succeeds with %i active secrets whichever one the client holds',
    async (n) => {
      const identity = createServerIdentity();
      const texts = manySecrets(n);
      const secrets = await makeSecrets(identity, texts);
      for (const [i, secret] of secrets.entries()) {
        const out = runExchange({
          identity,
          secrets,
          secretRequired: true,
          clientPrs: secret.prs,
          trust: { allowTofu: false },
        });
        expect(out.ok, `secret ${i}`).toBe(true);
        if (out.ok) {
          expect(out.secretId).toBe(secret.id);
          expect(out.result.kind).toBe('registered');
          expect(out.m.m2.shares).toHaveLength(n);
        }
      }
    },
  );

  it('succeeds with no secret required, authenticating by pin or on first use', () => {
    const identity = createServerIdentity();
    const pinned = runExchange({
      identity,
      secrets: [],
      secretRequired: false,
      trust: { pin: identity.pin, allowTofu: false },
    });
    expect(pinned.ok).toBe(true);
    const tofu = runExchange({
      identity,
      secrets: [],
      secretRequired: false,
      trust: { allowTofu: true },
    });
    expect(tofu.ok).toBe(true);
    if (tofu.ok) expect(tofu.m.m2.shares).toEqual([]);
  });

  it('refuses a server it cannot authenticate (no pin, no secret, no TOFU)', () => {
    const identity = createServerIdentity();
    const out = runExchange({
      identity,
      secrets: [],
      secretRequired: false,
      trust: { allowTofu: false },
    });
    expect(out.ok).toBe(false);
    if (!out.ok) expect(codeOf(out.error)).toBe('server_unauthenticated');
  });

  it('proves a secret the client holds even where the server requires none', async () => {
    const identity = createServerIdentity();
    const [secret] = await makeSecrets(identity, [STRONG[0] as string]);
    const out = runExchange({
      identity,
      secrets: [secret!],
      secretRequired: false,
      clientPrs: secret!.prs,
      trust: { allowTofu: false },
    });
    expect(out.ok).toBe(true);
    if (out.ok) {
      expect(out.secretId).toBe(secret!.id);
      expect(out.m.m2.shares).toHaveLength(1);
    }
  });

  it('refuses a downgrade: a client holding a secret, no pin, and a server that offers no share', async () => {
    const identity = createServerIdentity();
    const [secret] = await makeSecrets(identity, [STRONG[0] as string]);
    // The impostor knows no secret: it says none is required and sends no shares.
    const out = runExchange({
      identity,
      secrets: [],
      secretRequired: false,
      clientPrs: secret!.prs,
      trust: { allowTofu: true },
    });
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.failedAt).toBe('client-m2');
      expect(codeOf(out.error)).toBe('server_unauthenticated');
    }
  });

  it('aborts, without a pin, when a server that requires no secret matches none of its shares', async () => {
    const identity = createServerIdentity();
    const [held, other] = await makeSecrets(identity, [STRONG[0] as string, STRONG[1] as string]);
    const out = runExchange({
      identity,
      secrets: [other!],
      secretRequired: false,
      clientPrs: held!.prs,
      trust: { allowTofu: true },
    });
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.abort).toBe(true);
  });

  it('with a pin, registers without a share where none is required and the held secret is stale', async () => {
    const identity = createServerIdentity();
    const [held, other] = await makeSecrets(identity, [STRONG[0] as string, STRONG[1] as string]);
    const table = new HandshakeTable(10);
    const out = runExchange({
      identity,
      secrets: [other!],
      secretRequired: false,
      clientPrs: held!.prs,
      trust: { pin: identity.pin, allowTofu: false },
      table,
    });
    expect(out.ok).toBe(true);
    if (out.ok) {
      expect(out.secretId).toBeNull();
      expect(out.m.m3.share).toBeUndefined();
    }
  });

  it('confirms a secret without registering when asked to verify only', async () => {
    const identity = createServerIdentity();
    const secrets = await makeSecrets(identity, STRONG);
    const out = runExchange({
      identity,
      secrets,
      secretRequired: true,
      clientPrs: secrets[2]!.prs,
      verifyOnly: true,
    });
    expect(out.ok && out.result.kind).toBe('verified');
  });

  it('tells the client without a secret that one is required', () => {
    const identity = createServerIdentity();
    const out = runExchange({ identity, secrets: [], secretRequired: true });
    expect(!out.ok && out.failedAt).toBe('server-m1');
    if (!out.ok) expect(codeOf(out.error)).toBe('secret_required');
  });

  it('says so when a secret is required but none is active', async () => {
    const identity = createServerIdentity();
    const [s] = await makeSecrets(identity, [STRONG[0] as string]);
    const out = runExchange({ identity, secrets: [], secretRequired: true, clientPrs: s!.prs });
    if (!out.ok) expect(codeOf(out.error)).toBe('no_active_secrets');
    expect(out.ok).toBe(false);
  });
});

describe('secrets', () => {
  it('a wrong secret is detected by the client before M3, which aborts', async () => {
    const identity = createServerIdentity();
    const secrets = await makeSecrets(identity, STRONG);
    const wrong = await derivePrs(
      Secret.from('Not-The-Secret-1'),
      identity.serverIdBytes,
      TEST_KDF,
    );
    const out = runExchange({ identity, secrets, secretRequired: true, clientPrs: wrong });
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.failedAt).toBe('client-m2');
      expect(out.abort).toBe(true);
      expect(codeOf(out.error)).toBe('invalid_secret');
    }
  });

  it('the server takes the abort for its handshake, and refuses a forged M3 for it', async () => {
    const identity = createServerIdentity();
    const secrets = await makeSecrets(identity, STRONG.slice(0, 2));
    const wrong = await derivePrs(
      Secret.from('Not-The-Secret-1'),
      identity.serverIdBytes,
      TEST_KDF,
    );
    const start = startRegistration({ serverId: identity.serverId, prs: wrong });
    const { m2, pending } = answerStart(start.m1, {
      identity,
      seenAs: 'internet',
      secretRequired: true,
      secrets,
      now: 0,
    });
    const table = new HandshakeTable(10);
    table.add(pending, 0);
    const step = continueRegistration(start, m2, {
      trust: { allowTofu: false },
      clientKey: generateSigningKey(),
      details: DETAILS,
    });
    expect(step.kind).toBe('abort');
    if (step.kind !== 'abort') return;
    expect(table.take(step.abort.hsId, 1).hsId).toBe(pending.hsId);
    // A client that ignores the mismatch and claims a share anyway, with the
    // tag its wrong secret gives, is refused by the server.
    const second = answerStart(start.m1, {
      identity,
      seenAs: 'internet',
      secretRequired: true,
      secrets,
      now: 0,
    });
    table.add(second.pending, 0);
    const forged = {
      v: 1 as const,
      hsId: second.m2.hsId,
      share: 0,
      tagA: toB64u(randomBytes(32)),
      iv: toB64u(randomBytes(12)),
      ct: toB64u(randomBytes(64)),
    };
    expect(() => answerFinish(table.take(forged.hsId, 1), forged, identity)).toThrow(
      expect.objectContaining({ code: 'invalid_secret' }),
    );
  });

  it('treats NFC and NFD spellings as the same secret', async () => {
    const identity = createServerIdentity();
    const nfc = 'Caf\u00e9-Secret-42';
    const nfd = 'Cafe\u0301-Secret-42';
    expect(nfc).not.toBe(nfd);
    const secrets = await makeSecrets(identity, [nfc]);
    const clientPrs = await derivePrs(Secret.from(nfd), identity.serverIdBytes, TEST_KDF);
    expect(runExchange({ identity, secrets, secretRequired: true, clientPrs }).ok).toBe(true);
  });

  it('drops one trailing newline of a secret read from a file, and nothing else', async () => {
    const identity = createServerIdentity();
    const secrets = await makeSecrets(identity, ['File-Secret-99']);
    for (const text of ['File-Secret-99\n', 'File-Secret-99\r\n']) {
      const clientPrs = await derivePrs(
        Secret.from(text, { fromFile: true }),
        identity.serverIdBytes,
        TEST_KDF,
      );
      expect(runExchange({ identity, secrets, secretRequired: true, clientPrs }).ok).toBe(true);
    }
    for (const text of ['File-Secret-99\n\n', ' File-Secret-99\n', 'File-Secret-99 \n']) {
      const clientPrs = await derivePrs(
        Secret.from(text, { fromFile: true }),
        identity.serverIdBytes,
        TEST_KDF,
      );
      expect(runExchange({ identity, secrets, secretRequired: true, clientPrs }).ok).toBe(false);
    }
  });
});
