import { join } from 'node:path';
import { ensurePrivateDir } from '../common/files.ts';
import { createLogger } from '../common/log.ts';
import type { LogLevel } from '../common/log.ts';
import { listenOrExplain, untilSignal } from '../common/serve.ts';
import { DEFAULT_RELAY_OPTIONS, createRelayApp } from './app.ts';
import type { RelayOptions } from './app.ts';
import { RelayQueues } from './queue.ts';
import type { QueueLimits } from './queue.ts';
import { ServerRegistry } from './registry.ts';
import type { RelayRegistry } from './registry.ts';
import type { Fleet } from './fleet.ts';
import { sourceBehind } from '../common/forwarded.ts';
import { createRelayMetrics } from './metrics.ts';
import type { BlockList } from 'node:net';

export const DEFAULT_LIMITS: QueueLimits = {
  maxItems: 20_000,
  maxBytes: 64 * 1024 * 1024,
  maxPerServer: 5_000,
};

const UNKNOWN_SERVER_REPLY = {
  status: 404,
  body: JSON.stringify({
    error: { code: 'unknown_server', message: 'this relay does not know that server id' },
  }),
};

export interface RelayStartOptions {
  readonly dataDir: string;
  readonly listen: { host: string; port: number };
  readonly logLevel: LogLevel;
  readonly limits?: Partial<QueueLimits>;
  readonly relay?: Partial<RelayOptions>;
  /** Fleet mode: the NATS servers joining this instance to the others. */
  readonly nats?: string[];
  /** Load balancers whose X-Forwarded-For names the client. */
  readonly trustProxy?: BlockList;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** Runs the relay until SIGINT/SIGTERM. */
export async function runRelay(opts: RelayStartOptions): Promise<void> {
  ensurePrivateDir(opts.dataDir);
  const log = createLogger({
    component: 'relay',
    level: opts.logLevel,
    file: join(opts.dataDir, 'relay.log'),
    console: opts.stderr,
    consoleLevel: 'warn',
  });
  const queues = new RelayQueues({ ...DEFAULT_LIMITS, ...opts.limits }, Date.now);
  const options = { ...DEFAULT_RELAY_OPTIONS, ...opts.relay };
  let registry: RelayRegistry;
  let fleet: Fleet | undefined;
  if (opts.nats) {
    const { Fleet } = await import('./fleet.ts');
    const { FleetRegistry } = await import('./fleet-registry.ts');
    opts.stdout.write(`joining the fleet through NATS at ${opts.nats.join(', ')}\n`);
    fleet = await Fleet.join(opts.nats, {
      queues,
      log,
      requestTimeoutMs: options.requestTimeoutMs,
      onlineGraceMs: options.onlineGraceMs,
    });
    const shared = await FleetRegistry.open(fleet.connection, log);
    log.info('relay.fleet_joined', { instance: fleet.instanceId, servers: shared.size });
    registry = shared;
  } else {
    const file = new ServerRegistry(opts.dataDir);
    file.load();
    registry = file;
  }
  const app = createRelayApp({
    registry,
    queues,
    log,
    options,
    ...(fleet ? { fleet } : {}),
    metrics: createRelayMetrics({ queues, fleet }),
    ...(opts.trustProxy ? { sourceOf: sourceBehind(opts.trustProxy) } : {}),
  });
  // A server removed from the registry (here or on another instance) loses its tunnel at once.
  const sweep = setInterval(() => {
    const gone = queues.evict((id) => registry.has(id), UNKNOWN_SERVER_REPLY);
    for (const serverId of gone) log.warn('tunnel.evicted', { serverId, reason: 'removed' });
  }, 2_000);
  sweep.unref();
  let listening;
  try {
    listening = await listenOrExplain(
      app,
      opts.listen,
      undefined,
      'clients and tunnels (--listen)',
    );
  } catch (err) {
    clearInterval(sweep);
    await fleet?.close();
    await log.close();
    throw err;
  }
  log.info('relay.listening', { url: listening.url, instance: fleet?.instanceId });
  opts.stdout.write(
    `listening on ${listening.url}${fleet ? ` (fleet instance ${fleet.instanceId})` : ''}\n`,
  );
  const signal = await untilSignal();
  log.info('relay.stopping', { signal });
  clearInterval(sweep);
  await listening.close(2_000);
  await fleet?.close();
  await log.close();
}
