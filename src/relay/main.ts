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

export const DEFAULT_LIMITS: QueueLimits = { maxItems: 20_000, maxBytes: 64 * 1024 * 1024 };

export interface RelayStartOptions {
  readonly dataDir: string;
  readonly listen: { host: string; port: number };
  readonly logLevel: LogLevel;
  readonly limits?: Partial<QueueLimits>;
  readonly relay?: Partial<RelayOptions>;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** Runs the relay until SIGINT/SIGTERM. */
export async function runRelay(opts: RelayStartOptions): Promise<void> {
  ensurePrivateDir(opts.dataDir);
  const registry = new ServerRegistry(opts.dataDir);
  registry.load();
  const log = createLogger({
    component: 'relay',
    level: opts.logLevel,
    file: join(opts.dataDir, 'relay.log'),
    console: opts.stderr,
    consoleLevel: 'warn',
  });
  const queues = new RelayQueues({ ...DEFAULT_LIMITS, ...opts.limits }, Date.now);
  const app = createRelayApp({
    registry,
    queues,
    log,
    options: { ...DEFAULT_RELAY_OPTIONS, ...opts.relay },
  });
  let listening;
  try {
    listening = await listenOrExplain(
      app,
      opts.listen,
      undefined,
      'clients and tunnels (--listen)',
    );
  } catch (err) {
    await log.close();
    throw err;
  }
  log.info('relay.listening', { url: listening.url });
  opts.stdout.write(`listening on ${listening.url}\n`);
  const signal = await untilSignal();
  log.info('relay.stopping', { signal });
  await listening.close(2_000);
  await log.close();
}
