/**
 * Impostors the agent must not trust, as real processes: a server that
 * knows no secret and says none is needed (the downgrade to trust on
 * first use), and a malicious relay that answers with 16 shares of its
 * own guesses to learn from the agent's M3 which one was right.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Secret,
  answerStart,
  createHello,
  derivePrs,
  fromB64u,
  generateSigningKey,
  parseM1,
  serverIdentity,
} from '../src/protocol/index.ts';
import type { ActiveSecret, PendingHandshake } from '../src/protocol/index.ts';
import { runAgent } from './support/agent.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { startServer, tempDir } from './support/procs.ts';
import type { ServerHandle } from './support/procs.ts';

const SECRET = 'Impostor-Bait-2026';
const TEST_KDF = { name: 'scrypt' as const, N: 2 ** 14, r: 8, p: 1 };

function secretFile(): { file: string; state: string } {
  const work = tempDir();
  const file = join(work, 'secret');
  writeFileSync(file, SECRET, { mode: 0o600 });
  return { file, state: join(work, 'state') };
}

describe('a server that knows no secret and says none is required', () => {
  let impostor: ServerHandle;
  let honest: Deployment;
  beforeAll(async () => {
    impostor = await startServer();
    expect((await impostor.cli(['auth', 'mode', 'none'])).code).toBe(0);
    honest = await deploy([SECRET]);
    expect((await honest.server.cli(['auth', 'mode', 'none'])).code).toBe(0);
  });
  afterAll(async () => {
    await impostor?.proc.stop();
    await honest?.stop();
  });

  it('gets no registration from an agent that holds a secret and has no pin (exit 6)', async () => {
    const s = secretFile();
    const r = await runAgent([
      '--server',
      impostor.url,
      '--secret-file',
      s.file,
      '--state-dir',
      s.state,
    ]);
    expect(r.code).toBe(6);
    expect(r.json).toMatchObject({ ok: false, code: 'server_unauthenticated' });
    expect(String(r.json.message)).toMatch(/did not prove knowledge of the secret/);
    // M3 was never sent: the impostor learned no hostname, machine id or install id.
    const clients = JSON.parse(
      (await impostor.cli(['clients', 'list', '--json'])).stdout,
    ) as unknown[];
    expect(clients).toEqual([]);
  });

  it('the real server proves the secret even in mode none, so the same agent registers', async () => {
    const s = secretFile();
    const r = await runAgent([
      '--server',
      honest.server.url,
      '--secret-file',
      s.file,
      '--state-dir',
      s.state,
    ]);
    expect(r.json).toMatchObject({ ok: true, code: 'registered', serverAuth: 'secret' });
  });

  it('through the relay too, even with --allow-unpinned-relay', async () => {
    const relayed = await deploy([]);
    try {
      expect((await relayed.server.cli(['auth', 'mode', 'none'])).code).toBe(0);
      const s = secretFile();
      const r = await runAgent([
        '--relay',
        relayed.relay.url,
        `--server-id=${relayed.serverId}`,
        '--allow-unpinned-relay',
        '--secret-file',
        s.file,
        '--state-dir',
        s.state,
      ]);
      expect(r.code).toBe(6);
      expect(r.json).toMatchObject({ code: 'server_unauthenticated' });
      expect(JSON.parse((await relayed.server.cli(['clients', 'list', '--json'])).stdout)).toEqual(
        [],
      );
    } finally {
      await relayed.stop();
    }
  });
});

describe('a malicious relay that answers with 16 shares of its own guesses', () => {
  const guesses = Array.from({ length: 16 }, (_, i) => (i === 7 ? SECRET : `Guess-${i}-Abcdefgh`));
  const real = generateSigningKey();
  const serverId = 'AAAAAAAAAAAAAAAAAAAAAA';
  const seen = { start: 0, finish: [] as unknown[] };
  let relay: Server;
  let url: string;
  let learned: string | null = null;

  beforeAll(async () => {
    // The relay knows the server id (it routes by it) but not the server's key.
    const identity = serverIdentity(serverId, generateSigningKey());
    const secrets: ActiveSecret[] = await Promise.all(
      guesses.map(async (g, i) => ({
        id: `guess-${i}`,
        prs: await derivePrs(Secret.from(g), fromB64u(serverId, 'serverId', 16), TEST_KDF),
      })),
    );
    const open = new Map<string, PendingHandshake>();
    relay = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const send = (status: number, value: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(value));
        };
        const path = req.url ?? '';
        if (path.endsWith('/hello'))
          return send(
            200,
            createHello(identity, {
              seenAs: 'internet',
              secretRequired: true,
              kdf: TEST_KDF,
              now: Date.now(),
            }),
          );
        if (path.endsWith('/register/start')) {
          seen.start += 1;
          const { m2, pending } = answerStart(parseM1(JSON.parse(body)), {
            identity,
            seenAs: 'internet',
            secretRequired: true,
            secrets,
            now: Date.now(),
          });
          open.set(pending.hsId, pending);
          return send(200, m2);
        }
        if (path.endsWith('/register/finish')) {
          const m3 = JSON.parse(body) as { hsId: string; share?: number };
          seen.finish.push(m3);
          const pending = open.get(m3.hsId);
          if (pending && m3.share !== undefined)
            learned = guesses[Number(pending.candidates[m3.share]?.secretId.slice(6))] ?? null;
          return send(500, { error: { code: 'internal', message: 'gotcha' } });
        }
        send(404, {});
      });
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => relay.close(() => r())));

  it('gets nothing without a pin: the agent refuses an unpinned relay before sending M1 (exit 6)', async () => {
    const s = secretFile();
    const r = await runAgent([
      '--relay',
      url,
      `--server-id=${serverId}`,
      '--secret-file',
      s.file,
      '--state-dir',
      s.state,
    ]);
    expect(r.code).toBe(6);
    expect(r.json).toMatchObject({ code: 'unpinned_relay' });
    expect(seen.start).toBe(0);
    expect(seen.finish).toEqual([]);
  });

  it('gets no M3 when the pin is configured: its key does not match (exit 6)', async () => {
    const { pinOf } = await import('../src/protocol/index.ts');
    const s = secretFile();
    const r = await runAgent([
      '--relay',
      url,
      `--server-id=${serverId}`,
      `--server-pin=${pinOf(real.publicRaw)}`,
      '--secret-file',
      s.file,
      '--state-dir',
      s.state,
    ]);
    expect(r.code).toBe(6);
    expect(seen.finish).toEqual([]);
    expect(learned).toBeNull();
  });

  it('what --allow-unpinned-relay costs, as the README says: the relay learns which of its guesses was right', async () => {
    const s = secretFile();
    const r = await runAgent([
      '--relay',
      url,
      `--server-id=${serverId}`,
      '--allow-unpinned-relay',
      '--secret-file',
      s.file,
      '--state-dir',
      s.state,
    ]);
    expect(r.code).not.toBe(0);
    expect(seen.finish).toHaveLength(1);
    expect(learned).toBe(SECRET);
  });
});
