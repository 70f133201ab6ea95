/** `bootstrap-server start`: listens, keeps the relay tunnel, shuts down cleanly. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { UserError } from '../common/errors.ts';
import { createLogger } from '../common/log.ts';
import type { LogLevel } from '../common/log.ts';
import { listen, untilSignal } from '../common/serve.ts';
import { HandshakeTable } from '../protocol/index.ts';
import { createAdminApp, createRegistrationApp } from './app.ts';
import { DEFAULT_INTRANET, parseIntranet } from './classify.ts';
import { openDataDir } from './data-dir.ts';
import { FailureLimiter } from './rate-limit.ts';
import type { LimiterOptions } from './rate-limit.ts';
import { createRegistrationService } from './registration.ts';
import { runTunnel } from './tunnel.ts';

export interface ServerStartOptions {
  readonly dataDir: string;
  readonly listen: { host: string; port: number };
  readonly adminListen: { host: string; port: number };
  readonly relayUrl?: string;
  readonly relayTokenFile?: string;
  readonly intranet?: readonly string[];
  readonly tls?: { certFile: string; keyFile: string };
  readonly logLevel: LogLevel;
  readonly kdfLogN?: number;
  readonly maxHandshakes?: number;
  readonly limits?: Partial<LimiterOptions>;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

function readFileOr(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UserError(
      'unreadable_file',
      `cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      { cause: err },
    );
  }
}

/** Runs the server until SIGINT/SIGTERM. */
export async function runServer(opts: ServerStartOptions): Promise<void> {
  const intranet = parseIntranet(opts.intranet ?? DEFAULT_INTRANET);
  const tls = opts.tls
    ? {
        cert: readFileOr(opts.tls.certFile, 'TLS certificate'),
        key: readFileOr(opts.tls.keyFile, 'TLS key'),
      }
    : undefined;
  const token = opts.relayTokenFile
    ? readFileOr(opts.relayTokenFile, 'relay token file').toString('utf8').trim()
    : undefined;
  if (opts.relayUrl && !token)
    throw new UserError('usage', '--relay needs --relay-token-file', {
      hint: 'bootstrap-relay add-server prints the token',
    });
  if (opts.relayUrl) {
    try {
      new URL(opts.relayUrl);
    } catch {
      throw new UserError('usage', `--relay ${JSON.stringify(opts.relayUrl)} is not a URL`);
    }
  }
  const dd = openDataDir(opts.dataDir, opts.kdfLogN === undefined ? {} : { kdfLogN: opts.kdfLogN });
  const log = createLogger({
    component: 'server',
    level: opts.logLevel,
    file: join(opts.dataDir, 'server.log'),
    console: opts.stderr,
    consoleLevel: 'info',
  });
  const service = createRegistrationService({
    dd,
    intranet,
    now: Date.now,
    log,
    table: new HandshakeTable(opts.maxHandshakes ?? 10_000),
    limiter: new FailureLimiter(opts.limits),
  });
  let serverUrl = '';
  const deps = {
    dd,
    service,
    log,
    now: Date.now,
    urls: () => ({ serverUrl, ...(opts.relayUrl ? { relayUrl: opts.relayUrl } : {}) }),
  };
  const main = await listen(createRegistrationApp(deps), opts.listen, tls);
  // The admin listener uses the same certificate: a new secret typed on the page then never crosses the network in clear.
  const admin = await listen(createAdminApp(deps), opts.adminListen, tls);
  serverUrl = main.url;
  dd.store.setSetting('server_url', main.url);
  dd.store.setSetting('admin_url', admin.url);
  if (opts.relayUrl) dd.store.setSetting('relay_url', opts.relayUrl);
  log.info('server.listening', {
    url: main.url,
    admin: admin.url,
    serverId: dd.identity.serverId,
    pin: dd.identity.pin,
  });
  opts.stdout.write(`listening on ${main.url}\nadmin on ${admin.url}\n`);

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
        })
      : Promise.resolve();

  const signal = await untilSignal();
  log.info('server.stopping', { signal });
  stop.abort();
  await Promise.all([main.close(), admin.close(), tunnel]);
  await dispatcher.close();
  dd.store.close();
  await log.close();
}
