/**
 * The registration state in a real PostgreSQL, held by two instances
 * (two PgRegistrationState objects on one database): a long history of
 * starts, M3s, expiries, failures and successes decides as the in-process
 * limiter and handshake table do; concurrent starts from one source on
 * both instances cannot pass the guess limit; a handshake is taken and an
 * expiry reported once across the estate; a block set on one instance
 * holds on the other; the alarm sums both.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  decodePending,
  encodePending,
  HandshakeTable,
  newHandshakeId,
} from '../../src/protocol/index.ts';
import type { PendingHandshake } from '../../src/protocol/index.ts';
import { DEFAULT_LIMITS, GuessLimiter } from '../../src/server/rate-limit.ts';
import type { GuessLimits } from '../../src/server/rate-limit.ts';
import type { StartAdmission, StartRequest, TakenHandshake } from '../../src/server/state-api.ts';
import { PgRegistrationState } from '../../src/server/state-pg.ts';
import { StoreUnavailable } from '../../src/server/store-api.ts';
import { pgStoresPerFile } from '../support/pg-stores.ts';

const T0 = 1_900_000_000_000;
const TTL = 5_000;

const db = pgStoresPerFile('state');

/** Two instances' states on a fresh database. */
async function twoInstances(
  limits: Partial<GuessLimits>,
  maxHandshakes = 10_000,
): Promise<[PgRegistrationState, PgRegistrationState]> {
  const { stores } = await db.open(2);
  const [a, b] = stores.map((s) => new PgRegistrationState(s, { limits, maxHandshakes }));
  return [a!, b!];
}

const key32 = (): Buffer => randomBytes(32);
const keys = () => ({ kC2S: key32(), kS2C: key32(), macA: key32(), macB: key32() });

/** A pending handshake as answerStart makes one: with a share when it is a guess. */
function pendingOf(hsId: string, expiresAt: number, guess: boolean): PendingHandshake {
  return {
    hsId,
    expiresAt,
    th: Buffer.concat([key32(), key32()]),
    seenAs: 'internet',
    secretRequired: guess,
    candidates: guess ? [{ secretId: 's-1', keys: keys() }] : [],
    openKeys: guess ? null : keys(),
  };
}

function start(
  source: string,
  now: number,
  guess = true,
  network = 'direct:net:10.0.0.0/24',
): StartRequest {
  return { hsId: newHandshakeId(), source, network, guess, expiresAt: now + TTL, now };
}

