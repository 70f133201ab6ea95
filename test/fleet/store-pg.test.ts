/**
 * The PostgreSQL store against a real PostgreSQL 15: the same scripted
 * history gives the same answers as the SQLite store, method for method;
 * two instances racing on one database (registrations, secret limits,
 * migrations, merged refusals) agree; a database migrated by newer code is
 * refused; an outage is StoreUnavailable naming the store without its
 * password, and the same store object works again once PostgreSQL is back.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ServerStore } from '../../src/server/store-api.ts';
import { StoreUnavailable } from '../../src/server/store-api.ts';
import { PgStore } from '../../src/server/store-pg.ts';
import { Store } from '../../src/server/store.ts';
import type { AuditEntry, ClientRow } from '../../src/server/store-rows.ts';
import { pgStoresPerFile } from '../support/pg-stores.ts';
import { tempDir } from '../support/procs.ts';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const at = (ms: number): string => new Date(T0 + ms).toISOString();
const MIN = 60_000;

const db = pgStoresPerFile('store');
/** The URL of the database `instances` made last. */
let lastUrl = '';

/** A fresh database; `n` instances (PgStore objects) on it. */
async function instances(n: number): Promise<PgStore[]> {
  const { url, stores } = await db.open(n, { maxConnections: 5 });
  lastUrl = url;
  return stores;
}

function client(
  n: number,
  machine: string,
  registeredAt: string,
): ClientRow & { clientKey: string } {
  return {
    clientId: `c-${n}`,
    keyFingerprint: `fp-${n}`,
    clientKey: `key-${n}`,
    machineId: machine,
    hostname: `host-${n}`,
    os: 'linux',
    arch: 'x64',
    agentVersion: '1.0.0',
    installId: `i-${n}`,
    route: 'direct',
    seenAs: 'intranet',
    secretId: n % 2 === 0 ? 's-1' : null,
    registeredAt,
    supersededBy: null,
  };
}

/** The synchronous SQLite store behind the asynchronous interface, for comparison. */
function asyncSqlite(path: string): ServerStore {
  const lift = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(t, prop) {
        const v = Reflect.get(t, prop, t) as unknown;
        if (prop === 'secrets') return lift(v as object);
        return typeof v === 'function'
          ? (...args: unknown[]) =>
              Promise.resolve((v as (...a: unknown[]) => unknown).apply(t, args))
          : v;
      },
    });
  return lift(new Store(path)) as unknown as ServerStore;
}

const refusal = (source: string): AuditEntry => ({
  event: 'register',
  route: 'direct',
  source,
  outcome: 'throttled',
  reason: 'guess_limit',
});

