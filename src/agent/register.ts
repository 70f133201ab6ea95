/**
 * `client-bootstrap register` (the default) and `check`: find a route,
 * obtain the secret if that route needs one, run the handshake with
 * retries, save the identity.
 */
import { UserError } from '../common/errors.ts';
import { keyFingerprint, toB64u } from '../protocol/index.ts';
import type { Prs, Secret, SigningKey } from '../protocol/index.ts';
import type { AgentContext } from './context.ts';
import { promptSecret, readGivenSecret } from './context.ts';
import { AttemptError, runHandshake } from './handshake.ts';
import { outcomeOf } from './outcome.ts';
import type { Outcome } from './outcome.ts';
import { RouteFailure, chooseRoute } from './choose-route.ts';
import type { ProbeSuccess, RouteReport } from './probe.ts';
import {
  backoffMs,
  finalCode,
  isRetryableRouteFailure,
  isTransient,
  isWorthWaiting,
  parseRetryAfter,
  retryMessage,
} from './retry.ts';
import { alreadyRegistered, lockState, readState, sameServer } from './register-state.ts';
import { KeyDeriver } from './speculative-key.ts';
import { StateDir } from './state.ts';
import type { Registration } from './state.ts';
import type { Timings } from './timings.ts';

export interface RegisterOptions {
  /** `check`: confirm the secret without registering. */
  readonly verifyOnly: boolean;
  /** Where the phases' times go (--json `timings`). */
  readonly timings?: Timings;
}

