/**
 * Throttles sources that keep failing: past `threshold` failures within
 * `windowMs`, a source is blocked for an exponentially growing time.
 * Successes are never counted. Memory is bounded by `maxKeys`.
 */
export interface LimiterOptions {
  readonly threshold: number;
  readonly windowMs: number;
  readonly baseBlockMs: number;
  readonly maxBlockMs: number;
  readonly maxKeys: number;
}

export const DEFAULT_LIMITS: LimiterOptions = {
  threshold: 10,
  windowMs: 10 * 60_000,
  baseBlockMs: 1_000,
  maxBlockMs: 15 * 60_000,
  maxKeys: 100_000,
};

interface Entry {
  failures: number;
  firstAt: number;
  blockedUntil: number;
}

export class FailureLimiter {
  readonly #entries = new Map<string, Entry>();
  readonly #opts: LimiterOptions;

  constructor(opts: Partial<LimiterOptions> = {}) {
    this.#opts = { ...DEFAULT_LIMITS, ...opts };
  }

  /** Milliseconds until `key` may try again; 0 when it may now. */
  retryAfterMs(key: string, now: number): number {
    const e = this.#entries.get(key);
    return e && e.blockedUntil > now ? e.blockedUntil - now : 0;
  }

  /** Counts a failure; returns how long the key is now blocked (0 if not). */
  recordFailure(key: string, now: number): number {
    let e = this.#entries.get(key);
    if (!e || now - e.firstAt > this.#opts.windowMs) {
      e = { failures: 0, firstAt: now, blockedUntil: 0 };
      this.#entries.delete(key);
      this.#entries.set(key, e);
      this.#evict(now);
    }
    e.failures += 1;
    const excess = e.failures - this.#opts.threshold;
    if (excess >= 0) {
      const block = Math.min(
        this.#opts.maxBlockMs,
        this.#opts.baseBlockMs * 2 ** Math.min(excess, 30),
      );
      e.blockedUntil = now + block;
      return block;
    }
    return 0;
  }

  /** Failures counted for a key in its current window. */
  failures(key: string): number {
    return this.#entries.get(key)?.failures ?? 0;
  }

  #evict(now: number): void {
    if (this.#entries.size <= this.#opts.maxKeys) return;
    for (const [key, e] of this.#entries) {
      if (this.#entries.size <= this.#opts.maxKeys) break;
      if (e.blockedUntil <= now) this.#entries.delete(key);
    }
    // Still full of blocked keys: drop the oldest.
    while (this.#entries.size > this.#opts.maxKeys) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }
}
