/**
 * `check`'s confirmation of the secret on a route already probed: one
 * handshake with `verifyOnly`, proved with a key held in memory only, so
 * nothing is written and nothing is registered.
 */
import { randomUUID } from 'node:crypto';
import { UserError } from '../common/errors.ts';
import { derivePrs, fromB64u, generateSigningKey } from '../protocol/index.ts';
import type { Prs, Secret, SigningKey } from '../protocol/index.ts';
import type { AgentContext } from './context.ts';
import { promptSecret, readGivenSecret } from './context.ts';
import { AttemptError, runHandshake } from './handshake.ts';
import type { ProbeSuccess } from './probe.ts';
import { finalCode } from './retry.ts';
import type { RouteName } from './route-choice.ts';

/** One route's result in `check` (`checks[]` in --json). */
export interface RouteVerdict {
  readonly route: RouteName;
  readonly ok: boolean;
  /** `secret_accepted`, `reachable`, or the failure code that decides the exit code. */
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
}

/**
 * The secret to confirm: the one given, or (with --prompt on a terminal)
 * one typed in; null when none was given and none is needed to report.
 */
export async function obtainCheckSecret(
  ctx: AgentContext,
  routes: readonly ProbeSuccess[],
): Promise<Secret | null> {
  const s = ctx.settings;
  const secret = await readGivenSecret(s.secret, ctx);
  if (s.secret.kind === 'flag')
    ctx.reporter.warn(
      '--secret is visible to other users in the process list; prefer --secret-file or CLIENT_BOOTSTRAP_SECRET',
    );
  if (secret || !s.prompt || !routes.some((r) => r.hello.secretRequired)) return secret;
  if (!s.interactive || !ctx.canPrompt)
    throw new UserError('secret_missing', '--prompt was given but there is no terminal to ask on', {
      hint: 'give the secret with --secret-file PATH (or - for stdin) or CLIENT_BOOTSTRAP_SECRET',
    });
  return promptSecret(ctx, 1);
}

/** What one check run reuses across routes: the derived PRS per server and KDF, and the in-memory key. */
export interface CheckMemo {
  readonly prs: Map<string, Prs>;
  key?: SigningKey;
}

const label = (name: RouteName): string => (name === 'direct' ? 'server' : 'relay');

/** Confirms the secret on one probed route; never throws an expected failure. */
export async function confirmSecretOn(
  ctx: AgentContext,
  chosen: ProbeSuccess,
  secret: Secret,
  memo: CheckMemo,
): Promise<RouteVerdict> {
  const s = ctx.settings;
  const { target, hello } = chosen;
  const route = target.name;
  if (route === 'relay' && !s.serverPin && !s.allowUnpinnedRelay)
    return {
      route,
      ok: false,
      code: 'unpinned_relay',
      message:
        'relay: the secret is not confirmed on the relay route without the server pin (the relay itself could test guesses of it)',
      hint: 'configure --server-pin (bootstrap-server client-config prints it), or accept the risk with --allow-unpinned-relay',
    };
  try {
    const cacheKey = `${hello.serverId}/${hello.kdf.N}/${hello.kdf.r}/${hello.kdf.p}`;
    let prs = memo.prs.get(cacheKey);
    if (!prs) {
      ctx.reporter.progress('deriving the key from the secret');
      prs = await derivePrs(secret, fromB64u(hello.serverId, 'serverId', 16), hello.kdf);
      memo.prs.set(cacheKey, prs);
    }
    memo.key ??= generateSigningKey();
    ctx.reporter.progress(`confirming the secret on the ${route} route`);
    const done = await runHandshake({
      target,
      hello,
      prs,
      clientKey: memo.key,
      details: { ...(await ctx.machine()), installId: randomUUID(), verifyOnly: true },
      trust: {
        ...(s.serverPin ? { pin: s.serverPin } : {}),
        allowTofu: route === 'direct' || s.allowUnpinnedRelay,
      },
      transport: ctx.transport,
      signal: ctx.deadline.signal,
      timeoutMs: Math.max(1000, Math.min(30_000, ctx.deadline.remainingMs())),
      log: ctx.log,
    });
    if (done.result.kind !== 'verified')
      throw new AttemptError('bad_reply', 'the server registered instead of only checking');
    return {
      route,
      ok: true,
      code: 'secret_accepted',
      message: `the secret is accepted on the ${route} route`,
    };
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    ctx.log.warn('check.secret_failed', { route, code: err.code, message: err.message });
    return {
      route,
      ok: false,
      code: finalCode(err.code),
      message: `${label(route)}: ${err.message}`,
      ...(err.hint ? { hint: err.hint } : {}),
    };
  }
}
