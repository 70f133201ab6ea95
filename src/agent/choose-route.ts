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
  'tls_clock',
  'tls_name',
  'weak_kdf',
]);

/** Answers that mean the configured URL or server id is wrong, not that a route is down. */
export const CONFIG_CODES: ReadonlySet<string> = new Set([
  'not_found',
  'http_404',
  'unknown_server',
  'http_405',
  'wrong_scheme',
]);

/** Proxy answers that another round will not change. */
export const PROXY_CODES: ReadonlySet<string> = new Set(['proxy_auth', 'proxy_refused']);

/** The flag that names a route's URL. */
const flagOf = (r: RouteReport): string => (r.name === 'direct' ? '--server' : '--relay');

/** What to do about an authentication failure, by its code. */
function authHint(r: RouteReport): string {
  if (r.errorCode === 'tls_clock')
    return "check this machine's date, time and time zone (the certificate dates are in the message); if they are right, the server's certificate must be renewed";
  if (r.errorCode === 'tls')
    return 'give the CA that signed the server certificate with --ca-file PEM, or trust the operating system store with --ca-system';
  if (r.errorCode === 'tls_name')
    return `use the name the certificate is issued for in ${flagOf(r)} (the message names it), or have the certificate reissued for this name`;
  return 'check --server-pin and --server-id against bootstrap-server client-config';
}

/** What to do about a configuration that names nothing that answers. */
export function configHint(reports: readonly RouteReport[]): string {
  const scheme = reports.find((r) => r.errorCode === 'wrong_scheme');
  if (scheme) {
    const other = scheme.url.startsWith('https:')
      ? scheme.url.replace(/^https:/, 'http:')
      : scheme.url.replace(/^http:/, 'https:');
    return `use ${flagOf(scheme)} ${other}: the scheme must be the one the ${scheme.name === 'direct' ? 'server' : 'relay'} speaks`;
  }
  return 'check the URL (--server and --relay are base URLs, with no path) and --server-id against bootstrap-server client-config';
}

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
        authHint(auth),
      );
    // A proxy that wants credentials, or refuses the destination, will not change its mind.
    const proxy = reports.find((r) => r.errorCode && PROXY_CODES.has(r.errorCode));
    if (
      proxy &&
      reports.every(
        (r) => r.errorCode && (PROXY_CODES.has(r.errorCode) || CONFIG_CODES.has(r.errorCode)),
      )
    )
      throw new RouteFailure(
        proxy.errorCode as string,
        proxy.error ?? 'the proxy refused',
        reports,
        proxy.errorCode !== 'proxy_auth'
          ? 'ask the proxy administrator to allow this destination, or set NO_PROXY for it'
          : ctx.settings.proxy?.credentials
            ? 'check the proxy user and password (in --proxy-auth-file or the proxy URL)'
            : 'give the proxy user and password with --proxy-auth-file FILE (one line user:password) or in the proxy URL',
      );
    // A URL with a path too many, or a server id the relay does not know, will not fix itself.
    if (reports.length > 0 && reports.every((r) => r.errorCode && CONFIG_CODES.has(r.errorCode))) {
      const scheme = reports.some((r) => r.errorCode === 'wrong_scheme');
      throw new RouteFailure(
        scheme ? 'wrong_scheme' : 'config',
        scheme
          ? `the URL's scheme does not match what the server speaks (${reasons})`
          : `the configuration names no server that answers (${reasons})`,
        reports,
        configHint(reports),
      );
    }
    const busy = reports.every(
      (r) => r.errorCode === 'unavailable' || r.errorCode === 'rate_limited',
    );
    throw new RouteFailure(
      busy ? 'busy' : 'no_route',
      `no route to the server (${reasons})`,
      reports,
      // One route misconfigured, the other down: the fix for the first is not to wait.
      reports.some((r) => r.errorCode && CONFIG_CODES.has(r.errorCode))
        ? `${configHint(reports)}; the other route is down: a deployment tool should retry later`
        : 'check the network, the URLs and any proxy; a deployment tool should retry later',
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
