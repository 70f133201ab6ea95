/**
 * The registration endpoints as one transport-free service: the direct
 * HTTP listener and the relay tunnel both call `handle`. Every attempt is
 * audited; failures count against their source.
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
import type { SeenAs, HandshakeTable } from '../protocol/index.ts';
import { classify, isSecretRequired } from './classify.ts';
import type { DataDir } from './data-dir.ts';
import { readMode } from './data-dir.ts';
import type { FailureLimiter } from './rate-limit.ts';

export type MessageKind = 'hello' | 'start' | 'finish';

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

/** The one table from error codes to HTTP statuses. */
export const STATUS_OF: Record<string, number> = {
  bad_request: 400,
  unsupported_version: 400,
  decrypt_failed: 400,
  low_order_point: 400,
  wrong_server: 404,
  secret_required: 401,
  invalid_secret: 403,
  bad_proof: 403,
  no_active_secrets: 403,
  secret_revoked: 403,
  handshake_expired: 409,
  handshake_unknown: 409,
  rate_limited: 429,
  busy: 503,
};

export interface RegistrationDeps {
  readonly dd: DataDir;
  readonly intranet: BlockList;
  readonly now: () => number;
  readonly log: Logger;
  readonly table: HandshakeTable;
  readonly limiter: FailureLimiter;
}

function errorReply(code: string, message: string, headers?: Record<string, string>): Reply {
  return {
    status: STATUS_OF[code] ?? 500,
    body: { error: { code, message } },
    ...(headers ? { headers } : {}),
  };
}

/** Failures that count as guesses against the source's limit. */
const COUNTED = new Set([
  'invalid_secret',
  'bad_proof',
  'handshake_expired',
  'handshake_unknown',
  'decrypt_failed',
  'no-matching-share',
]);

export function createRegistrationService(deps: RegistrationDeps): {
  handle: (kind: MessageKind, body: unknown, channel: Channel) => Reply;
} {
  const { dd, log } = deps;
  const iso = (): string => new Date(deps.now()).toISOString();
  const sourceKey = (c: Channel): string => `${c.route}:${c.source}`;

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

  function fail(channel: Channel, code: string, message: string, secretId?: string | null): Reply {
    audit(channel, 'failed', { reason: code, secretId: secretId ?? null });
    log.info('register.failed', { route: channel.route, source: channel.source, reason: code });
    if (COUNTED.has(code)) {
      const blockMs = deps.limiter.recordFailure(sourceKey(channel), deps.now());
      if (secretId) deps.limiter.recordFailure(`secret:${secretId}`, deps.now());
      if (blockMs > 0)
        log.warn('register.throttled', { route: channel.route, source: channel.source, blockMs });
    }
    return errorReply(code, message);
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
    const { seenAs, secretRequired } = policy(channel);
    const secrets = secretRequired
      ? dd.store.activeSecretsWithPrs().map((s) => ({ id: s.id, prs: Prs.fromBytes(s.prs) }))
      : [];
    const { m2, pending } = answerStart(m1, {
      identity: dd.identity,
      seenAs,
      secretRequired,
      secrets,
      now: deps.now(),
    });
    if (!deps.table.add(pending, deps.now())) {
      return errorReply('busy', 'too many registrations are in progress; retry shortly', {
        'retry-after': '1',
      });
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

  function finish(body: unknown, channel: Channel): Reply {
    if (isAbortBody(body)) {
      const abort = parseAbort(body);
      try {
        deps.table.take(abort.hsId, deps.now());
      } catch {
        // An abort for a finished or unknown handshake still counts as a failed guess.
      }
      fail(channel, 'no-matching-share', 'the client found no matching share');
      return { status: 200, body: { aborted: true } };
    }
    const m3 = parseM3(body);
    const pending = deps.table.take(m3.hsId, deps.now());
    const accepted = answerFinish(pending, m3, dd.identity);
    const fingerprint = toB64u(accepted.clientKeyFingerprint);
    if (accepted.secretId !== null && !dd.store.isSecretActive(accepted.secretId)) {
      audit(channel, 'failed', {
        reason: 'secret_revoked',
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
    if (accepted.secretId) dd.store.markSecretUsed(accepted.secretId, iso());
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

  return {
    handle: (kind, body, channel) => {
      const blocked =
        kind === 'hello' ? 0 : deps.limiter.retryAfterMs(sourceKey(channel), deps.now());
      if (blocked > 0) {
        // Trying again while blocked, instead of waiting as told, doubles the block.
        const block = deps.limiter.recordFailure(sourceKey(channel), deps.now());
        audit(channel, 'throttled', { reason: 'rate_limited' });
        return errorReply(
          'rate_limited',
          'too many failed attempts from this address; wait before retrying',
          {
            'retry-after': String(Math.ceil(Math.max(blocked, block) / 1000)),
          },
        );
      }
      try {
        if (kind === 'hello') return hello(channel);
        if (kind === 'start') return start(body, channel);
        return finish(body, channel);
      } catch (err) {
        if (err instanceof ProtocolError) return fail(channel, err.code, err.message);
        throw err;
      }
    },
  };
}
