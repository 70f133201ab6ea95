/**
 * The registration endpoints as one transport-free service: the direct
 * HTTP listener and the relay tunnel both call `handle`. Every attempt is
 * audited (repeated refusals merged into one row); every M2 that carries
 * shares is a guess, counted for its source until the client proves it.
 */
import { randomUUID } from 'node:crypto';
import type { BlockList } from 'node:net';
import type { Logger } from '../common/log.ts';
import { performance } from 'node:perf_hooks';
import {
  HANDSHAKE_TTL_MS,
  Prs,
  ProtocolError,
  answerFinish,
  createHello,
  isAbortBody,
  isGuess,
  newHandshakeId,
  parseAbort,
  parseM1,
  parseM3,
  toB64u,
} from '../protocol/index.ts';
import type { AcceptedRegistration, M2, PendingHandshake, SeenAs } from '../protocol/index.ts';
import { classify, isSecretRequired } from './classify.ts';
import type { DataDir } from './data-dir.ts';
import { readMode } from './data-dir.ts';
import type { RegistrationState } from './state-api.ts';
import { StoreUnavailable } from './store-api.ts';
import { CryptoBusy, inlineCrypto } from './handshake-crypto.ts';
import type { HandshakeSteps } from './handshake-crypto.ts';
import { networkKey, sourceKey } from './source.ts';
import { createUnregisterService } from './unregister.ts';
import { createGuessLedger } from './registration-ledger.ts';
import { codeOf, errorReply, storeDown } from './registration-reply.ts';
import type { Channel, MessageKind, Reply } from './registration-reply.ts';

export interface RegistrationDeps {
  readonly dd: DataDir;
  readonly intranet: BlockList;
  readonly now: () => number;
  readonly log: Logger;
  /** Handshakes, guess counters and the alarm count: in memory, or shared by the instances. */
  readonly state: RegistrationState;
  /** Failed guesses per hour, over every source, that raise the alarm. */
  readonly alarmThreshold: number;
  /** Where the CPU-heavy steps run (default: inline). */
  readonly steps?: HandshakeSteps;
  /** How long a handshake stays open between M2 and M3 (default 60 s). */
  readonly handshakeTtlMs?: number;
  /** Called with each request's outcome, for the metrics. */
  readonly observe?: (o: { kind: MessageKind; outcome: string; seconds: number }) => void;
}

export interface RegistrationService {
  handle: (kind: MessageKind, body: unknown, channel: Channel) => Promise<Reply>;
  /** Counts expired guesses as failures and clears a spent alarm; call it every second or so. */
  sweep: () => Promise<void>;
}

