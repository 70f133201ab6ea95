/**
 * The registration state of one server process, in memory: open
 * handshakes (a reservation from admission until its M2 is stored), the
 * guess limiter and the alarm count. Every method completes before it
 * yields, so admission and reservation are one step.
 */
/* eslint-disable @typescript-eslint/require-await -- the interface is asynchronous so that PostgreSQL fits; this implementation answers at once. */
import type { PendingHandshake } from '../protocol/index.ts';
import { GuessAlarm, GuessLimiter } from './rate-limit.ts';
import type { GuessLimits } from './rate-limit.ts';
import type {
  RegistrationState,
  StartAdmission,
  StartRequest,
  Taken,
  TakenHandshake,
} from './state-api.ts';

interface Open {
  readonly hsId: string;
  readonly source: string;
  readonly network: string;
  readonly guess: boolean;
  readonly expiresAt: number;
  pending: PendingHandshake | null;
}

interface Counts {
  open: number;
  guesses: number;
}

export class MemoryState implements RegistrationState {
  readonly limiter: GuessLimiter;
  readonly alarm: GuessAlarm;
  readonly #open = new Map<string, Open>();
  readonly #counts = new Map<string, Counts>();
  readonly #max: number;

  constructor(opts: {
    limits?: Partial<GuessLimits>;
    maxHandshakes: number;
    alarmThreshold: number;
  }) {
    this.limiter = new GuessLimiter(opts.limits);
    this.alarm = new GuessAlarm(opts.alarmThreshold);
    this.#max = opts.maxHandshakes;
  }

  /** Open handshakes in the table (reservations included). */
  get size(): number {
    return this.#open.size;
  }

  /** Open handshakes, and those among them that carry shares, for one source or network. */
  openFor(key: string): Counts {
    const c = this.#counts.get(key);
    return { open: c?.open ?? 0, guesses: c?.guesses ?? 0 };
  }

  async admitStart(req: StartRequest): Promise<StartAdmission> {
    const admission = this.limiter.admitStart(
      req.source,
      req.now,
      this.openFor(req.source),
      req.guess,
      req.network === '' ? 0 : this.openFor(req.network).open,
    );
    if (!admission.ok) return admission;
    // Expired handshakes still count until pruned: the caller's sweep charges them first.
    if (this.#open.size >= this.#max) return { ok: false, reason: 'busy', retryAfterMs: 1000 };
    const open: Open = { ...req, pending: null };
    this.#open.set(req.hsId, open);
    this.#count(open, 1);
    return admission;
  }

  async open(pending: PendingHandshake): Promise<void> {
    const open = this.#open.get(pending.hsId);
    if (open) open.pending = pending;
  }

  async cancel(hsId: string): Promise<void> {
    const open = this.#open.get(hsId);
    if (!open) return;
    this.#open.delete(hsId);
    this.#count(open, -1);
  }

  async take(hsId: string, now: number): Promise<Taken> {
    const open = this.#open.get(hsId);
    if (!open) return { found: false };
    this.#open.delete(hsId);
    this.#count(open, -1);
    return { found: true, expired: open.expiresAt <= now, open: taken(open) };
  }

  async prune(now: number): Promise<TakenHandshake[]> {
    const expired: TakenHandshake[] = [];
    // Insertion order is expiry order: every handshake gets the same time to live.
    for (const [id, open] of this.#open) {
      if (open.expiresAt > now) break;
      this.#open.delete(id);
      this.#count(open, -1);
      expired.push(taken(open));
    }
    return expired;
  }

  async recordFailure(source: string, now: number): Promise<number> {
    return this.limiter.recordFailure(source, now);
  }

  async recordSuccess(source: string, now: number): Promise<void> {
    this.limiter.recordSuccess(source, now);
  }

  async alarmRecord(now: number): Promise<void> {
    this.alarm.record(now);
  }

  async alarmLastHour(now: number): Promise<number> {
    return this.alarm.lastHour(now);
  }

  async close(): Promise<void> {}

  #count(open: Open, delta: 1 | -1): void {
    this.#bump(open.source, open.guess, delta);
    if (open.network !== '') this.#bump(open.network, open.guess, delta);
  }

  #bump(key: string, guess: boolean, delta: 1 | -1): void {
    const c = this.#counts.get(key) ?? { open: 0, guesses: 0 };
    c.open += delta;
    if (guess) c.guesses += delta;
    if (c.open <= 0) this.#counts.delete(key);
    else this.#counts.set(key, c);
  }
}

function taken(o: Open): TakenHandshake {
  return { hsId: o.hsId, source: o.source, network: o.network, guess: o.guess, pending: o.pending };
}
