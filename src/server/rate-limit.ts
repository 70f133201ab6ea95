/**
 * The online-guessing limit. A guess is an M2 that carries CPace shares:
 * it is provisional while its handshake is open (the handshake table
 * counts those), definite once aborted, refused or expired, and taken
 * back when the client proves the share. Per source, provisional plus
 * failed guesses are held under a limit that grows with the source's
 * recent successful registrations; past it, further starts are refused
 * before any crypto is spent. Every decision here is a pure function of
 * the counts and the injected clock.
 */
export interface GuessLimits {
  /** Guesses (provisional plus failed) a source may have in one window. */
  readonly threshold: number;
  readonly windowMs: number;
  /** The first block once the failures alone reach the limit; doubles with each further failure. */
  readonly baseBlockMs: number;
  readonly maxBlockMs: number;
  /** Retry-After while the limit is reached mostly by handshakes still open. */
  readonly shortRetryMs: number;
  /** One more failure allowed per successful registration with a secret, up to this many. */
  readonly maxSuccessBonus: number;
  readonly successWindowMs: number;
  /** Starts per second per source (token bucket), and the burst. */
  readonly startsPerSecond: number;
  readonly startBurst: number;
  /** Open handshakes one source may hold. */
  readonly maxOpenPerSource: number;
  /** Open handshakes one network (an IPv4 /24, an IPv6 /48) may hold. */
  readonly maxOpenPerNetwork: number;
  /** Sources remembered at once; the least recent are forgotten past it. */
  readonly maxKeys: number;
}

export const DEFAULT_LIMITS: GuessLimits = {
  threshold: 10,
  windowMs: 10 * 60_000,
  baseBlockMs: 1_000,
  maxBlockMs: 15 * 60_000,
  shortRetryMs: 1_000,
  maxSuccessBonus: 500,
  successWindowMs: 60 * 60_000,
  startsPerSecond: 50,
  startBurst: 100,
  maxOpenPerSource: 200,
  maxOpenPerNetwork: 1_000,
  maxKeys: 100_000,
};

/** What is remembered of one source: the state every decision reads and changes. */
export interface LimiterEntry {
  failures: number;
  windowStart: number;
  blockedUntil: number;
  successes: number;
  successStart: number;
  tokens: number;
  refilledAt: number;
}

export type Admission =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly reason: 'blocked' | 'guess_limit' | 'start_rate' | 'open_limit' | 'network_limit';
      readonly retryAfterMs: number;
    };

/** A source never seen before. */
export function freshEntry(now: number, o: GuessLimits): LimiterEntry {
  return {
    failures: 0,
    windowStart: now,
    blockedUntil: 0,
    successes: 0,
    successStart: now,
    tokens: o.startBurst,
    refilledAt: now,
  };
}

/** Ends the windows that ran out; call before every decision. */
export function refreshEntry(e: LimiterEntry, now: number, o: GuessLimits): LimiterEntry {
  // The window runs from the first failure, and never ends while the source is blocked.
  if (e.failures > 0 && now - e.windowStart > o.windowMs && e.blockedUntil <= now) {
    e.failures = 0;
  }
  if (now - e.successStart > o.successWindowMs) {
    e.successes = 0;
    e.successStart = now;
  }
  return e;
}

/** The guesses a source may have in its window: the base plus its success bonus. */
export function limitOf(e: LimiterEntry, o: GuessLimits): number {
  return o.threshold + Math.min(e.successes, o.maxSuccessBonus);
}

/**
 * Whether a start may be answered (the entry is refreshed first). `open`
 * is what the source holds open; `withShare` whether this start would test
 * a guess. Refusals cost nothing and count nothing.
 */
