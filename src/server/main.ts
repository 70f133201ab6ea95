/** `bootstrap-server start`: listens, keeps the relay tunnel, shuts down cleanly. */
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo, BlockList } from 'node:net';
import { sourceBehind } from '../common/forwarded.ts';
import { Agent } from 'undici';
import { UserError } from '../common/errors.ts';
import { createLogger } from '../common/log.ts';
import type { LogLevel } from '../common/log.ts';
import { listenOrExplain, untilSignal } from '../common/serve.ts';
import type { Listening } from '../common/serve.ts';
import { createAdminApp } from './admin-app.ts';
import { createRegistrationApp } from './app.ts';
import { DEFAULT_INTRANET, parseIntranet } from './classify.ts';
import { openDataDir, readMode } from './data-dir.ts';
import { claimDataDir } from './pid-file.ts';
import type { GuessLimits } from './rate-limit.ts';
import { createRegistrationService } from './registration.ts';
import { createReadiness, createServerMetrics, timedStore } from './ops.ts';
import type { RegistrationState } from './state-api.ts';
import { MemoryState } from './state-memory.ts';
import { defaultThreads, inlineCrypto, pooledCrypto } from './handshake-crypto.ts';
import type { HandshakeSteps } from './handshake-crypto.ts';
import type { DataDir } from './data-dir.ts';
import { DEFAULT_AUDIT_RETENTION } from './store-rows.ts';
import type { AuditRetention } from './store-rows.ts';
import { runTunnel } from './tunnel.ts';
import type { TunnelState } from './tunnel.ts';
import { showSettings } from './admin.ts';
import { hostsOf, readStartFiles } from './start-inputs.ts';

/**
 * Failed guesses per hour over all sources that raise the alarm. Ten
 * sources at their limit of 10 per 10 minutes make 600 an hour; 100
 * means a distributed attack shows within minutes while the odd
 * mistyped secret of a busy estate does not.
 */
export const DEFAULT_GUESS_ALARM = 100;