/** A small deterministic random sequence (the same history on every run). */
function lcg(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

const summary = (t: TakenHandshake) => ({
  hsId: t.hsId,
  source: t.source,
  network: t.network,
  guess: t.guess,
});

describe('the registration state in PostgreSQL', () => {
  it('decides a long history as the in-process limiter and handshake table do', async () => {
    const limits: Partial<GuessLimits> = {
      threshold: 3,
      windowMs: 20_000,
      baseBlockMs: 1_000,
      maxBlockMs: 8_000,
      startsPerSecond: 0.3,
      startBurst: 3,
      maxOpenPerSource: 3,
      maxOpenPerNetwork: 4,
      successWindowMs: 60_000,
    };
    const [a, b] = await twoInstances(limits);
    const limiter = new GuessLimiter(limits);
    const table = new HandshakeTable(10_000);
    const sources = [
      ['direct:10.0.0.1', 'direct:net:10.0.0.0/24'],
      ['direct:10.0.0.2', 'direct:net:10.0.0.0/24'],
      ['relay:10.9.0.1', 'relay:net:10.9.0.0/24'],
    ] as const;
    const random = lcg(7);
    const open: string[] = [];
    let now = T0;
    const log = { admitted: 0, refused: new Set<string>(), taken: 0, expired: 0, blocked: 0 };
    for (let step = 0; step < 300; step++) {
      // Bursts now and then: several starts in one instant.
      now += random() < 0.3 ? 0 : Math.floor(random() * 1_500);
      const state = random() < 0.5 ? a : b;
      const [source, network] = sources[Math.floor(random() * sources.length)]!;
      const op = random();
      if (op < 0.5) {
        const req = start(source, now, random() < 0.8, network);
        const got = await state.admitStart(req);
        const pending = pendingOf(req.hsId, req.expiresAt, req.guess);
        let want: StartAdmission = limiter.admitStart(
          source,
          now,
          table.openFor(source),
          req.guess,
          table.openFor(network).open,
        );
        if (want.ok && !table.add(pending, now, source, undefined, network))
          want = { ok: false, reason: 'busy', retryAfterMs: 1_000 };
        expect(got, `step ${step}`).toEqual(want);
        if (got.ok) {
          await state.open(pending);
          open.push(req.hsId);
          log.admitted++;
        } else log.refused.add(got.reason);
      } else if (op < 0.7 && open.length > 0) {
        const [hsId] = open.splice(Math.floor(random() * open.length), 1) as [string];
        const got = await state.take(hsId, now);
        const want = table.remove(hsId, now);
        expect(got.found, `step ${step}`).toBe(want.found);
        if (got.found && want.found) {
          expect(got.expired).toBe(want.expired);
          expect(summary(got.open)).toEqual({
            hsId,
            source: want.open.source,
            network: want.open.network,
            guess: want.open.pending.candidates.length > 0,
          });
          // The caller's part: an M3 that proves the secret, or a failed guess.
          if (got.open.guess && (got.expired || random() < 0.5)) {
            expect(await state.recordFailure(got.open.source, now)).toBe(
              limiter.recordFailure(got.open.source, now),
            );
          } else if (got.open.guess) {
            await state.recordSuccess(got.open.source, now);
            limiter.recordSuccess(got.open.source, now);
          }
          log.taken++;
        }
      } else {
        const got = await state.prune(now);
        const want = table.prune(now);
        // The same handshakes; among those expiring at the same moment, in any order.
        const byId = (x: { hsId: string }, y: { hsId: string }): number =>
          x.hsId < y.hsId ? -1 : x.hsId > y.hsId ? 1 : 0;
        expect(got.map(summary).sort(byId)).toEqual(
          want
            .map((w) => ({
              hsId: w.pending.hsId,
              source: w.source,
              network: w.network,
              guess: w.pending.candidates.length > 0,
            }))
            .sort(byId),
        );
        for (const t of got) {
          expect(open).toContain(t.hsId);
          open.splice(open.indexOf(t.hsId), 1);
          if (t.guess) {
            const block = await state.recordFailure(t.source, now);
            expect(block).toBe(limiter.recordFailure(t.source, now));
            if (block > 0) log.blocked++;
          }
          log.expired++;
        }
      }
    }
    // The history went through every kind of decision, not just the easy ones.
    expect(log.admitted).toBeGreaterThan(30);
    expect(log.expired).toBeGreaterThan(5);
    expect(log.taken).toBeGreaterThan(10);
    expect(log.blocked).toBeGreaterThan(0);
    expect([...log.refused].sort()).toEqual(
      expect.arrayContaining(['blocked', 'guess_limit', 'network_limit', 'start_rate']),
    );
  });

  it('admits exactly the limit of 60 concurrent guesses from one source split over two instances', async () => {
    const [a, b] = await twoInstances({ threshold: 10, startBurst: 1_000, startsPerSecond: 1_000 });
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, n) =>
        (n % 2 ? a : b).admitStart(start('direct:10.0.0.1', T0 + n)),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(
      new Set(results.filter((r) => !r.ok).map((r) => (r as { reason: string }).reason)),
    ).toEqual(new Set(['guess_limit']));
  });

  it('hands a handshake to one of two instances taking it at once, and a replay finds nothing', async () => {
    const [a, b] = await twoInstances({});
    for (let n = 0; n < 10; n++) {
      const req = start(`direct:10.0.0.${n}`, T0);
      expect((await a.admitStart(req)).ok).toBe(true);
      await a.open(pendingOf(req.hsId, req.expiresAt, true));
      const both = await Promise.all([a.take(req.hsId, T0 + 1), b.take(req.hsId, T0 + 1)]);
      expect(both.filter((t) => t.found)).toHaveLength(1);
      expect(await b.take(req.hsId, T0 + 2)).toEqual({ found: false });
    }
  });

  it('reports each expired handshake once when both instances prune at once', async () => {
    const [a, b] = await twoInstances({});
    const ids: string[] = [];
    for (let n = 0; n < 30; n++) {
      const req = start(`direct:10.0.1.${n}`, T0 + n, n % 2 === 0);
      expect((await (n % 2 ? a : b).admitStart(req)).ok).toBe(true);
      ids.push(req.hsId);
    }
    const pruned = await Promise.all([a, b, a, b].map((s) => s.prune(T0 + TTL + 30)));
    const all = pruned.flat().map((t) => t.hsId);
    expect(all.sort()).toEqual([...ids].sort());
    // Reservations whose M2 was never stored come back as such.
    expect(pruned.flat().every((t) => t.pending === null)).toBe(true);
  });

  it('blocks a source on one instance after failures recorded on the other', async () => {
    const [a, b] = await twoInstances({ threshold: 2, baseBlockMs: 4_000 });
    expect(await a.recordFailure('direct:10.0.0.5', T0)).toBe(0);
    const block = await a.recordFailure('direct:10.0.0.5', T0 + 10);
    expect(block).toBe(4_000);
    expect(await b.admitStart(start('direct:10.0.0.5', T0 + 1_010))).toEqual({
      ok: false,
      reason: 'blocked',
      retryAfterMs: 3_000,
    });
    // A start without a share is not a guess: not blocked.
    expect((await b.admitStart(start('direct:10.0.0.5', T0 + 1_010, false))).ok).toBe(true);
    // Successes recorded on one instance widen the budget on the other once the block is over.
    await a.recordSuccess('direct:10.0.0.5', T0 + 5_000);
    expect((await b.admitStart(start('direct:10.0.0.5', T0 + 5_000))).ok).toBe(true);
  });

  it("holds a network's open handshakes to its limit when its sources start at once on both instances", async () => {
    const [a, b] = await twoInstances({ maxOpenPerNetwork: 5 });
    for (let trial = 0; trial < 5; trial++) {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 ? a : b).admitStart(
            start(`direct:10.${trial}.0.${i + 1}`, T0, false, `direct:net:10.${trial}.0.0/24`),
          ),
        ),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(5);
      expect(new Set(results.filter((r) => !r.ok).map((r) => !r.ok && r.reason))).toEqual(
        new Set(['network_limit']),
      );
    }
  });

  it('refuses a start as busy when the whole table is full, across instances', async () => {
    const [a, b] = await twoInstances({}, 3);
    const reqs = [0, 1, 2].map((n) => start(`direct:10.0.2.${n}`, T0));
    for (const [n, req] of reqs.entries())
      expect((await (n % 2 ? a : b).admitStart(req)).ok).toBe(true);
    expect(await a.admitStart(start('direct:10.0.2.9', T0))).toEqual({
      ok: false,
      reason: 'busy',
      retryAfterMs: 1_000,
    });
    expect(await b.admitStart(start('direct:10.0.2.9', T0))).toMatchObject({ reason: 'busy' });
    // A start that failed before its M2 gives its place back.
    await b.cancel(reqs[0]!.hsId);
    expect((await a.admitStart(start('direct:10.0.2.9', T0))).ok).toBe(true);
    expect(await b.take(reqs[0]!.hsId, T0)).toEqual({ found: false });
  });

  it('sums the alarm over both instances, over the last hour only', async () => {
    const [a, b] = await twoInstances({});
    for (let n = 0; n < 3; n++) await a.alarmRecord(T0 + n * 60_000);
    await Promise.all(Array.from({ length: 4 }, () => b.alarmRecord(T0 + 30 * 60_000)));
    expect(await a.alarmLastHour(T0 + 30 * 60_000)).toBe(7);
    // Minute buckets, as in one process: the bucket of minute 2 still counts 59 minutes later.
    expect(await b.alarmLastHour(T0 + 61 * 60_000)).toBe(5);
    expect(await b.alarmLastHour(T0 + 62 * 60_000)).toBe(4);
    expect(await a.alarmLastHour(T0 + 91 * 60_000)).toBe(0);
  });

  it('keeps a pending handshake intact through the database', async () => {
    const [a, b] = await twoInstances({});
    const req = start('direct:10.0.0.7', T0);
    expect((await a.admitStart(req)).ok).toBe(true);
    const pending = pendingOf(req.hsId, req.expiresAt, true);
    await a.open(pending);
    const taken = await b.take(req.hsId, T0 + 1);
    expect(taken).toMatchObject({ found: true, expired: false });
    expect(taken.found && taken.open.pending).toEqual(pending);
    expect(decodePending(encodePending(pending))).toEqual(pending);
    // Expired by the clock, even while still stored.
    const late = start('direct:10.0.0.7', T0 + 10, false);
    await b.admitStart(late);
    await b.open(pendingOf(late.hsId, late.expiresAt, false));
    expect(await a.take(late.hsId, late.expiresAt)).toMatchObject({
      found: true,
      expired: true,
      open: { guess: false },
    });
  });

  it('forgets sources with nothing left to remember, and keeps the others', async () => {
    const [a] = await twoInstances({});
    const store = db.opened[0]!;
    const hour = DEFAULT_LIMITS.successWindowMs;
    await a.admitStart(start('direct:10.0.3.1', T0));
    await a.recordFailure('direct:10.0.3.2', T0);
    await a.recordSuccess('direct:10.0.3.3', T0 + hour - 60_000);
    await a.recordFailure('direct:10.0.3.4', T0 + hour - 1_000);
    await a.prune(T0 + hour + 1);
    const { rows } = await store.pool.query<{ key: string }>(
      'SELECT key FROM guess_sources ORDER BY key',
    );
    expect(rows.map((r) => r.key)).toEqual(['direct:10.0.3.3', 'direct:10.0.3.4']);
  });

  it('is StoreUnavailable while PostgreSQL is down', async () => {
    const [a] = await twoInstances({});
    await db.pg.stop();
    onTestFinished(() => db.pg.start());
    await expect(a.admitStart(start('direct:10.0.0.1', T0))).rejects.toBeInstanceOf(
      StoreUnavailable,
    );
    await expect(a.take('x', T0)).rejects.toBeInstanceOf(StoreUnavailable);
    await db.pg.start();
    await expect
      .poll(() => a.admitStart(start('direct:10.0.0.1', T0)).then((r) => r.ok, String), {
        timeout: 10_000,
      })
      .toBe(true);
  });
});