export function createRegistrationService(deps: RegistrationDeps): RegistrationService {
  const { dd, log, state } = deps;
  const steps = deps.steps ?? inlineCrypto(dd.identity);
  const { iso, audit, refuse, refuseAdmission, failGuess, expired, sweep, retired } =
    createGuessLedger(deps);

  async function policy(channel: Channel): Promise<{ seenAs: SeenAs; secretRequired: boolean }> {
    const seenAs = classify(channel, deps.intranet);
    return { seenAs, secretRequired: isSecretRequired(await readMode(dd.store), seenAs) };
  }

  async function hello(channel: Channel): Promise<Reply> {
    const { seenAs, secretRequired } = await policy(channel);
    return {
      status: 200,
      body: createHello(dd.identity, { seenAs, secretRequired, kdf: dd.kdf, now: deps.now() }),
    };
  }

  async function start(body: unknown, channel: Channel): Promise<Reply> {
    const m1 = parseM1(body);
    const key = sourceKey(channel);
    const { seenAs, secretRequired } = await policy(channel);
    const active = m1.Ya === undefined ? [] : await dd.store.secrets.usableWithPrs(iso());
    // Decided, and the handshake reserved, before any crypto: a refused start costs a lookup.
    const now = deps.now();
    const ttlMs = deps.handshakeTtlMs ?? HANDSHAKE_TTL_MS;
    const hsId = newHandshakeId();
    const admission = await state.admitStart({
      hsId,
      source: key,
      network: networkKey(channel),
      guess: active.length > 0,
      expiresAt: now + ttlMs,
      now,
    });
    if (!admission.ok) return refuseAdmission(channel, admission);
    let answer: { m2: M2; pending: PendingHandshake };
    try {
      // An admitted start that offers shares says first which secrets stopped being offered.
      if (m1.Ya !== undefined) await retired.check();
      answer = await steps.start(m1, {
        seenAs,
        secretRequired,
        secrets: active.map((s) => ({ id: s.id, prs: Prs.fromBytes(s.prs) })),
        now,
        ttlMs,
        hsId,
      });
      await state.open(answer.pending);
    } catch (err) {
      // Nothing was sent: the reservation goes, and counts as nothing.
      await state.cancel(hsId).catch(() => undefined);
      throw err;
    }
    log.debug('register.start', {
      route: channel.route,
      source: channel.source,
      seenAs,
      secretRequired,
      shares: answer.m2.shares.length,
    });
    return { status: 200, body: answer.m2 };
  }

  /** Takes the handshake an M3 or abort names; a live one, or null after auditing why not. */
  async function takeOpen(
    hsId: string,
    channel: Channel,
  ): Promise<{ source: string; pending: PendingHandshake } | null> {
    const r = await state.take(hsId, deps.now());
    if (!r.found || (!r.expired && r.open.pending === null)) {
      await refuse(channel, 'failed', 'handshake_unknown', { status: 409, body: null });
      return null;
    }
    if (r.expired || r.open.pending === null) {
      await expired(r.open);
      return null;
    }
    return { source: r.open.source, pending: r.open.pending };
  }

  async function finish(body: unknown, channel: Channel): Promise<Reply> {
    const gone = errorReply(
      'handshake_expired',
      'the handshake is unknown, already used or expired; start again',
    );
    if (isAbortBody(body)) {
      const abort = parseAbort(body);
      const open = await takeOpen(abort.hsId, channel);
      if (open && isGuess(open.pending)) await failGuess(open.source, 'no-matching-share');
      return { status: 200, body: { aborted: true } };
    }
    const m3 = parseM3(body);
    const open = await takeOpen(m3.hsId, channel);
    if (!open) return gone;
    const { pending } = open;
    let accepted: AcceptedRegistration;
    try {
      // The handshake is out of the table now: a finish is never refused as busy (its guess would
      // go uncharged); when the pool is full, the little it costs is spent here.
      accepted = await steps.finish(pending, m3).catch((err: unknown) => {
        if (err instanceof CryptoBusy) return answerFinish(pending, m3, dd.identity);
        throw err;
      });
    } catch (err) {
      // Whatever failed, a guess that was not proven is a failed guess.
      if (isGuess(pending))
        await failGuess(open.source, err instanceof ProtocolError ? err.code : 'error');
      throw err;
    }
    const fingerprint = toB64u(accepted.clientKeyFingerprint);
    if (accepted.unprovenShares) await failGuess(open.source, 'no-matching-share');
    /** Removed, expired or used up since M2 (another registration took the last use): told apart only in the audit. */
    const secretGone = async (secretId: string): Promise<Reply> => {
      const listed = await dd.store.secrets.list(iso());
      const secretState = listed.find((s) => s.id === secretId)?.state;
      await audit(channel, 'failed', {
        reason:
          secretState === 'expired' || secretState === 'used_up' ? secretState : 'secret_revoked',
        secretId,
        keyFingerprint: fingerprint,
      });
      return errorReply(
        'secret_revoked',
        'the secret was removed by the administrator during this registration',
      );
    };
    if (accepted.details.verifyOnly) {
      if (
        accepted.secretId !== null &&
        !(await dd.store.secrets.isUsable(accepted.secretId, iso()))
      )
        return secretGone(accepted.secretId);
      await audit(channel, 'verified', {
        secretId: accepted.secretId,
        keyFingerprint: fingerprint,
      });
      return { status: 200, body: accepted.respondVerified() };
    }
    const registered = await dd.store.registerClient({
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
    // The secret's use was counted with the client, in one transaction, while it was still usable.
    if (registered.client === null) return secretGone(accepted.secretId as string);
    const { client, created } = registered;
    if (accepted.secretId) {
      if (created) await retired.check();
      // Only a new client widens the budget: re-registering one key over and over must not.
      if (created) await state.recordSuccess(open.source, deps.now());
    }
    await audit(channel, created ? 'registered' : 're-registered', {
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

  async function answer(kind: MessageKind, body: unknown, channel: Channel): Promise<Reply> {
    try {
      await sweep(false);
      if (kind === 'unregister') return await unregister(body, channel);
      if (kind === 'hello') return await hello(channel);
      if (kind === 'start') return await start(body, channel);
      return await finish(body, channel);
    } catch (err) {
      if (err instanceof StoreUnavailable) {
        log.warn('store.unavailable', { kind, err: err.message });
        return storeDown();
      }
      if (err instanceof CryptoBusy)
        return errorReply('busy', 'too many registrations are in progress; retry shortly', {
          'retry-after': '1',
        });
      if (err instanceof ProtocolError) {
        try {
          return await refuse(channel, 'failed', err.code, errorReply(err.code, err.message));
        } catch (auditErr) {
          if (auditErr instanceof StoreUnavailable) return storeDown();
          throw auditErr;
        }
      }
      throw err;
    }
  }

  return {
    sweep: () => sweep(true),
    handle: async (kind, body, channel) => {
      const started = performance.now();
      const reply = await answer(kind, body, channel);
      deps.observe?.({
        kind,
        outcome: reply.status === 200 ? 'ok' : codeOf(reply),
        seconds: (performance.now() - started) / 1000,
      });
      return reply;
    },
  };
}
