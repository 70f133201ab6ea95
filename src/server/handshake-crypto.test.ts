import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { threadId } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DETAILS, makeSecrets } from '../../test/support/exchange.ts';
import {
  ProtocolError,
  continueRegistration,
  createServerIdentity,
  finishRegistration,
  generateSigningKey,
  parseM2,
  parseM3,
  parseM4,
  startRegistration,
} from '../protocol/index.ts';
import type { ActiveSecret, M1, M3, Prs, ServerIdentity, ServerResult } from '../protocol/index.ts';
import { CryptoBusy, inlineCrypto, pooledCrypto } from './handshake-crypto.ts';
import type { HandshakeCrypto } from './handshake-crypto.ts';

const identity = createServerIdentity();
let secrets: ActiveSecret[];
let outsider: Prs;
const kinds = ['inline', 'pooled'] as const;
const impls = {} as Record<(typeof kinds)[number], HandshakeCrypto>;

beforeAll(async () => {
  const texts = Array.from({ length: 17 }, (_, i) => `Secret-Number-${i}-Xy`);
  const all = await makeSecrets(identity, texts);
  secrets = all.slice(0, 16);
  outsider = all[16]!.prs;
  impls.inline = inlineCrypto(identity);
  impls.pooled = pooledCrypto(identity, { threads: 2 });
});

afterAll(async () => {
  await Promise.all(Object.values(impls).map((c) => c.close()));
});

const ctx = (secretRequired = true) => ({
  seenAs: 'intranet' as const,
  secretRequired,
  secrets,
  now: Date.now(),
});

/** A JSON hop with the strict parser, as on the wire; `tamper` may alter the JSON. */
function wire<T>(
  msg: T,
  parse: (v: unknown) => T,
  tamper?: (m: Record<string, unknown>) => void,
): T {
  const json = JSON.parse(JSON.stringify(msg)) as Record<string, unknown>;
  tamper?.(json);
  return parse(json);
}

/** A whole handshake by the real client through `crypto`; M3 may be tampered with. */
async function register(
  crypto: HandshakeCrypto,
  opts: { prs: Prs; verifyOnly?: boolean; tamperM3?: (m: Record<string, unknown>) => void },
): Promise<{ result: ServerResult; secretId: string | null; shares: number }> {
  const client = startRegistration({ serverId: identity.serverId, prs: opts.prs });
  const { m2, pending } = await crypto.start(client.m1, ctx());
  const step = continueRegistration(client, wire(m2, parseM2), {
    trust: { allowTofu: false },
    clientKey: generateSigningKey(),
    details: opts.verifyOnly ? { ...DETAILS, verifyOnly: true } : DETAILS,
  });
  if (step.kind !== 'finish') throw step.error;
  const accepted = await crypto.finish(pending, wire(step.m3, parseM3, opts.tamperM3));
  const m4 = opts.verifyOnly
    ? accepted.respondVerified()
    : accepted.respond({ clientId: 'c_test', registeredAt: new Date().toISOString() });
  const result = finishRegistration(step.pending, wire(m4, parseM4));
  return { result, secretId: accepted.secretId, shares: m2.shares.length };
}

async function refusal(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a refusal');
    },
    (err: unknown) => err,
  );
}

describe.each(kinds)('%s handshake crypto', (kind) => {
  it('completes a registration and a check with 16 shares, whichever secret the client holds', async () => {
    const crypto = impls[kind];
    for (const i of [0, 15]) {
      const out = await register(crypto, { prs: secrets[i]!.prs });
      expect(out).toMatchObject({ secretId: `s${i}`, shares: 16, result: { kind: 'registered' } });
    }
    const checked = await register(crypto, { prs: secrets[7]!.prs, verifyOnly: true });
    expect(checked.result).toEqual({ kind: 'verified', serverId: identity.serverId });
  });

  it('refuses a start addressed to another server with a ProtocolError', async () => {
    const m1 = startRegistration({ serverId: createServerIdentity().serverId }).m1;
    const err = await refusal(impls[kind].start(m1, ctx()));
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: 'wrong_server' });
  });

  it('reports a bug as a plain Error, not a ProtocolError', async () => {
    const err = await refusal(impls[kind].start(null as unknown as M1, ctx()));
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ProtocolError);
  });
});

