/**
 * The registration endpoints as one transport-free service: the direct
 * HTTP listener and the relay tunnel both call `handle`. Every attempt is
 * audited (repeated refusals merged into one row); every M2 that carries
 * shares is a guess, counted for its source until the client proves it.
 */
import { randomUUID } from 'node:crypto';
import type { BlockList } from 'node:net';
import type { Logger } from '../common/log.ts';
import {
  Prs,
  ProtocolError,
  answerFinish,
  answerStart,
  createHello,
  isAbortBody,
  parseAbort,
  parseM1,
  parseM3,
  toB64u,
} from '../protocol/index.ts';
import { isGuess } from '../protocol/index.ts';
import type { HandshakeTable, OpenHandshake, SeenAs } from '../protocol/index.ts';
import { classify, isSecretRequired } from './classify.ts';
import type { DataDir } from './data-dir.ts';
import { readMode } from './data-dir.ts';
import type { GuessAlarm, GuessLimiter } from './rate-limit.ts';
import { createAlarmCheck } from './alarm.ts';
import { addressGroup, networkKey, sourceKey } from './source.ts';
import { createRetiredAudit } from './secrets-retired.ts';
import { createUnregisterService } from './unregister.ts';
import { STATUS_OF } from './status-of.ts';

export type MessageKind = 'hello' | 'start' | 'finish' | 'unregister';

/** Where a request came from, as the server itself observed it. */
export interface Channel {
  readonly route: 'direct' | 'relay';
  /** The peer address (direct) or the address the relay reports (relay). */
  readonly source: string;
}

export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

export { STATUS_OF } from './status-of.ts';

export interface RegistrationDeps {
  readonly dd: DataDir;
  readonly intranet: BlockList;
  readonly now: () => number;
  readonly log: Logger;
  readonly table: HandshakeTable;
  readonly limiter: GuessLimiter;
  readonly alarm: GuessAlarm;
  /** How long a handshake stays open between M2 and M3 (default 60 s). */
  readonly handshakeTtlMs?: number;
}

function errorReply(code: string, message: string, headers?: Record<string, string>): Reply {
  return {
    status: STATUS_OF[code] ?? 500,
    body: { error: { code, message } },
    ...(headers ? { headers } : {}),
  };
}

export interface RegistrationService {
  handle: (kind: MessageKind, body: unknown, channel: Channel) => Reply;
  /** Counts expired guesses as failures and clears a spent alarm; call it every few seconds. */
  sweep: () => void;
}