/** Runs register (or, with verifyOnly, check's secret confirmation). */
export async function registerFlow(ctx: AgentContext, opts: RegisterOptions): Promise<Outcome> {
  const t0 = ctx.now();
  const s = ctx.settings;
  const timings = opts.timings;
  const stateDir = new StateDir(s.stateDir);
  let reports: RouteReport[] = [];
  let attempts = 0;
  let release: (() => void) | undefined;
  try {
    stateDir.ensure();
    if (!opts.verifyOnly) release = await lockState(ctx, stateDir);
    const state = readState(ctx, stateDir, opts.verifyOnly);
    const saved = state.registration;
    if (!opts.verifyOnly && saved && alreadyRegistered(ctx, saved)) {
      return outcomeOf(ctx, t0, {
        ok: true,
        code: 'already_registered',
        clientId: saved.clientId,
        serverId: saved.serverId,
        route: saved.route,
        message: `already registered to this server as client ${saved.clientId} (nothing sent; use --force to register again)`,
      });
    }

    let secret: Secret | null = await readGivenSecret(s.secret, ctx);
    const fromPrompt = { used: false, attempts: 0 };
    if (s.secret.kind === 'flag')
      ctx.reporter.warn(
        '--secret is visible to other users in the process list; prefer --secret-file or CLIENT_BOOTSTRAP_SECRET',
      );
    // The key derivation starts now when the server id is known, while the routes are probed.
    const newKeys = (given: Secret): KeyDeriver =>
      new KeyDeriver(given, { log: ctx.log, ...(timings ? { timings } : {}) });
    let keys = secret ? newKeys(secret) : undefined;
    const expectedServerId =
      s.serverId ?? (saved && sameServer(saved, s) ? saved.serverId : undefined);
    if (keys && expectedServerId) keys.speculate(expectedServerId);
    let clientKey: SigningKey | undefined;
    // Read the machine's identity while the routes are probed.
    const facts = ctx.machine();
    facts.catch(() => undefined); // awaited below; not an unhandled rejection if probing fails first
    const savedPin =
      saved && s.serverId && saved.serverId === s.serverId ? saved.serverPin : undefined;

    // After a wrong secret at the prompt, the route just chosen is asked again without a new probe.
    let again: { chosen: ProbeSuccess; reports: RouteReport[] } | undefined;
    for (let attempt = 0; ; attempt++) {
      attempts = attempt + 1;
      let chosen: ProbeSuccess;
      try {
        ({ chosen, reports } =
          again ??
          (await (timings
            ? timings.span('probes', () => chooseRoute(ctx, savedPin))
            : chooseRoute(ctx, savedPin))));
        again = undefined;
      } catch (err) {
        if (err instanceof RouteFailure) {
          reports = err.reports;
          // Both routes are probed again each round, so a route that comes back is taken.
          if (isRetryableRouteFailure(err) && (await waitBeforeRetry(ctx, attempt, undefined)))
            continue;
        }
        throw err;
      }
      const { hello, target } = chosen;
      const pinned = s.serverPin ?? savedPin;
      if (target.name === 'relay' && !pinned && !s.allowUnpinnedRelay) {
        // Without a pin, a malicious relay can answer with up to 16 shares of its own guesses
        // and learn from the agent's M3 which one was right.
        throw new UserError(
          'unpinned_relay',
          'the relay route needs the server pin: without it the relay itself could impersonate the server and test guesses of the secret',
          {
            hint: 'configure --server-pin (bootstrap-server client-config prints it), or accept the risk with --allow-unpinned-relay',
          },
        );
      }
      if (hello.secretRequired && !secret) {
        if (!s.interactive || !ctx.canPrompt || (opts.verifyOnly && !s.prompt)) {
          throw new UserError(
            'secret_missing',
            `the server requires an authorization secret on the ${target.name} route and none was given`,
            {
              hint: 'give it with --secret-file PATH (or - for stdin) or CLIENT_BOOTSTRAP_SECRET',
            },
          );
        }
        fromPrompt.used = true;
        fromPrompt.attempts += 1;
        secret = await promptSecret(ctx, fromPrompt.attempts);
      }
      if (!pinned && !secret && !hello.secretRequired) {
        ctx.reporter.warn(
          `trusting the server key on first use: ${chosen.pin} (pin it with --server-pin)`,
        );
      }
      // The client key (made and saved the first time) while the key derivation
      // may still be running, not after it: it is a key pair and an fsync.
      if (!clientKey) {
        clientKey = stateDir.clientKey();
        ctx.log.debug('client_key.ready', {});
      }
      let prs: Prs | undefined;
      // A secret the agent holds is always proved, and the server must prove it back (or match
      // the pin) even where it says none is required: an impostor cannot talk it down to trust on first use.
      // The hello is verified (signature, server id, pin) before any derived key is used.
      if (secret) {
        keys ??= newKeys(secret);
        if (keys.ready(hello)) prs = await keys.forHello(hello);
        else {
          const derived = ctx.reporter.activity('deriving the key from the secret');
          prs = await keys.forHello(hello).finally(derived);
        }
      }
      try {
        ctx.reporter.progress(opts.verifyOnly ? 'confirming the secret' : 'registering');
        timings?.start('handshake');
        const done = await runHandshake({
          target,
          hello,
          ...(prs ? { prs } : {}),
          clientKey,
          details: {
            ...(await facts),
            installId: state.installId,
            ...(opts.verifyOnly ? { verifyOnly: true } : {}),
          },
          trust: {
            ...(pinned ? { pin: pinned } : {}),
            allowTofu: target.name === 'direct' || s.allowUnpinnedRelay,
          },
          transport: ctx.transport,
          signal: ctx.deadline.signal,
          timeoutMs: Math.max(1000, Math.min(30_000, ctx.deadline.remainingMs())),
          log: ctx.log,
        }).finally(() => timings?.end('handshake'));
        if (done.result.kind === 'verified') {
          return outcomeOf(ctx, t0, {
            ok: true,
            code: 'secret_accepted',
            serverId: hello.serverId,
            route: target.name,
            routes: reports,
            message: `the secret is accepted on the ${target.name} route (nothing was registered)`,
          });
        }
        const registration: Registration = {
          clientId: done.result.clientId,
          serverId: done.result.serverId,
          serverPin: done.pin,
          route: target.name,
          serverUrl: s.server ?? null,
          relayUrl: s.relay ?? null,
          registeredAt: done.result.registeredAt,
          credential: done.result.credential,
          keyFingerprint: toB64u(keyFingerprint(clientKey.publicRaw)),
          savedAt: new Date(ctx.now()).toISOString(),
        };
        timings?.start('save');
        stateDir.write({ ...state, registration });
        timings?.end('save');
        ctx.log.info('register.saved', {
          clientId: registration.clientId,
          serverId: registration.serverId,
          route: target.name,
          serverAuth: done.serverAuth,
        });
        return outcomeOf(ctx, t0, {
          ok: true,
          code: 'registered',
          attempts,
          clientId: registration.clientId,
          serverId: registration.serverId,
          route: target.name,
          routes: reports,
          serverPin: done.pin,
          serverAuth: done.serverAuth,
          message: `registered as client ${registration.clientId} via the ${target.name} route`,
        });
      } catch (err) {
        if (!(err instanceof AttemptError)) throw err;
        ctx.log.warn('register.attempt_failed', {
          attempt,
          code: err.code,
          message: err.message,
          route: target.name,
        });
        if (err.code === 'invalid_secret' && fromPrompt.used && fromPrompt.attempts < 3) {
          ctx.reporter.warn('the secret was not accepted; try again');
          secret = null;
          keys?.clear();
          keys = undefined;
          again = { chosen, reports };
          continue;
        }
        if (
          isTransient(err.code) &&
          (await waitBeforeRetry(ctx, attempt, err.retryAfter, err.code))
        )
          continue;
        throw err;
      }
    }
  } catch (err) {
    if (err instanceof UserError) {
      ctx.log.error('command.failed', { code: err.code, message: err.message, attempts });
      const tried =
        attempts > 1
          ? ` (after ${attempts} attempts over ${Math.round((ctx.now() - t0) / 1000)} s)`
          : '';
      return outcomeOf(ctx, t0, {
        ok: false,
        code: finalCode(err.code),
        message: `${err.message}${tried}`,
        ...(attempts > 0 ? { attempts } : {}),
        ...(err.hint ? { hint: err.hint } : {}),
        routes: err instanceof RouteFailure ? err.reports : reports,
      });
    }
    throw err;
  } finally {
    release?.();
  }
}

/** Sleeps the backoff if the deadline allows another attempt; false when it does not. */
async function waitBeforeRetry(
  ctx: AgentContext,
  attempt: number,
  retryAfter: string | undefined,
  code?: string,
): Promise<boolean> {
  const wait = backoffMs(attempt, parseRetryAfter(retryAfter, ctx.now()), ctx.random);
  const remaining = ctx.deadline.remainingMs();
  if (!isWorthWaiting(wait, remaining)) return false;
  const waited = ctx.reporter.activity(retryMessage(code, wait, remaining));
  ctx.log.info('register.retry', { attempt: attempt + 1, waitMs: Math.round(wait) });
  try {
    await ctx.sleep(wait, ctx.deadline.signal);
    return true;
  } catch {
    return false;
  } finally {
    waited();
  }
}
