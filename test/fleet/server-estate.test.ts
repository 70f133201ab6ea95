/**
 * Two server instances on one PostgreSQL, behind nginx round-robin: one
 * identity, handshakes that survive a change of instance, a replayed
 * finish refused by every instance, guess limits that hold for the estate,
 * and herds that lose nothing when an instance is killed or PostgreSQL
 * restarts.
 */
import { readFileSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Secret,
  continueRegistration,
  derivePrs,
  fromB64u,
  generateSigningKey,
  parseM2,
  startRegistration,
} from '../../src/protocol/index.ts';
import { guessByM1, prsOfGuess } from '../support/attacker.ts';
import { DETAILS } from '../support/exchange.ts';
import { balance, createEstate, estateEnv, okRequests, openEstate } from '../support/estate.ts';
import type { Estate, EstateInstance } from '../support/estate.ts';
import type { NginxHandle } from '../support/fleet.ts';
import { runHerd } from '../support/herd.ts';
import { startPostgres } from '../support/postgres.ts';
import type { PostgresHandle } from '../support/postgres.ts';
import { BIN, runProc, startProc, startServer, tempDir } from '../support/procs.ts';
import { call, hello, register } from '../support/wire-client.ts';

const SECRET = 'Estate-Secret-2026';
const HERD = Number(process.env.ESTATE_HERD_CLIENTS ?? 5_000);

/** Rows, machines and client ids of one herd in the clients table, counted in SQL. */
async function herdRows(
  pg: PostgresHandle,
  label: string,
): Promise<{ rows: number; machines: number; ids: number }> {
  const out = await pg.psql(
    `SELECT COUNT(*) || ' ' || COUNT(DISTINCT hostname) || ' ' || COUNT(DISTINCT client_id) FROM clients WHERE hostname LIKE '${label}-%'`,
  );
  const [rows, machines, ids] = out.trim().split(/\s+/).map(Number);
  return { rows: rows as number, machines: machines as number, ids: ids as number };
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await request(url);
  return { status: res.statusCode, body: await res.body.json() };
}

