/**
 * Online guessing, tried as an attacker would with real processes: every
 * M2 that carries shares counts as a guess for its source until the
 * client proves it; honest rollouts behind one address still go through.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret, derivePrs, fromB64u } from '../src/protocol/index.ts';
import type { Prs } from '../src/protocol/index.ts';
import { runAgent } from './support/agent.ts';
import { floodM1, guessByM1, prsOfGuess } from './support/attacker.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { tempDir } from './support/procs.ts';
import { rollout } from './support/rollout.ts';
import { call, endpoint, hello, register } from './support/wire-client.ts';
import type { Route } from './support/wire-client.ts';

const SECRET = 'Right-Secret-2026';

interface AuditRow {
  event: string;
  route?: string;
  source?: string;
  outcome: string;
  reason?: string;
  count: number;
}

async function auditOf(d: Deployment): Promise<AuditRow[]> {
  const res = await fetch(`${d.server.adminUrl}/admin/v1/audit?limit=1000`, {
    headers: { authorization: `Bearer ${d.server.adminToken}` },
  });
  return (await res.json()) as AuditRow[];
}

/** Waits, with a bound, until `check` holds. */
async function until<T>(what: string, get: () => Promise<T>, check: (v: T) => boolean): Promise<T> {
  const end = Date.now() + 20_000;
  for (;;) {
    const v = await get();
    if (check(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function prsFor(route: Route, secret: string): Promise<Prs> {
  const h = await hello(route);
  return derivePrs(Secret.from(secret), fromB64u(h.serverId, 'serverId', 16), h.kdf);
}

describe('guessing through M1 alone', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await deploy([SECRET], { serverArgs: ['--handshake-ttl', '3'] });
  });
  afterAll(() => d?.stop());

  it.each([
    ['direct', '127.0.0.21'],
    ['relay', '127.0.0.22'],
  ] as const)(
    'on the %s route: 10 guesses answered, then refused; unfinished ones audited as failed guesses',
    async (name, address) => {
      const route = d.routes[name];
      const { prs, serverId } = await prsOfGuess(route, 'Wrong-Guess-Abc1');
      const answers: number[] = [];
      for (let i = 0; i < 30; i++)
        answers.push((await guessByM1(route, prs, serverId, address)).status);
      expect(answers.filter((s) => s === 200)).toHaveLength(10);
      expect(answers.slice(10).every((s) => s === 429)).toBe(true);

      // The handshakes expire unfinished: each becomes a definite failed guess, in the audit.
      const rows = await until(
        'the unfinished guesses in the audit',
        () => auditOf(d),
        (rs) =>
          rs.some(
            (r) =>
              r.source === address &&
              r.outcome === 'failed_guess' &&
              r.reason === 'unfinished' &&
              r.count === 10,
          ),
      );
      expect(rows.find((r) => r.source === address && r.outcome === 'throttled')?.count).toBe(20);
      // Now blocked on definite failures: refused with a Retry-After, and the block is not renewed by asking.
      const blocked = await guessByM1(route, prs, serverId, address);
      expect(blocked.status).toBe(429);
      expect(Number(blocked.retryAfter)).toBeGreaterThanOrEqual(1);

      // A neighbour with the right secret from another address is not held back.
      const ok = await register(route, {
        secret: SECRET,
        localAddress: '127.0.0.23',
        pin: d.server.pin,
      });
      expect(ok.ok).toBe(true);
    },
  );

  it('a guess that matched is never answered past the limit either: the right secret at guess 11 is refused', async () => {
    const route = d.routes.direct;
    const address = '127.0.0.24';
    const wrong = await prsOfGuess(route, 'Wrong-Guess-Abc2');
    for (let i = 0; i < 10; i++) await guessByM1(route, wrong.prs, wrong.serverId, address);
    const right = await prsOfGuess(route, SECRET);
    const r = await guessByM1(route, right.prs, right.serverId, address);
    expect(r).toMatchObject({ status: 429, matched: false });
  });
});

describe('one source cannot take the handshake table', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await deploy([SECRET], { serverArgs: ['--max-handshakes', '500'] });
  });
  afterAll(() => d?.stop());

  it('a flood of M1s with random points from one address; an agent from another registers at once', async () => {
    const flooder = '127.0.0.31';
    const url = endpoint(d.routes.direct, 'register/start');
    const statuses = new Map<number, number>();
    let stop = false;
    const flood = Array.from({ length: 16 }, async () => {
      for (let i = 0; i < 400 && !stop; i++) {
        const r = await call(url, floodM1(d.serverId), flooder);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    });
    // Let the flood fill what it can first.
    await until(
      'the flood to be refused',
      () => Promise.resolve(statuses.get(429) ?? 0),
      (n) => n > 100,
    );
    const work = tempDir();
    const secretFile = join(work, 'secret');
    writeFileSync(secretFile, SECRET, { mode: 0o600 });
    const agent = await runAgent([
      '--server',
      d.server.url,
      `--server-pin=${d.server.pin}`,
      '--secret-file',
      secretFile,
      '--state-dir',
      join(work, 'state'),
      '--deadline',
      '30',
    ]);
    stop = true;
    await Promise.all(flood);
    expect(agent.json).toMatchObject({ ok: true, code: 'registered' });
    // The flooder held at most its guess limit open; everything else was refused before any crypto.
    expect(statuses.get(200)).toBe(10);
    expect(statuses.get(503) ?? 0).toBe(0);
    console.log(
      `flood: ${[...statuses].map(([s, n]) => `${n}×${s}`).join(', ')}; the agent registered in ${String(agent.json.durationMs)} ms`,
    );
  });
});

