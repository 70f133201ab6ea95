/**
 * The relay's own health for the load balancer and Prometheus:
 * `GET /healthz` (the process answers), `GET /readyz` (ready for traffic:
 * the registry is read and, in fleet mode, NATS is connected) and
 * `GET /metrics` (Prometheus text format, via prom-client).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { sendJson } from '../common/http.ts';
import type { Fleet } from './fleet.ts';
import type { RelayQueues } from './queue.ts';
import type { RelayRegistry } from './registry.ts';

export interface RelayMetrics {
  readonly registry: Registry;
  /** Client requests by where they were held: `local` or carried through the `fleet`. */
  readonly requests: Counter<'path'>;
  /** Replies returned to clients, by HTTP status. */
  readonly replies: Counter<'status'>;
}

interface OpsState {
  readonly registry: RelayRegistry;
  readonly queues: RelayQueues;
  readonly fleet: Fleet | undefined;
  readonly metrics: RelayMetrics | undefined;
}

/** A metrics registry of its own (not prom-client's global one), with the gauges read when scraped. */
export function createRelayMetrics(state: Omit<OpsState, 'metrics' | 'registry'>): RelayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const { queues, fleet } = state;
  new Gauge({
    name: 'relay_requests_in_flight',
    help: 'client requests held by this instance (queued or handed to a server)',
    registers: [registry],
    collect() {
      this.set(queues.held.items);
    },
  });
  new Gauge({
    name: 'relay_tunnels_held',
    help: 'servers with a tunnel poll waiting at this instance',
    registers: [registry],
    collect() {
      this.set(queues.tunnels);
    },
  });
  if (fleet) {
    new Gauge({
      name: 'relay_nats_connected',
      help: '1 while this instance is connected to NATS',
      registers: [registry],
      collect() {
        this.set(fleet.connected ? 1 : 0);
      },
    });
    new Gauge({
      name: 'relay_nats_rtt_seconds',
      help: 'last measured NATS round trip',
      registers: [registry],
      collect() {
        if (fleet.rttMs !== null) this.set(fleet.rttMs / 1000);
      },
    });
    new Gauge({
      name: 'relay_fleet_held_for_peers_total',
      help: 'requests this instance held for other instances',
      registers: [registry],
      collect() {
        this.set(fleet.counters.heldForPeers);
      },
    });
  }
  return {
    registry,
    requests: new Counter({
      name: 'relay_client_requests_total',
      help: 'client requests by where they were held (local, or fleet: carried over NATS)',
      labelNames: ['path'],
      registers: [registry],
    }),
    replies: new Counter({
      name: 'relay_client_replies_total',
      help: 'answers relayed to clients, by HTTP status',
      labelNames: ['status'],
      registers: [registry],
    }),
  };
}

/** Answers /healthz, /readyz and /metrics; null for any other path. */
export function serveOps(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  state: OpsState,
): Promise<void> | null {
  if (req.method !== 'GET') return null;
  const mode = state.fleet ? 'fleet' : 'single';
  const nats = state.fleet ? (state.fleet.connected ? 'connected' : 'disconnected') : undefined;
  if (path === '/healthz') {
    sendJson(res, 200, {
      status: state.fleet && !state.fleet.connected ? 'degraded' : 'ok',
      mode,
      ...(state.fleet ? { instance: state.fleet.instanceId, nats } : {}),
      tunnelsHeld: state.queues.tunnels,
      tunnelsActive: state.queues.activeTunnels(2_000),
      inFlight: state.queues.held.items,
    });
    return Promise.resolve();
  }
  if (path === '/readyz') {
    const ready = state.registry.ready && (!state.fleet || state.fleet.connected);
    sendJson(res, ready ? 200 : 503, {
      ready,
      mode,
      ...(nats ? { nats } : {}),
      registry: state.registry.ready ? 'loaded' : 'loading',
    });
    return Promise.resolve();
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
