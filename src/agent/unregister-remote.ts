/**
 * `unregister` tells the server: a request signed with the client key
 * (docs/protocol.md, "Unregister"), sent on the routes saved with the
 * registration (or given as flags), each with the probe timeout, never the
 * whole deadline. The local identity is removed whatever the server says;
 * this only reports whether the server was told.
 */
import type { Logger } from '../common/log.ts';
import { parseErrorBody, signUnregister } from '../protocol/index.ts';
import type { SigningKey } from '../protocol/index.ts';
import type { RouteName } from './route-choice.ts';
import type { Registration } from './state.ts';
import { TransportError } from './transport.ts';
import type { Transport } from './transport.ts';

export { UNREGISTER_CONTEXT, signUnregister } from '../protocol/index.ts';

export interface UnregisterTarget {
  readonly name: RouteName;
  readonly url: string;
}

/**
 * Where to send it: the flags' URLs, else the ones saved with the
 * registration; the route the client registered through comes first.
 */
export function unregisterTargets(
  reg: Registration,
  s: { server?: string; relay?: string; route: 'auto' | RouteName },
): UnregisterTarget[] {
  const server = s.server ?? reg.serverUrl;
  const relay = s.relay ?? reg.relayUrl;
  const targets: UnregisterTarget[] = [];
  if (server && s.route !== 'relay')
    targets.push({ name: 'direct', url: `${server}/v1/unregister` });
  if (relay && s.route !== 'direct')
    targets.push({ name: 'relay', url: `${relay}/v1/servers/${reg.serverId}/unregister` });
  return reg.route === 'relay' ? targets.reverse() : targets;
}

/** What the server said. `notified`: the server no longer holds the client (it removed it, or never had it). */
export interface ServerNotice {
  readonly notified: boolean;
  /** `removed`, `unknown_client`, or why it was not told: `no_route`, `unreachable`, `bad_signature`, `http_503`... */
  readonly result: string;
  readonly route: RouteName | null;
  /** In words, one reason per route tried. */
  readonly detail: string;
}

type Try = { final: boolean; notice: ServerNotice };

function judgeReply(t: UnregisterTarget, status: number, json: unknown): Try {
  const err = parseErrorBody(json);
  const said = `answered HTTP ${status}${err ? ` (${err.code}: ${err.message})` : ''}`;
  if (status === 200 && (json as { removed?: unknown } | undefined)?.removed === true)
    return {
      final: true,
      notice: { notified: true, result: 'removed', route: t.name, detail: 'removed it' },
    };
  if (status === 404 && err?.code === 'unknown_client')
    return {
      final: true,
      notice: {
        notified: true,
        result: 'unknown_client',
        route: t.name,
        detail: 'had already forgotten it',
      },
    };
  const code = err?.code ?? `http_${status}`;
  // The same server answers on every route: a refusal of the request itself will not change on another.
  const final = status === 400 || status === 403 || status === 429;
  return { final, notice: { notified: false, result: code, route: t.name, detail: said } };
}

/** Sends the signed request on each target in turn until one gives a definite answer. */
export async function tellServer(input: {
  readonly reg: Registration;
  readonly key: SigningKey;
  readonly targets: readonly UnregisterTarget[];
  readonly transport: Transport;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  readonly now: () => number;
  readonly log: Logger;
}): Promise<ServerNotice> {
  if (input.targets.length === 0)
    return {
      notified: false,
      result: 'no_route',
      route: null,
      detail: 'no server or relay URL is configured or saved',
    };
  const reasons: string[] = [];
  let last: ServerNotice | undefined;
  for (const t of input.targets) {
    const body = signUnregister(input.key, input.reg.clientId, input.reg.serverId, input.now());
    let tried: Try;
    try {
      const reply = await input.transport.send('POST', t.url, body, {
        signal: input.signal,
        timeoutMs: input.timeoutMs,
      });
      tried = judgeReply(t, reply.status, reply.json);
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      tried = {
        final: false,
        notice: { notified: false, result: 'unreachable', route: t.name, detail: err.message },
      };
    }
    input.log.info('unregister.server', {
      route: t.name,
      url: t.url,
      result: tried.notice.result,
      detail: tried.notice.detail,
    });
    reasons.push(`${t.name === 'direct' ? 'server' : 'relay'}: ${tried.notice.detail}`);
    last = tried.notice;
    if (tried.notice.notified) return tried.notice;
    if (tried.final) break;
  }
  return { ...(last as ServerNotice), detail: reasons.join('; ') };
}