describe('the pool refuses exactly as inline does', () => {
  const cases: [string, (m: Record<string, unknown>) => void, string][] = [
    ['a wrong confirmation tag', (m) => (m.tagA = 'A'.repeat(43)), 'invalid_secret'],
    ['another share', (m) => (m.share = ((m.share as number) + 1) % 16), 'invalid_secret'],
    ['no share named', (m) => delete m.share, 'bad_request'],
    ['an altered payload', (m) => (m.ct = `A${(m.ct as string).slice(1)}`), 'decrypt_failed'],
    ['another handshake id', (m) => (m.hsId = 'A'.repeat(22)), 'handshake_unknown'],
  ];

  it.each(cases)('M3 with %s', async (_, tamperM3, code) => {
    const errors = await Promise.all(
      kinds.map((k) => refusal(register(impls[k], { prs: secrets[3]!.prs, tamperM3 }))),
    );
    for (const err of errors) {
      expect(err).toBeInstanceOf(ProtocolError);
      expect(err).toMatchObject({ code });
    }
    expect((errors[1] as Error).message).toBe((errors[0] as Error).message);
  });

  it('a secret held by nobody: the client finds no share, and a forced M3 fails the same', async () => {
    const errors = await Promise.all(
      kinds.map(async (k) => {
        const client = startRegistration({ serverId: identity.serverId, prs: outsider });
        const { m2, pending } = await impls[k].start(client.m1, ctx());
        const step = continueRegistration(client, wire(m2, parseM2), {
          trust: { allowTofu: false },
          clientKey: generateSigningKey(),
          details: DETAILS,
        });
        expect(step.kind).toBe('abort');
        const forged: M3 = { v: 1, hsId: m2.hsId, share: 0, tagA: 'A'.repeat(43), iv: '', ct: '' };
        return refusal(impls[k].finish(pending, forged));
      }),
    );
    expect(errors.map((e) => (e as ProtocolError).code)).toEqual([
      'invalid_secret',
      'invalid_secret',
    ]);
  });
});

describe('the pool', () => {
  it('runs off the main thread', async () => {
    expect(await impls.inline.ping()).toBe(threadId);
    expect(await impls.pooled.ping()).not.toBe(threadId);
    expect(impls.pooled.threads).toBe(2);
    expect(impls.inline.threads).toBe(0);
  });

  it('completes many concurrent starts', async () => {
    const starts = Array.from({ length: 40 }, (_, i) => {
      const client = startRegistration({ serverId: identity.serverId, prs: secrets[i % 16]!.prs });
      return impls.pooled.start(client.m1, ctx());
    });
    const done = await Promise.all(starts);
    expect(done.every((d) => d.m2.shares.length === 16 && d.pending.candidates.length === 16)).toBe(
      true,
    );
    expect(new Set(done.map((d) => d.m2.hsId)).size).toBe(40);
  });

  it('answers CryptoBusy past its queue, and works on afterwards', async () => {
    const small = pooledCrypto(identity, { threads: 1, maxQueue: 2 });
    try {
      const m1 = startRegistration({ serverId: identity.serverId, prs: secrets[0]!.prs }).m1;
      const settled = await Promise.allSettled(
        Array.from({ length: 6 }, () => small.start(m1, ctx())),
      );
      expect(settled.map((s) => s.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'rejected',
        'rejected',
        'rejected',
      ]);
      const busy = (settled[5] as PromiseRejectedResult).reason as CryptoBusy;
      expect(busy).toBeInstanceOf(CryptoBusy);
      expect(busy.code).toBe('busy');
      await expect(small.start(m1, ctx())).resolves.toHaveProperty('m2');
    } finally {
      await small.close();
    }
  });

  it('fails every call, instead of hanging, when its workers cannot start', async () => {
    // An X25519 key is no signing key: the worker refuses it while loading.
    const bad: ServerIdentity = {
      ...identity,
      key: { ...identity.key, privateKey: generateKeyPairSync('x25519').privateKey },
    };
    const broken = pooledCrypto(bad, { threads: 1 });
    try {
      const err = await refusal(broken.ping());
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(ProtocolError);
      await expect(broken.ping()).rejects.toThrow();
    } finally {
      await broken.close();
    }
  });
});

describe('close() ends the workers: a process that used the pool exits by itself', () => {
  const run = promisify(execFile);
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const script = (protocol: string, crypto: string): string =>
    [
      `const { createServerIdentity } = await import(${JSON.stringify(pathToFileURL(root + protocol).href)});`,
      `const { pooledCrypto } = await import(${JSON.stringify(pathToFileURL(root + crypto).href)});`,
      'const crypto = pooledCrypto(createServerIdentity(), { threads: 2 });',
      'const ids = await Promise.all([crypto.ping(), crypto.ping()]);',
      'await crypto.close();',
      "process.stdout.write(ids.every((id) => id > 0) ? 'ok' : 'main thread');",
    ].join('\n');

  it('from the sources (the worker loads through tsx)', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        tsx,
        '--input-type=module',
        '-e',
        script('src/protocol/index.ts', 'src/server/handshake-crypto.ts'),
      ],
      { timeout: 30_000, cwd: root },
    );
    expect(stdout).toBe('ok');
  });

  // The worker as the product starts it (vitest's global set-up builds dist/ when stale).
  it('from the build (dist/lib)', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        script('dist/lib/protocol/index.js', 'dist/lib/server/handshake-crypto.js'),
      ],
      { timeout: 30_000, cwd: root },
    );
    expect(stdout).toBe('ok');
  });
});
