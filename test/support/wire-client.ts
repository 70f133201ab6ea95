/** A protocol client over real HTTP, built on the protocol library, for server and relay tests. */
import { Agent, request } from 'undici';
import {
  Secret,
  continueRegistration,
  derivePrs,
  finishRegistration,
  fromB64u,
  generateSigningKey,
  parseHello,
  parseM2,
  parseM4,
  startRegistration,
  verifyHello,
} from '../../src/protocol/index.ts';
import type { Hello, Prs, ServerResult, SigningKey } from '../../src/protocol/index.ts';
import { DETAILS } from './exchange.ts';

export type Route =
  { kind: 'direct'; url: string } | { kind: 'relay'; url: string; serverId: string };

export function endpoint(
  route: Route,
  path: 'hello' | 'register/start' | 'register/finish',
): string {
  return route.kind === 'direct'
    ? `${route.url}/v1/${path}`
    : `${route.url}/v1/servers/${route.serverId}/${path}`;
}

const agents = new Map<string, Agent>();
export function agentFor(localAddress = '127.0.0.1'): Agent {
  let a = agents.get(localAddress);
  if (!a) {
    a = new Agent({ localAddress, keepAliveTimeout: 1000 });
    agents.set(localAddress, a);
  }
  return a;
}

export async function call(
  url: string,
  body?: unknown,
  localAddress?: string,
): Promise<{ status: number; body: unknown; headers: Record<string, unknown> }> {
  const res = await request(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    dispatcher: agentFor(localAddress),
    headersTimeout: 40_000,
    bodyTimeout: 40_000,
  });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // leave as text
  }
  return { status: res.statusCode, body: parsed, headers: res.headers };
}

export async function hello(route: Route, localAddress?: string): Promise<Hello> {
  const r = await call(endpoint(route, 'hello'), undefined, localAddress);
  if (r.status !== 200) throw new Error(`hello answered ${r.status}: ${JSON.stringify(r.body)}`);
  return parseHello(r.body);
}

export type RegisterOutcome =
  | { ok: true; result: ServerResult; hello: Hello }
  | {
      ok: false;
      stage: 'start' | 'finish' | 'client';
      status?: number;
      code: string;
      retryAfter?: string;
    };

export interface RegisterOptions {
  secret?: string;
  /** A PRS derived beforehand (benchmarks share one instead of running scrypt per client). */
  prs?: Prs;
  clientKey?: SigningKey;
  pin?: string;
  allowTofu?: boolean;
  localAddress?: string;
  verifyOnly?: boolean;
  machineId?: string;
  /** Runs between M2 and M3. */
  betweenM2AndM3?: () => Promise<void>;
}

/** One full registration attempt, as the agent will make it. */
export async function register(route: Route, opts: RegisterOptions = {}): Promise<RegisterOutcome> {
  const h = await hello(route, opts.localAddress);
  verifyHello(h, opts.pin ? { pin: opts.pin } : {});
  const prs =
    opts.prs ??
    (opts.secret
      ? await derivePrs(Secret.from(opts.secret), fromB64u(h.serverId, 'serverId', 16), h.kdf)
      : undefined);
  const start = startRegistration(prs ? { serverId: h.serverId, prs } : { serverId: h.serverId });
  const r2 = await call(endpoint(route, 'register/start'), start.m1, opts.localAddress);
  if (r2.status !== 200) return fail('start', r2);
  const step = (() => {
    try {
      return continueRegistration(start, parseM2(r2.body), {
        trust: { ...(opts.pin ? { pin: opts.pin } : {}), allowTofu: opts.allowTofu ?? true },
        clientKey: opts.clientKey ?? generateSigningKey(),
        details: {
          ...DETAILS,
          ...(opts.machineId ? { machineId: opts.machineId } : {}),
          ...(opts.verifyOnly ? { verifyOnly: true } : {}),
        },
      });
    } catch (err) {
      return { kind: 'error' as const, code: (err as { code?: string }).code ?? 'error' };
    }
  })();
  if (step.kind === 'error') return { ok: false, stage: 'client', code: step.code };
  if (step.kind === 'abort') {
    await call(endpoint(route, 'register/finish'), step.abort, opts.localAddress);
    return { ok: false, stage: 'client', code: step.error.code };
  }
  await opts.betweenM2AndM3?.();
  const r4 = await call(endpoint(route, 'register/finish'), step.m3, opts.localAddress);
  if (r4.status !== 200) return fail('finish', r4);
  return { ok: true, result: finishRegistration(step.pending, parseM4(r4.body)), hello: h };
}

function fail(
  stage: 'start' | 'finish',
  r: { status: number; body: unknown; headers: Record<string, unknown> },
): RegisterOutcome {
  const code = (r.body as { error?: { code?: string } })?.error?.code ?? `http_${r.status}`;
  const retryAfter = r.headers['retry-after'];
  return {
    ok: false,
    stage,
    status: r.status,
    code,
    ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
  };
}