describe('honest rollouts behind one address', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await deploy(['Stale-Secret-2025', SECRET]);
  });
  afterAll(() => d?.stop());

  it('200 clients with the right secret from one address, 50 at a time, all register', async () => {
    const prs = await prsFor(d.routes.direct, SECRET);
    const out = await rollout(d.routes.direct, {
      count: 200,
      concurrency: 50,
      prs,
      localAddress: '127.0.0.41',
      pin: d.server.pin,
    });
    expect(out.failed).toEqual([]);
    expect(out.registered).toBe(200);
    expect(new Set(out.clientIds).size).toBe(200);
    console.log(`rollout of 200 at 50: ${out.waits} waits on 429`);
  });

  it('20 real agents at once from one address all register (they wait out the 429s)', async () => {
    const work = tempDir();
    const secretFile = join(work, 'secret');
    writeFileSync(secretFile, SECRET, { mode: 0o600 });
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        runAgent(
          [
            '--server',
            d.server.url,
            `--server-pin=${d.server.pin}`,
            '--secret-file',
            secretFile,
            '--state-dir',
            join(work, `state-${i}`),
            '--deadline',
            '90',
          ],
          { timeoutMs: 100_000 },
        ),
      ),
    );
    expect(runs.map((r) => r.code)).toEqual(new Array(20).fill(0));
  });

  it('machines still carrying a removed secret do not block the rest of their NAT', async () => {
    const stale = (
      JSON.parse((await d.server.cli(['auth', 'secret', 'list', '--json'])).stdout) as {
        id: string;
      }[]
    )[0]!.id;
    const stalePrs = await prsFor(d.routes.relay, 'Stale-Secret-2025');
    expect((await d.server.cli(['auth', 'secret', 'remove', stale])).code).toBe(0);
    const nat = '127.0.0.42';
    for (let i = 0; i < 10; i++) {
      const r = await register(d.routes.relay, {
        prs: stalePrs,
        localAddress: nat,
        pin: d.server.pin,
      });
      expect(r).toMatchObject({ ok: false, code: 'invalid_secret' });
    }
    const out = await rollout(d.routes.relay, {
      count: 24,
      concurrency: 24,
      prs: await prsFor(d.routes.relay, SECRET),
      localAddress: nat,
      pin: d.server.pin,
    });
    expect(out.failed).toEqual([]);
    expect(out.registered).toBe(24);
  });
});

describe('the server-wide guessing alarm', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await deploy([SECRET], { serverArgs: ['--guess-alarm', '6'] });
  });
  afterAll(() => d?.stop());

  it('raises when failed guesses from many sources, each under its limit, add up', async () => {
    const prs = await prsFor(d.routes.direct, 'Distributed-Guess-1');
    let show = JSON.parse((await d.server.cli(['auth', 'show', '--json'])).stdout) as {
      guessAlarm: { active: boolean } | null;
    };
    expect(show.guessAlarm).toBeNull();
    for (const address of ['127.0.0.51', '127.0.0.52', '127.0.0.53'])
      for (let i = 0; i < 2; i++)
        expect(await register(d.routes.direct, { prs, localAddress: address })).toMatchObject({
          ok: false,
          code: 'invalid_secret',
        });
    show = JSON.parse((await d.server.cli(['auth', 'show', '--json'])).stdout) as typeof show;
    expect(show.guessAlarm).toMatchObject({ active: true, failedLastHour: 6, threshold: 6 });
    expect((await d.server.cli(['auth', 'show'])).stdout).toMatch(/ALARM: +6 failed guesses/);
    const rows = await auditOf(d);
    expect(rows.find((r) => r.event === 'alarm')).toMatchObject({ outcome: 'raised' });
    // An alarm, not a lockout: the right secret still registers.
    expect(
      (await register(d.routes.direct, { secret: SECRET, localAddress: '127.0.0.54' })).ok,
    ).toBe(true);
  });
});
