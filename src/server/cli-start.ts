/** `bootstrap-server start`: its options, checked, and the server run with them. */
import type { Argv } from 'yargs';
import { UserError } from '../common/errors.ts';
import { parseListen } from '../common/http.ts';
import { parseTrustedProxies } from '../common/forwarded.ts';
import { LOG_LEVELS } from '../common/log.ts';
import type { LogLevel } from '../common/log.ts';
import type { CliGlobals, ServerCli } from './cli-helpers.ts';
import { DEFAULT_GUESS_ALARM, runServer } from './main.ts';
import { DEFAULT_LIMITS } from './rate-limit.ts';
import { DEFAULT_AUDIT_RETENTION } from './store-rows.ts';

/** The global options `start` reads besides CliGlobals. */
type StartGlobals = CliGlobals & { store: string | undefined };

export function startCommand<T extends StartGlobals>(y: Argv<T>, cli: ServerCli): Argv<T> {
  const { deps } = cli;
  return y.command(
    'start',
    'run the server',
    (z) =>
      z
        .option('listen', {
          type: 'string',
          default: '0.0.0.0:8443',
          describe: 'HOST:PORT for clients',
        })
        .option('admin-listen', {
          type: 'string',
          default: '127.0.0.1:0',
          describe: 'HOST:PORT for the admin API (loopback by default)',
        })
        .option('relay', { type: 'string', describe: 'relay URL to keep a tunnel to' })
        .option('relay-token-file', {
          type: 'string',
          describe: 'file holding the tunnel token from bootstrap-relay add-server',
        })
        .option('intranet', {
          type: 'string',
          describe: 'intranet CIDR ranges, comma-separated (default: loopback and private ranges)',
        })
        .option('tls-cert', { type: 'string', describe: 'PEM certificate for HTTPS' })
        .option('tls-key', { type: 'string', describe: 'PEM private key for HTTPS' })
        .option('admin-host', {
          type: 'string',
          describe:
            'host names the admin listener answers to, comma-separated (besides its own address)',
        })
        .option('guess-limit', {
          type: 'number',
          default: DEFAULT_LIMITS.threshold,
          describe: 'guesses of the secret one source may make in 10 minutes',
        })
        .option('guess-alarm', {
          type: 'number',
          default: DEFAULT_GUESS_ALARM,
          describe: 'failed guesses per hour, over all sources, that raise the alarm',
        })
        .option('audit-max-rows', {
          type: 'number',
          default: DEFAULT_AUDIT_RETENTION.maxRows,
          describe: 'audit rows kept (the oldest go first)',
        })
        .option('audit-max-days', {
          type: 'number',
          default: DEFAULT_AUDIT_RETENTION.maxAgeDays,
          describe: 'days audit rows are kept',
        })
        .option('handshake-ttl', {
          type: 'number',
          hidden: true,
          describe: 'seconds a handshake stays open between M2 and M3 (tests)',
        })
        .option('max-handshakes', {
          type: 'number',
          hidden: true,
          describe: 'open handshakes held at once, over all sources',
        })
        .option('trust-proxy', {
          type: 'string',
          describe:
            'load balancers (addresses or CIDR ranges) whose X-Forwarded-For names the client, so the guess limits count clients, not the balancer [env BOOTSTRAP_SERVER_TRUST_PROXY]',
        })
        .option('workers', {
          type: 'number',
          defaultDescription: 'one per core',
          describe:
            'threads that compute the handshakes (0: on the main thread); the main thread stays free for the network and the store',
        })
        .option('log-level', { choices: LOG_LEVELS, default: 'info' }),
    async (a) => {
      if (!!a.tlsCert !== !!a.tlsKey)
        throw new UserError('usage', '--tls-cert and --tls-key go together');
      const listenAt = (v: string) => {
        try {
          return parseListen(v);
        } catch (err) {
          throw new UserError('usage', (err as Error).message);
        }
      };
      const positive = (name: string, v: number, min: number): number => {
        if (!Number.isInteger(v) || v < min)
          throw new UserError('usage', `--${name} must be a whole number of at least ${min}`);
        return v;
      };
      if (
        a.workers !== undefined &&
        (!Number.isInteger(a.workers) || a.workers < 0 || a.workers > 256)
      )
        throw new UserError('usage', '--workers must be a whole number from 0 to 256');
      const trust = a.trustProxy ?? deps.env.BOOTSTRAP_SERVER_TRUST_PROXY;
      await runServer({
        dataDir: a.dataDir,
        ...(a.store ? { store: a.store } : {}),
        ...(a.workers === undefined ? {} : { workers: a.workers }),
        ...(trust ? { trustProxy: parseTrustedProxies(trust) } : {}),
        ...(a.adminHost
          ? {
              adminHosts: a.adminHost
                .split(',')
                .map((h) => h.trim())
                .filter(Boolean),
            }
          : {}),
        limits: { threshold: positive('guess-limit', a.guessLimit, 1) },
        guessAlarm: positive('guess-alarm', a.guessAlarm, 1),
        auditRetention: {
          maxRows: positive('audit-max-rows', a.auditMaxRows, 100),
          maxAgeDays: positive('audit-max-days', a.auditMaxDays, 1),
        },
        ...(a.handshakeTtl === undefined
          ? {}
          : { handshakeTtlMs: positive('handshake-ttl', a.handshakeTtl, 1) * 1000 }),
        ...(a.maxHandshakes === undefined
          ? {}
          : { maxHandshakes: positive('max-handshakes', a.maxHandshakes, 1) }),
        listen: listenAt(a.listen),
        adminListen: listenAt(a.adminListen),
        ...(a.relay ? { relayUrl: a.relay } : {}),
        ...(a.relayTokenFile ? { relayTokenFile: a.relayTokenFile } : {}),
        ...(a.intranet ? { intranet: a.intranet.split(',').filter((s) => s.trim()) } : {}),
        ...(a.tlsCert && a.tlsKey ? { tls: { certFile: a.tlsCert, keyFile: a.tlsKey } } : {}),
        logLevel: a.logLevel as LogLevel,
        ...(a.kdfLogN === undefined ? {} : { kdfLogN: a.kdfLogN }),
        stdout: deps.stdout,
        stderr: deps.stderr,
      });
    },
  );
}