/** One history through every method; what each call answered, in order. */
async function script(s: ServerStore): Promise<unknown[]> {
  const out: unknown[] = [];
  const note = async (label: string, p: Promise<unknown>): Promise<void> => {
    out.push([label, await p]);
  };
  await note('get none', s.getSetting('mode'));
  await s.setSetting('mode', 'all');
  await s.setSetting('mode', 'internet');
  await note('get', s.getSetting('mode'));
  await note('init kept', s.initSetting('mode', 'none'));
  await note('init new', s.initSetting('server_id', 'srv-1'));
  await s.deleteSetting('mode');
  await note('deleted', s.getSetting('mode'));

  const prs = (b: number): Buffer => Buffer.alloc(32, b);
  await note(
    'add 1',
    s.secrets.add({ id: 's-1', label: 'one', prs: prs(1), weak: false, createdAt: at(0) }, 3),
  );
  await note(
    'add 2',
    s.secrets.add(
      {
        id: 's-2',
        label: 'two',
        prs: prs(2),
        weak: true,
        createdAt: at(1),
        expiresAt: at(10 * MIN),
      },
      3,
    ),
  );
  await note(
    'add 3',
    s.secrets.add(
      { id: 's-3', label: 'three', prs: prs(3), weak: false, createdAt: at(1), maxUses: 2 },
      3,
    ),
  );
  await note(
    'add over limit',
    s.secrets.add({ id: 's-4', label: 'x', prs: prs(4), weak: false, createdAt: at(2) }, 3),
  );
  await note('usable', s.secrets.usableWithPrs(at(5)));
  await s.secrets.markUsed('s-3', at(6), true);
  await s.secrets.markUsed('s-3', at(7), false);
  await note('usable s-3', s.secrets.isUsable('s-3', at(8)));
  await s.secrets.markUsed('s-3', at(9), true);
  await note('used up', s.secrets.isUsable('s-3', at(10)));
  await note('list', s.secrets.list(at(11 * MIN)));
  await note('retired', s.secrets.takeNewlyRetired(at(11 * MIN)));
  await note('retired again', s.secrets.takeNewlyRetired(at(12 * MIN)));
  await note(
    'add after retiring',
    s.secrets.add(
      { id: 's-5', label: 'five', prs: prs(5), weak: false, createdAt: at(12 * MIN) },
      3,
    ),
  );
  await note('remove', s.secrets.remove('s-2', at(13 * MIN)));
  await note('remove again', s.secrets.remove('s-2', at(13 * MIN)));
  await note('remove unknown', s.secrets.remove('nope', at(13 * MIN)));
  await note('list after remove', s.secrets.list(at(13 * MIN)));

  await note('register 1', s.registerClient(client(1, 'm-a', at(1_000))));
  await note(
    'register 1 again',
    s.registerClient({ ...client(1, 'm-a', at(2_000)), clientId: 'c-other' }),
  );
  await note('register 2', s.registerClient(client(2, 'm-a', at(3_000))));
  await note('register 3', s.registerClient(client(3, 'm-b', at(3_000))));
  await note('register 4', s.registerClient(client(4, 'm-a', at(4_000))));
  await note('by fp', s.clientByFingerprint('fp-1'));
  await note('by fp none', s.clientByFingerprint('fp-9'));
  await note('by id', s.clientById('c-2'));
  await note('list', s.listClients());
  await note('list 2', s.listClients(2));
  await note('page', s.listClientsPage({ limit: 2, offset: 1 }));
  await note('page past end', s.listClientsPage({ limit: 2, offset: 10 }));
  await note('count', s.countClients());
  await note('remove', s.removeClient('c-4'));
  await note('remove again', s.removeClient('c-4'));
  await note('count after', s.countClients());

  await s.audit(
    { event: 'register', outcome: 'ok', clientId: 'c-1', secretId: 's-1', keyFingerprint: 'fp-1' },
    at(0),
  );
  for (const m of [1, 2, 3, 9, 10, 11, 12]) await s.auditRepeated(refusal('10.0.0.1'), at(m * MIN));
  await s.auditRepeated(refusal('10.0.0.2'), at(3 * MIN));
  await s.auditRepeated({ ...refusal('10.0.0.1'), reason: 'blocked' }, at(4 * MIN));
  // A plain row of the same refusal takes no repetitions.
  await s.audit(refusal('10.0.0.3'), at(5 * MIN));
  await s.auditRepeated(refusal('10.0.0.3'), at(6 * MIN));
  await note('audit', s.listAudit());
  await note('audit of event', s.listAudit(2, 'register'));
  await note('audit none', s.listAudit(5, 'nothing'));
  await note('audit count', s.countAudit());
  await s.setAuditRetention({ maxRows: 4, maxAgeDays: 1 }, T0 + 13 * MIN);
  await note('after keep 4', s.listAudit());
  await note('prune by age', s.pruneAudit(T0 + 86_400_000 + 2 * MIN));
  await note('after age', s.countAudit());

  await s.addAdminToken({ hash: 'h1', label: 'a', createdAt: at(0), expiresAt: at(MIN) });
  await s.addAdminToken({ hash: 'h2', label: 'b', createdAt: at(0), expiresAt: null });
  await note('token', s.isAdminTokenValid('h1', at(MIN - 1)));
  await note('token expired', s.isAdminTokenValid('h1', at(MIN)));
  await note('token forever', s.isAdminTokenValid('h2', at(10_000 * MIN)));
  await note('token unknown', s.isAdminTokenValid('h3', at(0)));
  await note('revoke', s.revokeAdminTokens());
  await note('token revoked', s.isAdminTokenValid('h2', at(0)));
  return out;
}

