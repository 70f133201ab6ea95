/**
 * `client-bootstrap check`: probes each route once and, with a secret,
 * confirms it on the best route (or, with `--route all`, on every route)
 * without registering. It writes nothing: no state directory, no key, no
 * lock (the key it proves possession of lives in memory only).
 */
import { AUTH_CODES, CONFIG_CODES, PROXY_CODES, configHint } from './choose-route.ts';
import { confirmSecretOn, obtainCheckSecret } from './check-secret.ts';
import type { RouteVerdict } from './check-secret.ts';
import type { AgentContext } from './context.ts';
import { outcomeOf } from './outcome.ts';
import type { Outcome } from './outcome.ts';
import { probeRoutes, routeTargets } from './probe.ts';
import type { ProbeSuccess, RouteReport } from './probe.ts';
import { finalCode } from './retry.ts';

/** The failure code of a route that did not answer hello as expected. */
export function probeFailureCode(r: RouteReport): string {
  const code = r.errorCode ?? 'no_route';
  if (AUTH_CODES.has(code) || PROXY_CODES.has(code)) return code;
  if (CONFIG_CODES.has(code)) return code === 'wrong_scheme' ? code : 'config';
  const final = finalCode(code);
  return final === 'busy' || final === 'no_route' ? final : 'no_route';
}

/** Worst first: what a deployment tool must act on decides the exit code. */
const SEVERITY = [
  'config',
  'wrong_scheme',
  ...PROXY_CODES,
  'usage',
  'unpinned_relay',
  ...AUTH_CODES,
  'invalid_secret',
];
function worst(verdicts: readonly RouteVerdict[]): RouteVerdict | undefined {
  const failed = verdicts.filter((v) => !v.ok);
  const rank = (v: RouteVerdict): number => {
    const i = SEVERITY.indexOf(v.code);
    return i < 0 ? SEVERITY.length : i;
  };
  return [...failed].sort((a, b) => rank(a) - rank(b))[0];
}

/** No route at all, as register sees it: any unauthenticated server 6; all misconfigured 2; all busy 8; else 5. */
function noRouteCode(verdicts: readonly RouteVerdict[]): string {
  const auth = verdicts.find((v) => AUTH_CODES.has(v.code));
  if (auth) return auth.code;
  // A URL, scheme or proxy to fix on every route: waiting will not help (exit 2).
  const fixable = (c: string): boolean =>
    c === 'config' || c === 'wrong_scheme' || PROXY_CODES.has(c);
  if (verdicts.length > 0 && verdicts.every((v) => fixable(v.code)))
    return worst(verdicts)?.code ?? 'config';
  if (verdicts.length > 0 && verdicts.every((v) => v.code === 'busy')) return 'busy';
  return 'no_route';
}

const label = (name: string): string => (name === 'direct' ? 'server' : 'relay');

/** Reports every route; with a secret (or --prompt), confirms it without registering. */
export async function checkFlow(ctx: AgentContext): Promise<Outcome> {
  const t0 = ctx.now();
  const s = ctx.settings;
  const targets = routeTargets(s);
  for (const t of targets) ctx.reporter.progress(`checking ${label(t.name)} ${t.url}`);
  // One probe per route, each to its end: check reports all of them, not just the winner.
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
  const usable = results.map((r) => r.chosen).filter((c): c is ProbeSuccess => c !== null);
  const best = usable.find((c) => c.target.name === 'direct') ?? usable[0];
  const base = { routes, ...(best ? { serverId: best.hello.serverId } : {}) };
  const verdicts: RouteVerdict[] = routes
    .filter((r) => !r.reachable)
    .map((r) => ({
      route: r.name,
      ok: false,
      code: probeFailureCode(r),
      message: `${label(r.name)} not usable: ${r.error ?? 'unknown'}`,
    }));
  if (!best) {
    const code = noRouteCode(verdicts);
    return outcomeOf(ctx, t0, {
      ...base,
      ok: false,
      code,
      checks: verdicts,
      message: `no usable route (${routes.map((r) => `${label(r.name)}: ${r.error ?? '?'}`).join('; ')})`,
      // The same words register would use for a URL or scheme to fix.
      hint:
        code === 'config' || code === 'wrong_scheme'
          ? configHint(routes)
          : 'check the network, the URLs and any proxy, and --server-id / --server-pin against bootstrap-server client-config',
    });
  }
  const toConfirm = s.allRoutes ? usable : [best];
  const secret = await obtainCheckSecret(ctx, toConfirm);
  const memo = { prs: new Map() };
  let confirmed = false;
  for (const c of toConfirm) {
    if (secret && c.hello.secretRequired) {
      const v = await confirmSecretOn(ctx, c, secret, memo);
      confirmed ||= v.ok;
      verdicts.push(v);
    } else
      verdicts.push({
        route: c.target.name,
        ok: true,
        code: 'reachable',
        message: `${label(c.target.name)} usable; ${c.hello.secretRequired ? 'a secret is required (none was given to confirm)' : 'no secret is required'}`,
      });
  }
  const order = (v: RouteVerdict): number => targets.findIndex((t) => t.name === v.route);
  verdicts.sort((a, b) => order(a) - order(b));
  for (const v of verdicts) ctx.log.info('check.route', { ...v });
  const failed = s.allRoutes
    ? worst(verdicts)
    : verdicts.find((v) => v.route === best.target.name && !v.ok);
  const summary = verdicts
    .filter((v) => s.allRoutes || v.route === best.target.name)
    .map((v) => v.message)
    .join('; ');
  if (failed)
    return outcomeOf(ctx, t0, {
      ...base,
      ok: false,
      code: failed.code,
      checks: verdicts,
      message: s.allRoutes ? `not every route works: ${summary}` : failed.message,
      ...(failed.hint ? { hint: failed.hint } : {}),
    });
  return outcomeOf(ctx, t0, {
    ...base,
    ok: true,
    code: confirmed ? 'secret_accepted' : 'reachable',
    route: best.target.name,
    serverPin: best.pin,
    checks: verdicts,
    message: confirmed ? `${summary} (nothing was registered)` : summary,
  });
}
