import { describe, expect, it } from 'vitest';
import { GuessAlarm, GuessLimiter } from './rate-limit.ts';

const open = (guesses: number, extra = 0) => ({ open: guesses + extra, guesses });

describe('the guess limit', () => {
  it('counts open guesses: the 11th concurrent guess waits a second', () => {
    const l = new GuessLimiter();
    for (let g = 0; g < 10; g++) expect(l.admitStart('s', 0, open(g), true).ok).toBe(true);
    expect(l.admitStart('s', 0, open(10), true)).toEqual({
      ok: false,
      reason: 'guess_limit',
      retryAfterMs: 1000,
    });
    // A start without a share tests no guess.
    expect(l.admitStart('s', 0, open(10), false).ok).toBe(true);
  });

  it('counts failed and open guesses together', () => {
    const l = new GuessLimiter();
    for (let i = 0; i < 6; i++) l.recordFailure('s', 0);
    expect(l.admitStart('s', 0, open(3), true).ok).toBe(true);
    expect(l.admitStart('s', 0, open(4), true).ok).toBe(false);
  });

  it('blocks for a doubling time once the failures alone reach the limit, one guess at a time after', () => {
    const l = new GuessLimiter();
    const blocks = [];
    for (let i = 0; i < 10; i++) blocks.push(l.recordFailure('s', 0));
    expect(blocks.slice(0, 9).every((b) => b === 0)).toBe(true);
    expect(blocks[9]).toBe(1000);
    expect(l.admitStart('s', 500, open(0), true)).toMatchObject({
      ok: false,
      reason: 'blocked',
      retryAfterMs: 500,
    });
    // Asking while blocked costs nothing and does not lengthen the block.
    expect(l.admitStart('s', 999, open(0), true)).toMatchObject({ retryAfterMs: 1 });
    expect(l.admitStart('s', 1000, open(0), true).ok).toBe(true);
    expect(l.admitStart('s', 1000, open(1), true)).toMatchObject({ reason: 'guess_limit' });
    expect(l.recordFailure('s', 1100)).toBe(2000);
    expect(l.recordFailure('s', 3100)).toBe(4000);
  });

  it('keeps the block under its ceiling', () => {
    const l = new GuessLimiter();
    let block = 0;
    for (let i = 0; i < 60; i++) block = l.recordFailure('s', 0);
    expect(block).toBe(15 * 60_000);
  });

  it('widens the budget with successful registrations from the source', () => {
    const l = new GuessLimiter();
    for (let i = 0; i < 10; i++) l.recordFailure('nat', 0);
    expect(l.admitStart('nat', 1000, open(1), true).ok).toBe(false);
    for (let i = 0; i < 5; i++) l.recordSuccess('nat', 1000);
    expect(l.limitFor('nat', 1000)).toBe(15);
    expect(l.admitStart('nat', 1000, open(4), true).ok).toBe(true);
    expect(l.admitStart('nat', 1000, open(5), true).ok).toBe(false);
  });

  it('forgets failures after the window', () => {
    const l = new GuessLimiter();
    for (let i = 0; i < 10; i++) l.recordFailure('s', 0);
    expect(l.failures('s')).toBe(10);
    expect(l.admitStart('s', 10 * 60_000 + 1, open(9), true).ok).toBe(true);
    expect(l.failures('s')).toBe(0);
  });

  it('keeps sources apart', () => {
    const l = new GuessLimiter();
    for (let i = 0; i < 30; i++) l.recordFailure('attacker', 0);
    expect(l.admitStart('neighbour', 0, open(0), true).ok).toBe(true);
  });
});

describe('the per-source bounds on work', () => {
  it('refuses starts past the burst, and refills at the rate', () => {
    const l = new GuessLimiter({ startsPerSecond: 10, startBurst: 5 });
    for (let i = 0; i < 5; i++) expect(l.admitStart('s', 0, open(0), false).ok).toBe(true);
    expect(l.admitStart('s', 0, open(0), false)).toMatchObject({ ok: false, reason: 'start_rate' });
    expect(l.admitStart('s', 100, open(0), false).ok).toBe(true);
  });

  it('refuses a source holding its cap of open handshakes', () => {
    const l = new GuessLimiter({ maxOpenPerSource: 3 });
    expect(l.admitStart('s', 0, open(0, 3), false)).toMatchObject({ reason: 'open_limit' });
  });

  it('remembers a bounded number of sources', () => {
    const l = new GuessLimiter({ maxKeys: 3 });
    for (const k of ['a', 'b', 'c', 'd']) l.recordFailure(k, 0);
    expect(l.failures('a')).toBe(0);
    expect(l.failures('d')).toBe(1);
  });
});

describe('the server-wide alarm count', () => {
  it('sums failed guesses over the last hour', () => {
    const a = new GuessAlarm(100);
    a.record(0);
    a.record(30 * 60_000);
    a.record(59 * 60_000);
    expect(a.lastHour(59 * 60_000)).toBe(3);
    expect(a.lastHour(61 * 60_000)).toBe(2);
    expect(a.lastHour(200 * 60_000)).toBe(0);
  });
});

describe('what a patient attacker gets from one source', () => {
  /** Plays an attacker against the limiter on a simulated clock, as fast as it is allowed. */
  function answered(mode: 'never-finishes' | 'aborts', horizonMs: number): number[] {
    const l = new GuessLimiter();
    const ttl = 60_000;
    const open: number[] = [];
    const times: number[] = [];
    let now = 0;
    while (now < horizonMs) {
      for (let i = open.length - 1; i >= 0; i--)
        if ((open[i] as number) <= now) {
          open.splice(i, 1);
          l.recordFailure('s', now);
        }
      const a = l.admitStart('s', now, { open: open.length, guesses: open.length }, true);
      if (a.ok) {
        times.push(now);
        if (mode === 'never-finishes') open.push(now + ttl);
        else l.recordFailure('s', now);
        now += 10;
      } else {
        const expiries = open.map((e) => e - now).filter((x) => x > 0);
        now += Math.max(10, Math.min(a.retryAfterMs, ...expiries));
      }
    }
    return times;
  }

  /** The most answers in any 10-minute span. */
  function busiestTenMinutes(times: number[]): number {
    let most = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while ((times[i] as number) - (times[j] as number) >= 10 * 60_000) j++;
      most = Math.max(most, i - j + 1);
    }
    return most;
  }

  it.each([['never-finishes'], ['aborts']] as const)(
    'an attacker that %s gets at most 20 guesses in any 10 minutes and 100 in an hour',
    (mode) => {
      const times = answered(mode, 60 * 60_000);
      expect(busiestTenMinutes(times)).toBeLessThanOrEqual(20);
      expect(times.length).toBeLessThanOrEqual(100);
    },
  );
});
