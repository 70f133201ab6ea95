/** `status` and `unregister`: they work from the saved state; `check` is in check.ts, `register` in register.ts. */
import { existsSync } from 'node:fs';
import { UserError } from '../common/errors.ts';
import type { AgentContext } from './context.ts';
import type { Outcome } from './outcome.ts';
import { failureOf, outcomeOf } from './outcome.ts';
import { lockWithNotices } from './register-state.ts';
import { StateDir } from './state.ts';
import type { Registration } from './state.ts';
import type { SigningKey } from '../protocol/index.ts';
import { tellServer, unregisterTargets } from './unregister-remote.ts';
import type { ServerNotice } from './unregister-remote.ts';

export { checkFlow } from './check.ts';

/** Shows the saved registration. */
export function statusFlow(ctx: Pick<AgentContext, 'settings' | 'now' | 'logFile'>): Outcome {
  const t0 = ctx.now();
  const state = new StateDir(ctx.settings.stateDir);
  const base = { routes: [], logFile: ctx.logFile };
  let saved;
  try {
    saved = state.read();
  } catch (err) {
    if (err instanceof UserError) return failureOf(ctx, t0, err);
    throw err;
  }
  const reg = saved?.registration;
  if (!reg)
    return outcomeOf(ctx, t0, {
      ...base,
      ok: true,
      code: 'not_registered',
      registered: false,
      message: `not registered (state directory ${ctx.settings.stateDir})`,
    });
  return outcomeOf(ctx, t0, {
    ...base,
    ok: true,
    code: 'registered',
    registered: true,
    clientId: reg.clientId,
    serverId: reg.serverId,
    route: reg.route,
    serverPin: reg.serverPin,
    registeredAt: reg.registeredAt,
    serverUrl: reg.serverUrl,
    relayUrl: reg.relayUrl,
    message: `registered as client ${reg.clientId} to server ${reg.serverId} (pin ${reg.serverPin}) via ${reg.route} on ${reg.registeredAt}`,
  });
}

/** The saved registration and key, as far as they can be read; damage is no reason to keep them. */
function readIdentity(state: StateDir): { reg: Registration | null; key: SigningKey | null } {
  let reg: Registration | null = null;
  let key: SigningKey | null = null;
  try {
    reg = state.read()?.registration ?? null;
  } catch {
    // a damaged state file is removed all the same
  }
  try {
    key = state.savedClientKey();
  } catch {
    // a damaged key cannot sign; it is removed all the same
  }
  return { reg, key };
}

function noticeWords(n: ServerNotice, clientId: string | null): string {
  if (n.result === 'removed') return `the server removed it too (${n.route} route)`;
  if (n.result === 'unknown_client')
    return `the server had already forgotten it (${n.route} route)`;
  const admin = clientId
    ? `; an administrator can remove it with: bootstrap-server clients remove ${clientId}`
    : '';
  return `the server was not told (${n.detail})${admin}`;
}

/**
 * Removes the saved identity, first telling the server (signed with the
 * client key) when a route answers; succeeds locally either way.
 */
export async function unregisterFlow(ctx: AgentContext): Promise<Outcome> {
  const t0 = ctx.now();
  const s = ctx.settings;
  const state = new StateDir(s.stateDir);
  const nothing = (notice: string): Outcome =>
    outcomeOf(ctx, t0, {
      ok: true,
      code: 'not_registered',
      serverNotified: false,
      serverResult: 'not_registered',
      message: `nothing to remove: no saved identity${notice}`,
    });
  // A run with nothing to remove creates nothing either.
  if (!existsSync(s.stateDir)) return nothing(` (no state directory ${s.stateDir})`);
  try {
    state.ensure();
    const release = await lockWithNotices(ctx, state);
    try {
      const { reg, key } = readIdentity(state);
      let notice: ServerNotice | null = null;
      if (reg && key) {
        ctx.reporter.progress(
          `telling server ${reg.serverId} that client ${reg.clientId} is leaving`,
        );
        notice = await tellServer({
          reg,
          key,
          targets: unregisterTargets(reg, s),
          transport: ctx.transport,
          signal: ctx.deadline.signal,
          timeoutMs: Math.max(1, Math.min(s.probeTimeoutMs, ctx.deadline.remainingMs())),
          now: ctx.now,
          log: ctx.log,
        });
      }
      const removed = state.removeIdentity();
      const clientId = reg?.clientId ?? null;
      ctx.log.info('unregister', { removed, clientId, serverResult: notice?.result ?? null });
      if (!removed) return nothing('');
      if (notice && !notice.notified) ctx.reporter.warn(noticeWords(notice, clientId));
      return outcomeOf(ctx, t0, {
        ok: true,
        code: 'unregistered',
        clientId,
        serverId: reg?.serverId ?? null,
        serverNotified: notice?.notified ?? false,
        serverResult: notice?.result ?? 'no_registration',
        message: `removed the saved identity${clientId ? ` of client ${clientId}` : ''}; ${
          notice
            ? noticeWords(notice, clientId)
            : 'the server was not told (no readable registration or key to sign with)'
        }`,
      });
    } finally {
      release();
    }
  } catch (err) {
    if (err instanceof UserError) return failureOf(ctx, t0, err);
    throw err;
  }
}
