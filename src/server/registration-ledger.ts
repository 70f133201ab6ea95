/**
 * The registration service's book of attempts: every attempt audited
 * (repeated refusals merged into one row per source group), failed guesses
 * charged to their source and counted for the alarm, unfinished handshakes
 * swept as failed guesses, and retired secrets noted.
 */
import { createAlarmCheck } from './alarm.ts';
import type { RegistrationDeps } from './registration.ts';
import { errorReply } from './registration-reply.ts';
import type { Channel, Reply } from './registration-reply.ts';
import { createRetiredAudit } from './secrets-retired.ts';
import { addressGroup } from './source.ts';
import type { TakenHandshake } from './state-api.ts';

/** Requests this close together share one sweep of expired handshakes. */
const SWEEP_MS = 250;

/** The ledger's operations, each bound to the service's `deps`. */
export function createGuessLedger(deps: RegistrationDeps) {
  const { dd, log, state } = deps;
  const iso = (): string => new Date(deps.now()).toISOString();
  const checkAlarm = createAlarmCheck({
    store: dd.store,
    lastHour: (now) => state.alarmLastHour(now),
    threshold: deps.alarmThreshold,
    log,
    iso,
  });

  async function audit(
    channel: Channel,
    outcome: string,
    fields: {
      reason?: string;
      secretId?: string | null;
      clientId?: string | null;
      keyFingerprint?: string | null;
    },
  ): Promise<void> {
    await dd.store.audit(
      { event: 'register', route: channel.route, source: channel.source, outcome, ...fields },
      iso(),
    );
  }

  /** A refusal: one merged audit row per source and reason, nothing counted. */
  async function refuse(
    channel: Channel,
    outcome: string,
    code: string,
    reply: Reply,
  ): Promise<Reply> {
    // Merged by the source's group (an IPv6 /64 as one), so hopping addresses adds no rows.
    await dd.store.auditRepeated(
      {
        event: 'register',
        route: channel.route,
        source: addressGroup(channel.source),
        outcome,
        reason: code,
      },
      iso(),
    );
    log.debug('register.refused', { route: channel.route, source: channel.source, reason: code });
    return reply;
  }

  /**
   * A definite failed guess, charged (and audited) to the source that
   * received the shares, whoever sent the finish. `key` is its source key.
   */
  async function failGuess(key: string, reason: string): Promise<void> {
    const now = deps.now();
    const sep = key.indexOf(':');
    const route = key.slice(0, sep) === 'relay' ? 'relay' : 'direct';
    const source = key.slice(sep + 1);
    const blockMs = await state.recordFailure(key, now);
    await state.alarmRecord(now);
    await dd.store.auditRepeated(
      { event: 'register', route, source, outcome: 'failed_guess', reason },
      iso(),
    );
    log.info('register.failed_guess', { route, source, reason });
    if (blockMs > 0) log.warn('register.throttled', { source: key, blockMs });
    await checkAlarm(now);
  }

  /** A handshake that carried shares and was never finished: a failed guess. */
  async function expired(open: TakenHandshake): Promise<void> {
    if (open.guess) await failGuess(open.source, 'unfinished');
  }

  const retired = createRetiredAudit({ store: dd.store, log, now: deps.now });

  let sweeping: Promise<void> | null = null;
  let sweptAt = -Infinity;
  /**
   * One sweep at a time. A request starts one when the last is SWEEP_MS old
   * and waits for it; a request that finds one running does not wait (with
   * many expired guesses to charge in the store, that would stall it).
   */
  function sweep(force = true): Promise<void> {
    if (sweeping) return force ? sweeping : Promise.resolve();
    if (!force && deps.now() - sweptAt < SWEEP_MS) return Promise.resolve();
    sweptAt = deps.now();
    sweeping = (async () => {
      for (const open of await state.prune(deps.now())) await expired(open);
      await checkAlarm(deps.now(), true);
      await retired.sweep();
    })().finally(() => {
      sweeping = null;
    });
    return sweeping;
  }

  /** A start the state did not admit: busy, rate-limited or blocked, with when to retry. */
  function refuseAdmission(
    channel: Channel,
    admission: { reason: string; retryAfterMs: number },
  ): Promise<Reply> {
    const seconds = Math.ceil(admission.retryAfterMs / 1000);
    if (admission.reason === 'busy')
      return refuse(
        channel,
        'throttled',
        'busy',
        errorReply('busy', 'too many registrations are in progress; retry shortly', {
          'retry-after': String(seconds),
        }),
      );
    return refuse(
      channel,
      'throttled',
      admission.reason,
      errorReply(
        'rate_limited',
        admission.reason === 'blocked'
          ? `too many failed attempts from this network; wait ${seconds} s before retrying`
          : `too many registrations in progress from this network; retry in ${seconds} s`,
        { 'retry-after': String(seconds) },
      ),
    );
  }

  return { iso, audit, refuse, refuseAdmission, failGuess, expired, sweep, retired };
}