export interface ServerStartOptions {
  readonly dataDir: string;
  /** A PostgreSQL URL shared by several instances; else the SQLite file in dataDir. */
  readonly store?: string;
  /** Threads of the handshake pool (0: on the event loop; default: one per core). */
  readonly workers?: number;
  /** Load balancers whose X-Forwarded-For names the client. */
  readonly trustProxy?: BlockList;
  readonly listen: { host: string; port: number };
  readonly adminListen: { host: string; port: number };
  readonly relayUrl?: string;
  readonly relayTokenFile?: string;
  readonly intranet?: readonly string[];
  readonly tls?: { certFile: string; keyFile: string };
  readonly logLevel: LogLevel;
  readonly kdfLogN?: number;
  readonly maxHandshakes?: number;
  readonly limits?: Partial<GuessLimits>;
  readonly guessAlarm?: number;
  readonly handshakeTtlMs?: number;
  readonly auditRetention?: AuditRetention;
  /** Host names the admin listener answers to, besides its own address. */
  readonly adminHosts?: readonly string[];
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** Runs the server until SIGINT/SIGTERM. */
export async function runServer(opts: ServerStartOptions): Promise<void> {
  const intranet = parseIntranet(opts.intranet ?? DEFAULT_INTRANET);
  const { tls, token } = readStartFiles(opts);
  const opened = await openDataDir(opts.dataDir, {
    ...(opts.kdfLogN === undefined ? {} : { kdfLogN: opts.kdfLogN }),
    ...(opts.store ? { storeUrl: opts.store, instance: true } : {}),
  });
  let release: () => void;
  try {
    const problems = await opened.store.quickCheck();
    if (problems.length > 0)
      throw new UserError(
        'data_damaged',
        `the database ${opened.store.location} is damaged: ${problems.join('; ')}`,
        { hint: 'restore it from a backup: bootstrap-server restore --data-dir DIR --from FILE' },
      );
    release = claimDataDir(opts.dataDir);
  } catch (err) {
    await opened.store.close();
    throw err;
  }
  const log = createLogger({
    component: 'server',
    level: opts.logLevel,
    file: join(opts.dataDir, 'server.log'),
    console: opts.stderr,
    consoleLevel: 'info',
  });
  const threads = opts.workers ?? defaultThreads();
  const memory =
    opened.store.kind === 'postgres'
      ? null
      : new MemoryState({
          ...(opts.limits ? { limits: opts.limits } : {}),
          maxHandshakes: opts.maxHandshakes ?? 10_000,
          alarmThreshold: opts.guessAlarm ?? DEFAULT_GUESS_ALARM,
        });
  const metrics = createServerMetrics({
    instance: `${hostname()}:${process.pid}`,
    storeKind: opened.store.kind,
    threads,
    ...(memory ? { openHandshakes: () => memory.size } : {}),
  });
  const dd: DataDir = { ...opened, store: timedStore(opened.store, metrics) };
  let state: RegistrationState;
  let steps: (HandshakeSteps & { close?: () => Promise<void> }) | undefined;
  try {
    await dd.store.setAuditRetention(opts.auditRetention ?? DEFAULT_AUDIT_RETENTION, Date.now());
    state = memory ?? (await sharedState(opened, opts));
    if (threads > 0) {
      const pool = pooledCrypto(dd.identity, { threads });
      steps = pool;
      // A worker that cannot load fails the start, not the first registration.
      await pool.ping();
    } else steps = inlineCrypto(dd.identity);
  } catch (err) {
    await steps?.close?.();
    release();
    await opened.store.close();
    await log.close();
    throw err;
  }
  const service = createRegistrationService({
    dd,
    intranet,
    now: Date.now,
    log,
    state,
    steps,
    alarmThreshold: opts.guessAlarm ?? DEFAULT_GUESS_ALARM,
    observe: ({ kind, outcome, seconds }) => {
      metrics.requests.inc({ kind, outcome });
      metrics.latency.observe({ kind }, seconds);
    },
    ...(opts.handshakeTtlMs === undefined ? {} : { handshakeTtlMs: opts.handshakeTtlMs }),
  });
  const pool = steps;
  const readiness = createReadiness(dd.store, Date.now);
  let serverUrl = '';
  let adminHosts: ReadonlySet<string> = new Set();
  let tunnelState: TunnelState = opts.relayUrl
    ? { state: 'connecting' }
    : { state: 'not-configured' };
  const deps = {
    dd,
    service,
    log,
    now: Date.now,
    urls: () => ({ serverUrl, ...(opts.relayUrl ? { relayUrl: opts.relayUrl } : {}) }),
    adminHosts: () => adminHosts,
    tunnel: () => tunnelState,
    ops: { readiness, metrics },
    ...(opts.trustProxy ? { sourceOf: sourceBehind(opts.trustProxy) } : {}),
  };
  const closeAll = async (listening: Listening[]): Promise<void> => {
    await Promise.all(listening.map((l) => l.close(0)));
    await pool.close?.();
    await state.close();
    release();
    await dd.store.close();
    await log.close();
  };
  let main: Listening;
  let admin: Listening;
  try {
    main = await listenOrExplain(
      createRegistrationApp(deps),
      opts.listen,
      tls,
      'clients (--listen)',
    );
  } catch (err) {
    await closeAll([]);
    throw err;
  }
  try {
    // The admin listener uses the same certificate: a new secret typed on the page then never crosses the network in clear.
    admin = await listenOrExplain(
      createAdminApp(deps),
      opts.adminListen,
      tls,
      'the admin API (--admin-listen)',
    );
  } catch (err) {
    await closeAll([main]);
    throw err;
  }
  adminHosts = hostsOf(admin.server.address() as AddressInfo, opts.adminHosts ?? []);
  const sweeper = setInterval(() => {
    service.sweep().catch((err: unknown) => log.warn('server.sweep_failed', { err }));
  }, 1_000);
  sweeper.unref();
  serverUrl = main.url;
  try {
    // With several instances these name the last one started: what install-command prints by default.
    await dd.store.setSetting('server_url', main.url);
    await dd.store.setSetting('admin_url', admin.url);
    if (opts.relayUrl) await dd.store.setSetting('relay_url', opts.relayUrl);
  } catch (err) {
    clearInterval(sweeper);
    await closeAll([main, admin]);
    throw err;
  }
  log.info('server.listening', {
    url: main.url,
    admin: admin.url,
    serverId: dd.identity.serverId,
    pin: dd.identity.pin,
  });
  opts.stdout.write(`listening on ${main.url}\nadmin on ${admin.url}\n`);
  const warning = (await showSettings(dd)).warning;
  if (warning) {
    log.warn('server.no_active_secret', { mode: await readMode(dd.store) });
    opts.stderr.write(`bootstrap-server: warning: ${warning}\n`);
  }

  const stop = new AbortController();
  const dispatcher = new Agent({ connections: 16, keepAliveTimeout: 30_000 });
  const tunnel =
    opts.relayUrl && token
      ? runTunnel({
          relayUrl: opts.relayUrl,
          serverId: dd.identity.serverId,
          token,
          handle: service.handle,
          log,
          dispatcher,
          signal: stop.signal,
          onState: (state) => {
            tunnelState = state;
            if (state.state === 'refused')
              opts.stderr.write(
                `bootstrap-server: warning: ${state.reason}; internet clients cannot reach this server through ${opts.relayUrl ?? 'the relay'} (they get 503)\n` +
                  '  check --relay-token-file: it must hold the token bootstrap-relay add-server printed for this server id\n',
              );
          },
        })
      : Promise.resolve();

  const signal = await untilSignal();
  log.info('server.stopping', { signal });
  clearInterval(sweeper);
  stop.abort();
  await Promise.all([main.close(), admin.close(), tunnel]);
  await dispatcher.close();
  await pool.close?.();
  await state.close();
  release();
  await dd.store.close();
  await log.close();
}

/** The registration state the instances on one PostgreSQL store share. */
async function sharedState(dd: DataDir, opts: ServerStartOptions): Promise<RegistrationState> {
  const { PgRegistrationState } = await import('./state-pg.ts');
  const { PgStore } = await import('./store-pg.ts');
  if (!(dd.store instanceof PgStore)) throw new Error('a shared state needs the PostgreSQL store');
  return new PgRegistrationState(dd.store, {
    limits: opts.limits ?? {},
    maxHandshakes: opts.maxHandshakes ?? 10_000,
  });
}