export function createRegistrationService(deps: RegistrationDeps): RegistrationService {
  const { dd, log, table, limiter } = deps;
  const iso = (): string => new Date(deps.now()).toISOString();
  const checkAlarm = createAlarmCheck({ store: dd.store, alarm: deps.alarm, log, iso });

  function audit(
    channel: Channel,
    outcome: string,
    fields: {
      reason?: string;
      secretId?: string | null;
      clientId?: string | null;
      keyFingerprint?: string | null;
    },
  ): void {
    dd.store.audit(
      { event: 'register', route: channel.route, source: channel.source, outcome, ...fields },
      iso(),
    );
  }

  /** A refusal: one merged audit row per source and reason, nothing counted. */
  function refuse(channel: Channel, outcome: string, code: string, reply: Reply): Reply {
    // Merged by the source's group (an IPv6 /64 as one), so hopping addresses adds no rows.
    dd.store.auditRepeated(
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
  function failGuess(key: string, reason: string): void {
    const now = deps.now();
    const sep = key.indexOf(':');
    const route = key.slice(0, sep) === 'relay' ? 'relay' : 'direct';
    const source = key.slice(sep + 1);
    const blockMs = limiter.recordFailure(key, now);
    deps.alarm.record(now);
    dd.store.auditRepeated(
      { event: 'register', route, source, outcome: 'failed_guess', reason },
      iso(),
    );
    log.info('register.failed_guess', { route, source, reason });
    if (blockMs > 0) log.warn('register.throttled', { source: key, blockMs });
    checkAlarm(now);
  }

  /** A handshake that carried shares and was never finished: a failed guess. */
  function expired(open: OpenHandshake): void {
    if (isGuess(open.pending)) failGuess(open.source, 'unfinished');
  }

  const retired = createRetiredAudit({ store: dd.store, log, now: deps.now });

  function sweep(): void {
    for (const open of table.prune(deps.now())) expired(open);
    checkAlarm(deps.now(), true);
    retired.sweep();
  }

  function policy(channel: Channel): { seenAs: SeenAs; secretRequired: boolean } {
    const seenAs = classify(channel, deps.intranet);
    return { seenAs, secretRequired: isSecretRequired(readMode(dd.store), seenAs) };
  }

  function hello(channel: Channel): Reply {
    const { seenAs, secretRequired } = policy(channel);
    return {
      status: 200,
      body: createHello(dd.identity, { seenAs, secretRequired, kdf: dd.kdf, now: deps.now() }),
    };
  }

  function start(body: unknown, channel: Channel): Reply {
    const m1 = parseM1(body);
    const key = sourceKey(channel);
    const { seenAs, secretRequired } = policy(channel);
    const active = m1.Ya === undefined ? [] : dd.store.secrets.usableWithPrs(iso());
    // Decided before any crypto: a refused start costs the server a lookup.
    const network = networkKey(channel);
    const admission = limiter.admitStart(
      key,
      deps.now(),
      table.openFor(key),
      active.length > 0,
      table.openFor(network).open,
    );
    if (!admission.ok) {
      const seconds = Math.ceil(admission.retryAfterMs / 1000);
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
    // An admitted start that offers shares says first which secrets stopped being offered.
    if (m1.Ya !== undefined) retired.check();
    const { m2, pending } = answerStart(m1, {
      identity: dd.identity,
      seenAs,
      secretRequired,
      secrets: active.map((s) => ({ id: s.id, prs: Prs.fromBytes(s.prs) })),
      now: deps.now(),
      ...(deps.handshakeTtlMs === undefined ? {} : { ttlMs: deps.handshakeTtlMs }),
    });
    if (!table.add(pending, deps.now(), key, expired, network)) {
      return refuse(
        channel,
        'throttled',
        'busy',
        errorReply('busy', 'too many registrations are in progress; retry shortly', {
          'retry-after': '1',
        }),
      );
    }
    log.debug('register.start', {
      route: channel.route,
      source: channel.source,
      seenAs,
      secretRequired,
      shares: m2.shares.length,
    });
    return { status: 200, body: m2 };
  }

  /** Takes the handshake an M3 or abort names; a live one, or null after auditing why not. */
  function takeOpen(hsId: string, channel: Channel): OpenHandshake | null {
    const r = table.remove(hsId, deps.now());
    if (!r.found) {
      refuse(channel, 'failed', 'handshake_unknown', { status: 409, body: null });
      return null;
    }
    if (r.expired) {
      expired(r.open);
      return null;
    }
    return r.open;
  }

  function finish(body: unknown, channel: Channel): Reply {
    const gone = errorReply(
      'handshake_expired',
      'the handshake is unknown, already used or expired; start again',
    );
    if (isAbortBody(body)) {
      const abort = parseAbort(body);
      const open = takeOpen(abort.hsId, channel);
      if (open && isGuess(open.pending)) failGuess(open.source, 'no-matching-share');
      return { status: 200, body: { aborted: true } };
    }
    const m3 = parseM3(body);
    const open = takeOpen(m3.hsId, channel);
    if (!open) return gone;
    const { pending } = open;
    let accepted;
    try {
      accepted = answerFinish(pending, m3, dd.identity);
    } catch (err) {
      // Whatever failed, a guess that was not proven is a failed guess.
      if (err instanceof ProtocolError && isGuess(pending)) failGuess(open.source, err.code);
      throw err;
    }
    const fingerprint = toB64u(accepted.clientKeyFingerprint);
    if (accepted.unprovenShares) failGuess(open.source, 'no-matching-share');
    // Removed, expired or used up since M2 (another registration took the last use): told apart only in the audit.
    if (accepted.secretId !== null && !dd.store.secrets.isUsable(accepted.secretId, iso())) {
      const state = dd.store.secrets.list(iso()).find((s) => s.id === accepted.secretId)?.state;
      audit(channel, 'failed', {
        reason: state === 'expired' || state === 'used_up' ? state : 'secret_revoked',
        secretId: accepted.secretId,
        keyFingerprint: fingerprint,
      });
      return errorReply(
        'secret_revoked',
        'the secret was removed by the administrator during this registration',
      );
    }
    if (accepted.details.verifyOnly) {
      audit(channel, 'verified', { secretId: accepted.secretId, keyFingerprint: fingerprint });
      return { status: 200, body: accepted.respondVerified() };
    }
    const { client, created } = dd.store.registerClient({
      clientId: randomUUID(),
      keyFingerprint: fingerprint,
      clientKey: accepted.details.clientKey,
      machineId: accepted.details.machineId,
      hostname: accepted.details.hostname,
      os: accepted.details.os,
      arch: accepted.details.arch,
      agentVersion: accepted.details.agentVersion,
      installId: accepted.details.installId,
      route: channel.route,
      seenAs: accepted.seenAs,
      secretId: accepted.secretId,
      registeredAt: iso(),
      supersededBy: null,
    });
    if (accepted.secretId) {
      dd.store.secrets.markUsed(accepted.secretId, iso(), created);
      if (created) retired.check();
      // Only a new client widens the budget: re-registering one key over and over must not.
      if (created) limiter.recordSuccess(open.source, deps.now());
    }
    audit(channel, created ? 'registered' : 're-registered', {
      secretId: accepted.secretId,
      clientId: client.clientId,
      keyFingerprint: fingerprint,
    });
    log.info('register.done', {
      route: channel.route,
      source: channel.source,
      clientId: client.clientId,
      created,
      secretId: accepted.secretId,
    });
    return {
      status: 200,
      body: accepted.respond({ clientId: client.clientId, registeredAt: client.registeredAt }),
    };
  }

  const unregister = createUnregisterService({ dd, log, now: deps.now });

  return {
    sweep,
    handle: (kind, body, channel) => {
      sweep();
      if (kind === 'unregister') return unregister(body, channel);
      try {
        if (kind === 'hello') return hello(channel);
        if (kind === 'start') return start(body, channel);
        return finish(body, channel);
      } catch (err) {
        if (err instanceof ProtocolError)
          return refuse(channel, 'failed', err.code, errorReply(err.code, err.message));
        throw err;
      }
    },
  };
}
