/**
 * The server's own health for load balancers and Prometheus:
 * `GET /healthz` (the process answers), `GET /readyz` (ready for traffic:
 * the store answers) and `GET /metrics` (Prometheus text, via prom-client):
 * requests and refusals by reason, registrations, handshake and store latency.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { sendJson } from '../common/http.ts';
import type { SecretsApi, ServerStore } from './store-api.ts';

export interface ServerMetrics {
  readonly registry: Registry;
  /** Registration requests by kind and outcome ('ok' or the refusal's code). */
  readonly requests: Counter<'kind' | 'outcome'>;
  /** Time to answer a request, by kind. */
  readonly latency: Histogram<'kind'>;
  /** Time of each store call, by method. */
  readonly store: Histogram<'method'>;
}

/** A metrics registry of the server's own (not prom-client's global one). */
export function createServerMetrics(opts: {
  instance: string;
  storeKind: string;
  threads: number;
  openHandshakes?: () => number;
}): ServerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ instance_id: opts.instance });
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'bootstrap_server_info',
    help: 'the store this instance uses and the threads of its handshake pool',
    labelNames: ['store', 'threads'],
    registers: [registry],
    collect() {
      this.set({ store: opts.storeKind, threads: String(opts.threads) }, 1);
    },
  });
  const open = opts.openHandshakes;
  if (open)
    new Gauge({
      name: 'bootstrap_server_open_handshakes',
      help: 'handshakes between M2 and M3 held by this instance',
      registers: [registry],
      collect() {
        this.set(open());
      },
    });
  return {
    registry,
    requests: new Counter({
      name: 'bootstrap_server_requests_total',
      help: 'registration requests by kind (hello, start, finish, unregister) and outcome (ok, or the refusal code)',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'bootstrap_server_request_seconds',
      help: 'time to answer a registration request, by kind',
      labelNames: ['kind'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    store: new Histogram({
      name: 'bootstrap_server_store_seconds',
      help: 'time of each call to the store, by method',
      labelNames: ['method'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
  };
}

/** The store, with the time of every call recorded (the same object for every other purpose). */
export function timedStore(store: ServerStore, metrics: ServerMetrics): ServerStore {
  const time = <T extends object>(target: T, prefix: string): T =>
    new Proxy(target, {
      get(t, name, receiver) {
        const value = Reflect.get(t, name, receiver) as unknown;
        if (typeof value !== 'function' || typeof name !== 'string') return value;
        return async (...args: unknown[]) => {
          const started = performance.now();
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(t, args);
          } finally {
            metrics.store.observe({ method: prefix + name }, (performance.now() - started) / 1000);
          }
        };
      },
    });
  const secrets: SecretsApi = time(store.secrets, 'secrets.');
  return new Proxy(time(store, ''), {
    get(t, name, receiver) {
      return name === 'secrets' ? secrets : (Reflect.get(t, name, receiver) as unknown);
    },
  });
}

/** Readiness: whether the store answered lately (one check at a time, at most every second). */
export function createReadiness(store: ServerStore, now: () => number) {
  let last: { at: number; ready: boolean; reason?: string } = { at: -Infinity, ready: false };
  let running: Promise<void> | null = null;
  return async (): Promise<{ ready: boolean; reason?: string }> => {
    if (now() - last.at >= 1_000) {
      running ??= store
        .ping()
        .then(
          () => void (last = { at: now(), ready: true }),
          (err: unknown) =>
            void (last = { at: now(), ready: false, reason: (err as Error).message }),
        )
        .finally(() => {
          running = null;
        });
      await running;
    }
    return last.ready ? { ready: true } : { ready: false, reason: last.reason ?? 'not checked' };
  };
}

/** Answers /healthz, /readyz and (with metrics) /metrics; null for any other path. */
export function serveServerOps(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  state: {
    readonly store: ServerStore;
    readonly readiness: () => Promise<{ ready: boolean; reason?: string }>;
    readonly metrics?: ServerMetrics;
    /** Whether to say why it is not ready (the store's location): only where administrators look. */
    readonly detail?: boolean;
  },
): Promise<void> | null {
  if (req.method !== 'GET') return null;
  if (path === '/healthz') {
    sendJson(res, 200, { status: 'ok', store: state.store.kind });
    return Promise.resolve();
  }
  if (path === '/readyz') {
    return state.readiness().then((r) =>
      sendJson(
        res,
        r.ready ? 200 : 503,
        {
          ready: r.ready,
          store: state.store.kind,
          ...(r.ready ? {} : { reason: state.detail ? r.reason : 'the store does not answer' }),
        },
        r.ready ? {} : { 'retry-after': '5' },
      ),
    );
  }
  if (path === '/metrics' && state.metrics) {
    const registry = state.metrics.registry;
    return registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
      res.end(text);
    });
  }
  return null;
}