export function admitEntry(
  e: LimiterEntry,
  now: number,
  o: GuessLimits,
  open: { open: number; guesses: number },
  withShare: boolean,
  networkOpen = 0,
): Admission {
  e.tokens = Math.min(o.startBurst, e.tokens + ((now - e.refilledAt) / 1000) * o.startsPerSecond);
  e.refilledAt = now;
  if (e.tokens < 1) {
    const ms = ((1 - e.tokens) / o.startsPerSecond) * 1000;
    return { ok: false, reason: 'start_rate', retryAfterMs: Math.max(1000, ms) };
  }
  if (open.open >= o.maxOpenPerSource)
    return { ok: false, reason: 'open_limit', retryAfterMs: o.shortRetryMs };
  if (networkOpen >= o.maxOpenPerNetwork)
    return { ok: false, reason: 'network_limit', retryAfterMs: o.shortRetryMs };
  if (withShare) {
    if (e.blockedUntil > now)
      return { ok: false, reason: 'blocked', retryAfterMs: e.blockedUntil - now };
    const limit = limitOf(e, o);
    // Past the limit on failures alone, one guess at a time once each block has run out.
    const full = e.failures >= limit ? open.guesses > 0 : e.failures + open.guesses >= limit;
    if (full) return { ok: false, reason: 'guess_limit', retryAfterMs: o.shortRetryMs };
  }
  e.tokens -= 1;
  return { ok: true };
}

/** A definite failed guess; returns how long the source is now blocked (0 if not). */
export function failEntry(e: LimiterEntry, now: number, o: GuessLimits): number {
  if (e.failures === 0) e.windowStart = now;
  e.failures += 1;
  const excess = e.failures - limitOf(e, o);
  if (excess < 0) return 0;
  const block = Math.min(o.maxBlockMs, o.baseBlockMs * 2 ** Math.min(excess, 30));
  e.blockedUntil = now + block;
  return block;
}

/** The in-memory limiter of one server process: entries by source key, least recent evicted. */
export class GuessLimiter {
  readonly #entries = new Map<string, LimiterEntry>();
  readonly opts: GuessLimits;

  constructor(opts: Partial<GuessLimits> = {}) {
    this.opts = { ...DEFAULT_LIMITS, ...opts };
  }

  #entry(key: string, now: number): LimiterEntry {
    let e = this.#entries.get(key);
    if (!e) {
      e = freshEntry(now, this.opts);
      this.#entries.set(key, e);
      this.#evict(now);
    } else {
      // Most recently used last, so that eviction drops the least recent.
      this.#entries.delete(key);
      this.#entries.set(key, e);
    }
    return refreshEntry(e, now, this.opts);
  }

  /** The guesses a source may have in its window: the base plus its success bonus. */
  limitFor(key: string, now: number): number {
    return limitOf(this.#entry(key, now), this.opts);
  }

  admitStart(
    key: string,
    now: number,
    open: { open: number; guesses: number },
    withShare: boolean,
    networkOpen = 0,
  ): Admission {
    return admitEntry(this.#entry(key, now), now, this.opts, open, withShare, networkOpen);
  }

  recordFailure(key: string, now: number): number {
    return failEntry(this.#entry(key, now), now, this.opts);
  }

  /** A registration that proved a secret: it widens the source's failure budget. */
  recordSuccess(key: string, now: number): void {
    this.#entry(key, now).successes += 1;
  }

  /** Definite failures counted for a source in its current window. */
  failures(key: string): number {
    return this.#entries.get(key)?.failures ?? 0;
  }

  #evict(now: number): void {
    if (this.#entries.size <= this.opts.maxKeys) return;
    for (const [key, e] of this.#entries) {
      if (this.#entries.size <= this.opts.maxKeys) break;
      if (e.blockedUntil <= now) this.#entries.delete(key);
    }
    while (this.#entries.size > this.opts.maxKeys) {
      this.#entries.delete(this.#entries.keys().next().value as string);
    }
  }
}

/**
 * Failed guesses across every source, per server, in one-minute buckets
 * over the last hour: a distributed attack that stays under each
 * source's limit still shows here.
 */
export class GuessAlarm {
  readonly #buckets = new Map<number, number>();
  readonly threshold: number;

  constructor(threshold: number) {
    this.threshold = threshold;
  }

  record(now: number): void {
    const minute = Math.floor(now / 60_000);
    this.#buckets.set(minute, (this.#buckets.get(minute) ?? 0) + 1);
  }

  /** Failed guesses in the hour up to `now`. */
  lastHour(now: number): number {
    const minute = Math.floor(now / 60_000);
    let sum = 0;
    for (const [m, n] of this.#buckets) {
      if (minute - m >= 60) this.#buckets.delete(m);
      else sum += n;
    }
    return sum;
  }
}