describe('two instances on one PostgreSQL behind nginx', () => {
  let pg: PostgresHandle;
  let estate: Estate;
  let a: EstateInstance;
  let b: EstateInstance;
  let lb: NginxHandle;

  beforeAll(async () => {
    pg = await startPostgres();
    estate = await createEstate(pg, SECRET);
    [a, b] = await Promise.all([
      estate.startInstance(['--workers', '1']),
      estate.startInstance(['--workers', '1']),
    ]);
    lb = await balance([a, b]);
  });
  afterAll(async () => {
    await Promise.all([a?.proc.stop(), b?.proc.stop()]);
  });

  it('every instance answers as the one server: the same id and pin', async () => {
    for (const i of [a, b]) {
      const h = await hello({ kind: 'direct', url: i.url });
      expect(h.serverId).toBe(estate.serverId);
    }
    expect(estate.pin).toMatch(/\S/);
    // Not ready means not ready: both are, and say which store they use.
    for (const i of [a, b]) {
      expect(await getJson(`${i.url}/readyz`)).toEqual({
        status: 200,
        body: { ready: true, store: 'postgres' },
      });
    }
  });

  it('a start answered by one instance is finished by the other; the replayed finish is refused by both', async () => {
    const h = await hello({ kind: 'direct', url: a.url });
    const prs = await derivePrs(Secret.from(SECRET), fromB64u(h.serverId, 'serverId', 16), h.kdf);
    const start = startRegistration({ serverId: h.serverId, prs });
    const r2 = await call(`${a.url}/v1/register/start`, start.m1);
    expect(r2.status).toBe(200);
    const step = continueRegistration(start, parseM2(r2.body), {
      trust: { pin: estate.pin, allowTofu: false },
      clientKey: generateSigningKey(),
      details: { ...DETAILS, machineId: 'cross-instance', hostname: 'cross-instance' },
    });
    if (step.kind !== 'finish') throw new Error(`no matching share: ${step.kind}`);
    const r4 = await call(`${b.url}/v1/register/finish`, step.m3);
    expect(r4.status).toBe(200);
    for (const i of [a, b, b]) {
      const replay = await call(`${i.url}/v1/register/finish`, step.m3);
      expect(replay.status).toBe(409);
      expect((replay.body as { error: { code: string } }).error.code).toBe('handshake_expired');
    }
    expect(await herdRows(pg, 'cross')).toEqual({ rows: 1, machines: 1, ids: 1 });
  });

  it('a client that registers again gets the same client id whichever instance answers', async () => {
    const clientKey = generateSigningKey();
    const ids: string[] = [];
    for (const i of [a, b, a]) {
      const r = await register(
        { kind: 'direct', url: i.url },
        { secret: SECRET, clientKey, pin: estate.pin, machineId: 'again' },
      );
      if (!r.ok || r.result.kind !== 'registered') throw new Error(JSON.stringify(r));
      ids.push(r.result.clientId);
    }
    expect(new Set(ids).size).toBe(1);
    const rows = await pg.psql(`SELECT COUNT(*) FROM clients WHERE machine_id = 'again'`);
    expect(rows.trim()).toBe('1');
  });

  it('agents register through nginx with their starts and finishes spread over both instances', async () => {
    const herd = await runHerd({
      serverUrl: lb.url,
      serverId: estate.serverId,
      pin: estate.pin,
      secret: SECRET,
      clients: 200,
      concurrency: 20,
      label: 'spread',
    });
    expect(herd.failures.size).toBe(0);
    expect(herd.ids.size).toBe(200);
    expect(await herdRows(pg, 'spread')).toEqual({ rows: 200, machines: 200, ids: 200 });
    for (const i of [a, b]) {
      expect(await okRequests(i, 'start')).toBeGreaterThan(50);
      expect(await okRequests(i, 'finish')).toBeGreaterThan(50);
    }
  });

  it('an attacker guessing against both instances gets no more guesses than against one', async () => {
    const address = '127.0.0.66';
    const routes = [a, b].map((i) => ({ kind: 'direct' as const, url: i.url }));
    const { prs, serverId } = await prsOfGuess(routes[0] as (typeof routes)[0], 'Wrong-Guess-Xyz1');
    const answers: number[] = [];
    // Alternating, and in pairs at once: neither the instance nor the race adds a guess.
    for (let i = 0; i < 15; i++) {
      const pair = await Promise.all(routes.map((r) => guessByM1(r, prs, serverId, address)));
      answers.push(...pair.map((p) => p.status));
    }
    expect(answers.filter((s) => s === 200)).toHaveLength(10);
    expect(answers.filter((s) => s === 429)).toHaveLength(20);
  });

  it('a password given in --store is gone from the process title and every output', async () => {
    const proc = startProc(BIN.server, [
      'start',
      '--data-dir',
      join(tempDir('cb-estate-'), 'instance'),
      '--listen',
      '127.0.0.1:0',
      '--store',
      pg.url,
    ]);
    await proc.waitFor(/listening on/);
    const cmdline = readFileSync(`/proc/${proc.child.pid}/cmdline`, 'utf8');
    expect(cmdline).not.toContain(pg.password);
    expect(cmdline).toContain('bootstrap-server');
    await proc.stop();
    expect(proc.stdout + proc.stderr).not.toContain(pg.password);
  });

  it('the authorization secret is nowhere in the estate: not in any table, log or output', async () => {
    // Every table, every row, as text (the PRS and pending handshakes included).
    const tables = (
      await pg.psql(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)
    ).split('\n');
    expect(tables).toEqual(expect.arrayContaining(['secrets', 'clients', 'handshakes', 'audit']));
    for (const table of tables) {
      const dump = await pg.psql(`SELECT t::text FROM ${table} t`);
      expect(dump).not.toContain(SECRET);
      expect(dump).not.toContain(Buffer.from(SECRET).toString('base64url'));
    }
    for (const i of [a, b]) {
      expect(i.proc.stdout + i.proc.stderr).not.toContain(SECRET);
      expect(readFileSync(join(i.dataDir, 'server.log'), 'utf8')).not.toContain(SECRET);
    }
  });

  it('metrics count requests by kind and outcome, and the store calls', async () => {
    const res = await request(`${a.adminUrl}/metrics`);
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(text).toMatch(
      /bootstrap_server_requests_total\{[^}]*kind="start"[^}]*outcome="rate_limited"/,
    );
    expect(text).toMatch(/bootstrap_server_store_seconds_count\{[^}]*method="registerClient"/);
    expect(text).toMatch(/bootstrap_server_request_seconds_bucket\{[^}]*kind="finish"/);
    expect(text).not.toContain(pg.password);
  });
});