describe('the PostgreSQL store', () => {
  it('answers a whole history exactly as the SQLite store does', async () => {
    const [store] = await instances(1);
    const sqlite = asyncSqlite(join(tempDir(), 'server.db'));
    const expected = await script(sqlite);
    const actual = await script(store!);
    expect(actual).toEqual(expected);
    // Spot checks, so that the comparison cannot pass on two stores equally wrong.
    const answer = (label: string): unknown =>
      (actual.find((e) => (e as unknown[])[0] === label) as unknown[])[1];
    expect(answer('init kept')).toBe('internet');
    expect(answer('add over limit')).toBe(false);
    expect(answer('retired')).toEqual([
      { id: 's-2', reason: 'expired' },
      { id: 's-3', reason: 'used_up' },
    ]);
    expect(answer('retired again')).toEqual([]);
    expect(answer('register 1 again')).toMatchObject({
      created: false,
      client: { clientId: 'c-1' },
    });
    expect(answer('count')).toEqual({ total: 4, active: 2 });
    expect(answer('page past end')).toEqual({ clients: [], total: 4 });
    expect(answer('audit count')).toEqual({ rows: 7, occurrences: 12 });
    // A removed secret's PRS is overwritten.
    const { rows } = await store!.pool.query<{ prs: Buffer }>(
      "SELECT prs FROM secrets WHERE id = 's-2'",
    );
    expect(rows[0]?.prs).toEqual(Buffer.alloc(32));
    expect(store!.kind).toBe('postgres');
  });

  it("gives a secret's last use to one registration when two instances race for it", async () => {
    const [a, b] = await instances(2);
    expect(
      await a!.secrets.add(
        {
          id: 's-last',
          label: 'last',
          prs: Buffer.alloc(32, 7),
          weak: false,
          createdAt: at(0),
          maxUses: 1,
        },
        16,
      ),
    ).toBe(true);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, n) =>
        (n % 2 ? a! : b!).registerClient({
          ...client(100 + n, `last-${n}`, at(10 + n)),
          secretId: 's-last',
        }),
      ),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(results.filter((r) => r.client === null)).toHaveLength(9);
    const [row] = await a!.secrets.list(at(100));
    expect(row).toMatchObject({ id: 's-last', useCount: 1, state: 'used_up' });
    expect(await a!.countClients()).toEqual({ total: 1, active: 1 });
  });

  it('registers one key once when two instances race on it, and both answer the same client', async () => {
    const [a, b] = await instances(2);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        Promise.all([
          a!.registerClient({ ...client(n, `m-${n}`, at(n)), clientId: `a-${n}`, secretId: null }),
          b!.registerClient({ ...client(n, `m-${n}`, at(n)), clientId: `b-${n}`, secretId: null }),
        ]),
      ),
    );
    for (const [ra, rb] of results) {
      expect(ra.client).not.toBeNull();
      expect(ra.client?.clientId).toBe(rb.client?.clientId);
      expect(Number(ra.created) + Number(rb.created)).toBe(1);
    }
    expect(await a!.countClients()).toEqual({ total: 20, active: 20 });
  });

  it("supersedes across instances: of one machine's new keys registered at once, one stays active", async () => {
    const [a, b] = await instances(2);
    await Promise.all(
      Array.from({ length: 10 }, (_, n) =>
        (n % 2 ? a! : b!).registerClient({ ...client(n, 'm-same', at(n)), secretId: null }),
      ),
    );
    expect(await a!.countClients()).toEqual({ total: 10, active: 1 });
  });

  it('lets two instances adding secrets at once stay within the limit', async () => {
    const [a, b] = await instances(2);
    const added = await Promise.all(
      Array.from({ length: 12 }, (_, n) =>
        (n % 2 ? a! : b!).secrets.add(
          { id: `s-${n}`, label: 'x', prs: Buffer.alloc(32, n), weak: false, createdAt: at(0) },
          3,
        ),
      ),
    );
    expect(added.filter(Boolean)).toHaveLength(3);
    expect(await a!.secrets.list(at(1))).toHaveLength(3);
  });

  it('reports each retired secret once across instances', async () => {
    const [a, b] = await instances(2);
    for (let n = 0; n < 6; n++)
      await a!.secrets.add(
        {
          id: `s-${n}`,
          label: 'x',
          prs: Buffer.alloc(32),
          weak: false,
          createdAt: at(0),
          expiresAt: at(MIN),
        },
        10,
      );
    const reports = await Promise.all(
      Array.from({ length: 6 }, (_, n) => (n % 2 ? a! : b!).secrets.takeNewlyRetired(at(2 * MIN))),
    );
    expect(
      reports
        .flat()
        .map((r) => r.id)
        .sort(),
    ).toEqual(['s-0', 's-1', 's-2', 's-3', 's-4', 's-5']);
  });

  it("merges one source's refusals into one row whichever instance audits them", async () => {
    const [a, b] = await instances(2);
    await a!.auditRepeated(refusal('10.0.0.9'), at(0));
    await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        (n % 2 ? a! : b!).auditRepeated(refusal('10.0.0.9'), at(1_000 + n)),
      ),
    );
    expect(await b!.countAudit()).toEqual({ rows: 1, occurrences: 21 });
    const [row] = await a!.listAudit();
    expect(row).toMatchObject({ firstTime: at(0), count: 21 });
  });

  it("keeps initSetting's first value when instances race on it", async () => {
    const [a, b] = await instances(2);
    const values = await Promise.all(
      Array.from({ length: 20 }, (_, n) => (n % 2 ? a! : b!).initSetting('server_id', `id-${n}`)),
    );
    expect(new Set(values).size).toBe(1);
    expect(await a!.getSetting('server_id')).toBe(values[0]);
  });

  it('migrates a fresh database once when two instances start on it together', async () => {
    const url = await db.pg.createDatabase('race_migrate');
    const stores = await Promise.all([0, 1, 2].map(() => PgStore.open(url)));
    db.track(...stores);
    const { rows } = await stores[0]!.pool.query<{ version: number }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    expect(rows.map((r) => r.version)).toEqual([1, 2]);
    for (const s of stores) expect(await s.quickCheck()).toEqual([]);
  });

  it('refuses a database whose schema is newer than this code (store_too_new)', async () => {
    const [store] = await instances(1);
    await store!.pool.query('INSERT INTO schema_migrations (version) VALUES (99)');
    expect(await store!.quickCheck()).toEqual(['schema version 99, expected 2']);
    await expect(PgStore.open(lastUrl)).rejects.toMatchObject({
      code: 'store_too_new',
      message: expect.stringMatching(/schema version 99/) as unknown,
    });
  });

  it('is StoreUnavailable while PostgreSQL is down, without the password, and works again once it is back', async () => {
    const [store] = await instances(1);
    await store!.setSetting('k', 'v');
    // Several connections in the pool, all of which will die.
    await Promise.all(Array.from({ length: 5 }, () => store!.ping()));
    await db.pg.stop();
    onTestFinished(() => db.pg.start());
    const failures: unknown[] = [];
    const calls: (() => Promise<unknown>)[] = [
      () => store!.ping(),
      () => store!.getSetting('k'),
      () => store!.registerClient(client(1, 'm', at(0))),
      () =>
        store!.secrets.add(
          { id: 's', label: 'x', prs: Buffer.alloc(32), weak: false, createdAt: at(0) },
          3,
        ),
      () => store!.auditRepeated(refusal('10.0.0.1'), at(0)),
    ];
    for (const call of calls) {
      const err = await call().then(
        () => new Error('it answered while PostgreSQL was stopped'),
        (e: unknown) => e,
      );
      failures.push(err);
      expect(err).toBeInstanceOf(StoreUnavailable);
      expect((err as StoreUnavailable).code).toBe('store_unavailable');
      expect((err as Error).message).toContain(`127.0.0.1:${db.pg.port}/store_${db.databases}`);
    }
    expect(await store!.quickCheck()).toEqual([expect.stringMatching(/^store_unavailable: /)]);
    for (const err of failures) expect(everythingSaidBy(err)).not.toContain(db.pg.password);
    expect(store!.location).toBe(
      `postgres://postgres@127.0.0.1:${db.pg.port}/store_${db.databases}`,
    );

    await db.pg.start();
    expect(await store!.getSetting('k')).toBe('v');
    // A crash this time (no goodbye to the connections): the pool recovers as well.
    await Promise.all(Array.from({ length: 5 }, () => store!.ping()));
    db.pg.kill();
    // The signal lands a moment later: until then a query may still be answered.
    const state = (): Promise<string> =>
      store!.ping().then(
        () => 'up',
        (e: unknown) => (e instanceof StoreUnavailable ? 'unavailable' : String(e)),
      );
    await expect.poll(state, { timeout: 10_000 }).toBe('unavailable');
    await db.pg.start();
    await expect.poll(state, { timeout: 10_000 }).toBe('up');
    expect(
      (await store!.registerClient({ ...client(2, 'm', at(1)), secretId: null })).created,
    ).toBe(true);
  });

  it('does not wait for ever on a PostgreSQL that holds its connections and answers nothing', async () => {
    const {
      stores: [store],
    } = await db.open(1, {
      connectTimeoutMs: 1_000,
      statementTimeoutMs: 500,
      queryTimeoutMs: 1_500,
    });
    // Connections in the pool, which the frozen server will hold open.
    await Promise.all(Array.from({ length: 3 }, () => store!.ping()));
    db.pg.freeze();
    onTestFinished(() => db.pg.thaw());
    const outcome = (): Promise<unknown> =>
      Promise.race([
        store!.getSetting('k').then(
          () => new Error('it answered while PostgreSQL was frozen'),
          (e: unknown) => e,
        ),
        sleep(20_000).then(() => new Error('still waiting after 20 s')),
      ]);
    // A connection already open (the query times out here) and, with the
    // pool's connections spent, a new one (the connection attempt times out).
    const errors = await Promise.all(Array.from({ length: 4 }, outcome));
    for (const err of errors) {
      expect(err).toBeInstanceOf(StoreUnavailable);
      expect(everythingSaidBy(err)).not.toContain(db.pg.password);
    }
    db.pg.thaw();
    await expect
      .poll(
        () =>
          store!.getSetting('k').then(
            () => 'up',
            (e: unknown) => String(e),
          ),
        { timeout: 10_000 },
      )
      .toBe('up');
  });

  it('never says the password when it cannot log in, nor in its location', async () => {
    const url = db.pg.url.replace(db.pg.password, `${db.pg.password}x`);
    const err = await PgStore.open(url).then(
      () => new Error('opened with a wrong password'),
      (e: unknown) => e,
    );
    expect(everythingSaidBy(err)).not.toContain(db.pg.password);
    expect((err as Error).message).toMatch(/password authentication failed/);
  });
});

/** An error's message, hint, stack and causes, as a log would show them. */
function everythingSaidBy(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    parts.push(e.message, e.stack ?? '', JSON.stringify(e), String((e as { hint?: string }).hint));
  }
  return parts.join('\n');
}
