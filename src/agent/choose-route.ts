/**
 * Probes the routes for a registration and names the winner, or fails with
 * every route's reason: an authentication failure on any route is exit 6,
 * busy routes are 8, anything else is no route (5).
 */
import { UserError } from '../common/errors.ts';
import type { AgentContext } from './context.ts';
import { probeRoutes, routeTargets } from './probe.ts';
import type { ProbeSuccess, RouteReport } from './probe.ts';

const GRACE_MS = 250;
/** Failures that mean the server could not be authenticated. */
export const AUTH_CODES = new Set([
  'pin_mismatch',
  'bad_signature',
  'wrong_server',
  'tls',
  'weak_kdf',
]);

/** Answers that mean the configured URL or server id is wrong, not that a route is down. */
const CONFIG_CODES = new Set(['not_found', 'http_404', 'unknown_server', 'http_405']);

/** Probes until a route is chosen; a total failure names every route's reason. */
export async function chooseRoute(
  ctx: AgentContext,
  savedPin: string | undefined,
): Promise<{ chosen: ProbeSuccess; reports: RouteReport[] }> {
  const targets = routeTargets(ctx.settings);
  for (const t of targets)
    ctx.reporter.progress(`checking ${t.name === 'direct' ? 'server' : 'relay'} ${t.url}`);
  const pin = ctx.settings.serverPin ?? savedPin;
  const { chosen, reports } = await probeRoutes(targets, {
    transport: ctx.transport,
    log: ctx.log,
    now: ctx.now,
    signal: ctx.deadline.signal,
    probeTimeoutMs: Math.min(ctx.settings.probeTimeoutMs, Math.max(1, ctx.deadline.remainingMs())),
    graceMs: GRACE_MS,
    expect: {
      ...(ctx.settings.serverId ? { serverId: ctx.settings.serverId } : {}),
      ...(pin ? { pin } : {}),
    },
  });
  for (const r of reports) ctx.reporter.route(r);
  if (!chosen) {
    const auth = reports.find((r) => r.errorCode && AUTH_CODES.has(r.errorCode));
    const reasons = reports
      .map((r) => `${r.name === 'direct' ? 'server' : 'relay'}: ${r.error ?? 'unknown'}`)
      .join('; ');
    if (auth)
      throw new RouteFailure(
        auth.errorCode as string,
        `the server could not be authenticated (${reasons})`,
        reports,
        'check --server-pin and --server-id against bootstrap-server client-config; check --ca-file for TLS',
      );
    // A URL with a path too many, or a server id the relay does not know, will not fix itself.
    if (reports.length > 0 && reports.every((r) => r.errorCode && CONFIG_CODES.has(r.errorCode)))
      throw new RouteFailure(
        'config',
        `the configuration names no server that answers (${reasons})`,
        reports,
        'check --server (the base URL, with no path) and --server-id against bootstrap-server client-config',
      );
    const busy = reports.every(
      (r) => r.errorCode === 'unavailable' || r.errorCode === 'rate_limited',
    );
    throw new RouteFailure(
      busy ? 'busy' : 'no_route',
      `no route to the server (${reasons})`,
      reports,
      'check the network, the URLs and any proxy; a deployment tool should retry later',
    );
  }
  ctx.reporter.progress(`route: ${chosen.target.name} (${chosen.why})`);
  ctx.reporter.progress(`server fingerprint: ${chosen.pin}`);
  return { chosen, reports };
}

/** No usable route, with every route's report. */
export class RouteFailure extends UserError {
  constructor(
    code: string,
    message: string,
    readonly reports: RouteReport[],
    hint: string,
  ) {
    super(code, message, { hint });
  }
}
