/**
 * Probes the direct server and the relay at the same time with `hello` and
 * chooses a route (see route-choice.ts). Every route gets a report, so a
 * relay success never hides why direct failed.
 */
import type { Logger } from '../common/log.ts';
import { ProtocolError, parseErrorBody, parseHello, verifyHello } from '../protocol/index.ts';
import type { Hello } from '../protocol/index.ts';
import { decideRoute } from './route-choice.ts';
import type { ProbeState, RouteName } from './route-choice.ts';
import { TransportError } from './transport.ts';
import type { Transport } from './transport.ts';

/** One route's endpoints. */
export interface RouteTarget {
  readonly name: RouteName;
  /** The base URL the user configured. */
  readonly url: string;
  readonly hello: string;
  readonly start: string;
  readonly finish: string;
}

export function routeTargets(s: {
  server?: string;
  relay?: string;
  serverId?: string;
  route: 'auto' | RouteName;
}): RouteTarget[] {
  const targets: RouteTarget[] = [];
  if (s.server && s.route !== 'relay') {
    targets.push({
      name: 'direct',
      url: s.server,
      hello: `${s.server}/v1/hello`,
      start: `${s.server}/v1/register/start`,
      finish: `${s.server}/v1/register/finish`,
    });
  }
  if (s.relay && s.serverId && s.route !== 'direct') {
    const base = `${s.relay}/v1/servers/${s.serverId}`;
    targets.push({
      name: 'relay',
      url: s.relay,
      hello: `${base}/hello`,
      start: `${base}/register/start`,
      finish: `${base}/register/finish`,
    });
  }
  return targets;
}

/** What happened on one route; the shape of `routes[]` in --json. */
export interface RouteReport {
  readonly name: RouteName;
  readonly url: string;
  readonly reachable: boolean;
  readonly latencyMs: number | null;
  readonly seenAs: 'intranet' | 'internet' | null;
  readonly secretRequired: boolean | null;
  readonly error: string | null;
  /** Stable code of the failure, for the exit code. */
  readonly errorCode: string | null;
}

export interface ProbeSuccess {
  readonly target: RouteTarget;
  readonly hello: Hello;
  readonly pin: string;
  readonly why: string;
}

export interface ProbeResult {
  readonly chosen: ProbeSuccess | null;
  readonly reports: RouteReport[];
}

export interface ProbeDeps {
  readonly transport: Transport;
  readonly log: Logger;
  readonly now: () => number;
  readonly signal: AbortSignal;
  readonly probeTimeoutMs: number;
  readonly graceMs: number;
  readonly expect: { readonly serverId?: string; readonly pin?: string };
}

type Outcome =
  | { ok: true; hello: Hello; pin: string; ms: number }
  | { ok: false; code: string; error: string; ms: number };

async function probeOne(
  target: RouteTarget,
  deps: ProbeDeps,
  signal: AbortSignal,
): Promise<Outcome> {
  const t0 = deps.now();
  const elapsed = (): number => Math.round(deps.now() - t0);
  try {
    const reply = await deps.transport.send('GET', target.hello, undefined, {
      signal,
      timeoutMs: deps.probeTimeoutMs,
    });
    const ms = elapsed();
    if (reply.status !== 200) {
      const err = parseErrorBody(reply.json);
      return {
        ok: false,
        ms,
        code:
          reply.status === 503 || reply.status === 504 || reply.status === 502
            ? 'unavailable'
            : (err?.code ?? `http_${reply.status}`),
        error: `answered HTTP ${reply.status}${err ? `: ${err.message}` : ''}`,
      };
    }
    const hello = parseHello(reply.json);
    const pin = verifyHello(hello, deps.expect);
    return { ok: true, hello, pin, ms };
  } catch (err) {
    const ms = elapsed();
    if (err instanceof TransportError)
      return {
        ok: false,
        ms,
        code: err.code,
        error: err.message,
      };
    if (err instanceof ProtocolError) return { ok: false, ms, code: err.code, error: err.message };
    throw err;
  }
}

/** Probes all targets at once and picks the route. */
export function probeRoutes(
  targets: readonly RouteTarget[],
  deps: ProbeDeps,
): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const outcomes = new Map<RouteName, Outcome>();
    const controllers = new Map<RouteName, AbortController>();
    let graceExpired = false;
    let graceTimer: NodeJS.Timeout | undefined;
    let graceStartedAt = 0;
    let settled = false;
    const stateOf = (name: RouteName): ProbeState => {
      if (!targets.some((t) => t.name === name)) return 'absent';
      const o = outcomes.get(name);
      return o === undefined ? 'pending' : o.ok ? 'ok' : 'failed';
    };
    const report = (t: RouteTarget): RouteReport => {
      const o = outcomes.get(t.name);
      if (!o) {
        const why = graceTimer
          ? `no answer; given up ${Math.round(deps.now() - graceStartedAt)} ms after the relay answered`
          : 'not waited for: the direct route answered first';
        return {
          name: t.name,
          url: t.url,
          reachable: false,
          latencyMs: null,
          seenAs: null,
          secretRequired: null,
          errorCode: graceTimer ? 'unreachable' : 'abandoned',
          error: why,
        };
      }
      if (o.ok)
        return {
          name: t.name,
          url: t.url,
          reachable: true,
          latencyMs: o.ms,
          seenAs: o.hello.seenAs,
          secretRequired: o.hello.secretRequired,
          error: null,
          errorCode: null,
        };
      return {
        name: t.name,
        url: t.url,
        reachable: false,
        latencyMs: o.ms,
        seenAs: null,
        secretRequired: null,
        error: o.error,
        errorCode: o.code,
      };
    };
    const evaluate = (): void => {
      if (settled) return;
      const d = decideRoute(stateOf('direct'), stateOf('relay'), graceExpired);
      if (d.kind === 'wait') return;
      if (d.kind === 'start-grace') {
        if (!graceTimer) {
          graceStartedAt = deps.now();
          graceTimer = setTimeout(() => {
            graceExpired = true;
            evaluate();
          }, deps.graceMs);
        }
        return;
      }
      settled = true;
      clearTimeout(graceTimer);
      for (const c of controllers.values()) c.abort();
      const reports = targets.map(report);
      for (const r of reports) deps.log.info('route.probe', { ...r });
      if (d.kind === 'none') return resolve({ chosen: null, reports });
      const target = targets.find((t) => t.name === d.route) as RouteTarget;
      const o = outcomes.get(d.route) as Extract<Outcome, { ok: true }>;
      deps.log.info('route.chosen', { route: d.route, why: d.why });
      resolve({ chosen: { target, hello: o.hello, pin: o.pin, why: d.why }, reports });
    };
    for (const t of targets) {
      const controller = new AbortController();
      controllers.set(t.name, controller);
      probeOne(t, deps, AbortSignal.any([deps.signal, controller.signal]))
        .then((o) => {
          if (settled) return;
          outcomes.set(t.name, o);
          evaluate();
        })
        .catch((err: unknown) => {
          settled = true;
          reject(err instanceof Error ? err : new Error(String(err)));
        });
    }
    evaluate();
  });
}
