/** `check`, `status` and `unregister`; `register` is in register.ts. */
import { UserError } from '../common/errors.ts';
import type { AgentContext } from './context.ts';
import type { Outcome } from './outcome.ts';
import { probeRoutes, routeTargets } from './probe.ts';
import { AUTH_CODES } from './choose-route.ts';
import { failureOf, outcomeOf } from './outcome.ts';
import { registerFlow } from './register.ts';
import { StateDir } from './state.ts';

/** Reports every route; with a secret (or --prompt), confirms it without registering. */
export async function checkFlow(ctx: AgentContext): Promise<Outcome> {
  const t0 = ctx.now();
  const s = ctx.settings;
  const targets = routeTargets(s);
  for (const t of targets)
    ctx.reporter.progress(`checking ${t.name === 'direct' ? 'server' : 'relay'} ${t.url}`);
  // Probe every route to the end: check reports all of them, not just the winner.
  const results = await Promise.all(
    targets.map((t) =>
      probeRoutes([t], {
        transport: ctx.transport,
        log: ctx.log,
        now: ctx.now,
        signal: ctx.deadline.signal,
        probeTimeoutMs: s.probeTimeoutMs,
        graceMs: 0,
        expect: {
          ...(s.serverId ? { serverId: s.serverId } : {}),
          ...(s.serverPin ? { pin: s.serverPin } : {}),
        },
      }),
    ),
  );
  const routes = results.flatMap((r) => r.reports);
  for (const r of routes) ctx.reporter.route(r);
  const usable = results.map((r) => r.chosen).filter((c) => c !== null);
  const first = usable[0];
  if (!first) {
    const auth = routes.find((r) => r.errorCode && AUTH_CODES.has(r.errorCode));
    return outcomeOf(ctx, t0, {
      ok: false,
      code: auth?.errorCode ?? 'no_route',
      routes,
      message: `no usable route (${routes.map((r) => `${r.name}: ${r.error ?? '?'}`).join('; ')})`,
    });
  }
  const wantsSecretCheck = s.secret.kind !== 'none' || s.prompt;
  if (wantsSecretCheck && usable.some((c) => c.hello.secretRequired)) {
    const verified = await registerFlow(ctx, { verifyOnly: true });
    return { ...verified, routes, durationMs: Math.round(ctx.now() - t0) };
  }
  const best = usable.find((c) => c.target.name === 'direct') ?? first;
  return outcomeOf(ctx, t0, {
    ok: true,
    code: 'reachable',
    serverId: best.hello.serverId,
    route: best.target.name,
    routes,
    serverPin: best.pin,
    message: `${best.target.name} route usable${best.hello.secretRequired ? '; a secret is required' : '; no secret is required'}`,
  });
}

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

/** Removes the saved identity; the server keeps its record. */
export async function unregisterFlow(ctx: AgentContext): Promise<Outcome> {
  const t0 = ctx.now();
  const state = new StateDir(ctx.settings.stateDir);
  try {
    state.ensure();
    const release = await state.lock({ signal: ctx.deadline.signal });
    try {
      let clientId: string | null = null;
      try {
        clientId = state.read()?.registration?.clientId ?? null;
      } catch {
        // a damaged state file is removed all the same
      }
      const removed = state.removeIdentity();
      ctx.log.info('unregister', { removed, clientId });
      return outcomeOf(ctx, t0, {
        ok: true,
        code: removed ? 'unregistered' : 'not_registered',
        clientId,
        message: removed
          ? `removed the saved identity${clientId ? ` of client ${clientId}` : ''}; the server keeps its record (an administrator can see it with bootstrap-server clients list)`
          : 'nothing to remove: no saved identity',
      });
    } finally {
      release();
    }
  } catch (err) {
    if (err instanceof UserError) return failureOf(ctx, t0, err);
    throw err;
  }
}