describe(`a herd of ${HERD} through nginx while one instance is killed with SIGKILL halfway`, () => {
  it('every agent ends registered or retryable, none twice, and the store has one client per agent', async () => {
    const pg = await startPostgres();
    const estate = await createEstate(pg, SECRET);
    const [a, b] = await Promise.all([estate.startInstance(), estate.startInstance()]);
    const lb = await balance([a, b]);
    let killedAt = -1;
    let aliveAtKill = false;
    const herd = await runHerd({
      serverUrl: lb.url,
      serverId: estate.serverId,
      pin: estate.pin,
      secret: SECRET,
      clients: HERD,
      concurrency: 200,
      label: 'kill',
      onEnded: (n) => {
        if (n === Math.floor(HERD / 2)) {
          // Alive until now: the kill, not an earlier crash, is what the herd lives through.
          aliveAtKill = a.proc.child.exitCode === null && a.proc.child.signalCode === null;
          killedAt = n;
          a.proc.child.kill('SIGKILL');
        }
      },
    });
    expect(killedAt).toBe(Math.floor(HERD / 2));
    expect(aliveAtKill).toBe(true);
    expect(a.proc.child.signalCode).toBe('SIGKILL');
    const gaveUp = [...herd.failures.values()];
    expect(gaveUp.filter((f) => !f.retryable)).toEqual([]);
    expect(herd.ids.size + herd.failures.size).toBe(HERD);
    const rows = await herdRows(pg, 'kill');
    // One row per machine: nobody registered twice, whichever instance answered.
    expect(rows.rows).toBe(rows.machines);
    expect(rows.ids).toBe(rows.rows);
    // Every agent that says it registered is in the store under the id it was given.
    expect(rows.machines).toBeGreaterThanOrEqual(herd.ids.size);
    const stored = await pg.psql(
      `SELECT hostname || '=' || client_id FROM clients WHERE hostname LIKE 'kill-%'`,
    );
    const byMachine = new Map(
      stored
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    for (const [n, id] of herd.ids) expect(byMachine.get(`kill-${n}`)).toBe(id);
    console.log(
      `herd of ${HERD}, instance killed at ${killedAt}: ${herd.ids.size} registered, ${herd.failures.size} gave up (retryable), ${herd.retries} retries, ${herd.seconds.toFixed(1)} s`,
    );
    await b.proc.stop();
  });
});

describe('PostgreSQL restarted during a herd', () => {
  it('clients see 503 and retry; nothing is lost; readiness follows the store', async () => {
    const pg = await startPostgres();
    const estate = await createEstate(pg, SECRET);
    const [a, b] = await Promise.all([estate.startInstance(), estate.startInstance()]);
    const lb = await balance([a, b]);

    const debug = (what: string): void => {
      if (process.env.ESTATE_DEBUG) console.log(`${what} at ${new Date().toISOString()}`);
    };
    debug('started');
    // Down: not ready, and a client is told to come back (503 with Retry-After), never a 500.
    await pg.stop();
    debug('stopped');
    const down = await getJson(`${a.url}/readyz`);
    expect(down.status).toBe(503);
    // Clients are told it is not ready, not where the database is; the admin listener says.
    expect(JSON.stringify(down.body)).not.toContain(String(pg.port));
    const downAdmin = await getJson(`${a.adminUrl}/readyz`);
    expect(downAdmin.status).toBe(503);
    expect(JSON.stringify(downAdmin.body)).toContain(`127.0.0.1:${pg.port}`);
    expect(JSON.stringify(downAdmin.body)).not.toContain(pg.password);
    const refused = await request(`${a.url}/v1/hello`);
    expect(refused.statusCode).toBe(503);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const body = JSON.stringify(await refused.body.json());
    expect(body).toMatch(/database/);
    expect(body).not.toContain(pg.password);
    await pg.start();
    debug('started again');
    await sleep(1_100); // readiness is checked at most once a second
    expect((await getJson(`${a.url}/readyz`)).status).toBe(200);

    const clients = 1_000;
    let restarted: Promise<void> | undefined;
    const herd = await runHerd({
      serverUrl: lb.url,
      serverId: estate.serverId,
      pin: estate.pin,
      secret: SECRET,
      clients,
      concurrency: 100,
      label: 'restart',
      // PostgreSQL is back within a second; a deadline this short ends the test soon if it is not.
      agentDeadlineMs: 30_000,
      onEnded: (n) => {
        if (process.env.ESTATE_DEBUG && n % 50 === 0)
          console.log(`ended ${n} at ${new Date().toISOString()}`);
        if (n === 300 && !restarted) restarted = pg.restart();
      },
    });
    // It did restart (a failure to start again rejects here, with PostgreSQL's log).
    await restarted;
    expect(restarted).toBeDefined();
    // What a failure here needs to be understood from a CI log alone: why the
    // agents gave up, whether the instances and PostgreSQL still ran, the
    // disk, and the end of every log.
    const why = new Map<string, number>();
    for (const f of herd.failures.values()) why.set(f.code, (why.get(f.code) ?? 0) + 1);
    const report = [
      `gave up: ${JSON.stringify([...why])}`,
      `instances alive: ${[a, b].map((i) => i.proc.child.exitCode === null && i.proc.child.signalCode === null).join(', ')}`,
      `free on ${tmpdir()}: ${Math.round((statfsSync(tmpdir()).bavail * statfsSync(tmpdir()).bsize) / 2 ** 20)} MiB`,
      ...[a, b].map(
        (i, k) => `instance ${k} log tail:\n${(i.proc.stdout + i.proc.stderr).slice(-3_000)}`,
      ),
      `postgres log tail:\n${pg.log().slice(-3_000)}`,
    ].join('\n');
    expect(herd.failures.size, report).toBe(0);
    expect(herd.ids.size).toBe(clients);
    expect(herd.retries).toBeGreaterThan(0);
    expect(await herdRows(pg, 'restart')).toEqual({
      rows: clients,
      machines: clients,
      ids: clients,
    });
    for (const i of [a, b]) {
      expect(i.proc.stdout + i.proc.stderr).not.toContain(pg.password);
    }
    await Promise.all([a.proc.stop(), b.proc.stop()]);
  });
});

describe('moving a server from SQLite to PostgreSQL', () => {
  it('store migrate copies it whole: the same identity, secret and clients; an instance on an emptied database stops', async () => {
    const server = await startServer();
    const add = await server.cli(['auth', 'secret', 'add'], SECRET);
    expect(add.code).toBe(0);
    const key = generateSigningKey();
    const before = await register(
      { kind: 'direct', url: server.url },
      { secret: SECRET, clientKey: key, pin: server.pin },
    );
    if (!before.ok || before.result.kind !== 'registered')
      throw new Error(`no registration: ${JSON.stringify(before)}`);

    const pg = await startPostgres();
    const env = estateEnv(pg);
    // Refused while the server runs: what it wrote after the copy would be lost.
    const running = await runProc(BIN.server, ['store', 'migrate', '--data-dir', server.dataDir], {
      env,
    });
    expect(running.code).not.toBe(0);
    expect(running.stderr).toMatch(/is running/);
    await server.proc.stop();
    const migrate = await runProc(BIN.server, ['store', 'migrate', '--data-dir', server.dataDir], {
      env,
    });
    expect(migrate.stderr).toBe('');
    expect(migrate.code).toBe(0);
    expect(migrate.stdout).toMatch(/1 secrets, 1 clients/);
    expect(migrate.stdout + migrate.stderr).not.toContain(pg.password);
    const again = await runProc(BIN.server, ['store', 'migrate', '--data-dir', server.dataDir], {
      env,
    });
    expect(again.code).not.toBe(0);

    const instance = await (await openEstate(pg)).startInstance();
    const h = await hello({ kind: 'direct', url: instance.url });
    expect(h.serverId).toBe(server.serverId);
    // The same client key registers again: the same client id, from the copied row.
    const after = await register(
      { kind: 'direct', url: instance.url },
      { secret: SECRET, clientKey: key, pin: server.pin },
    );
    if (!after.ok || after.result.kind !== 'registered')
      throw new Error(`no registration: ${JSON.stringify(after)}`);
    expect(after.result.clientId).toBe(before.result.clientId);
    await instance.proc.stop();

    // The instance's directory remembers the server: on an empty database it stops, exit 3.
    const empty = await pg.createDatabase('emptied');
    const wrong = await runProc(
      BIN.server,
      ['start', '--data-dir', instance.dataDir, '--listen', '127.0.0.1:0', '--store', empty],
      { env: { PGPASSWORD: pg.password }, timeoutMs: 30_000 },
    );
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(new RegExp(`held server ${server.serverId}`));
  });
});
