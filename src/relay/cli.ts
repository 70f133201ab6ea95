/** The `bootstrap-relay` command line: `run(argv, deps) -> exit code`. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import type { CliDeps } from '../common/cli.ts';
import { joinDashValues, runGuarded, usageFailure } from '../common/cli.ts';
import { UserError } from '../common/errors.ts';
import { parseListen } from '../common/http.ts';
import { LOG_LEVELS } from '../common/log.ts';
import type { LogLevel } from '../common/log.ts';
import { VERSION } from '../version.ts';
import { runRelay } from './main.ts';
import { ServerRegistry } from './registry.ts';
import { addFleetServer, removeFleetServer } from './fleet-registry.ts';
import { parseTrustedProxies } from '../common/forwarded.ts';
import type { NatsConnection } from 'nats';

const PROGRAM = 'bootstrap-relay';
/** The options that take a value, which may start with "-" (an older server id). */
const RELAY_VALUE_OPTIONS: ReadonlySet<string> = new Set([
  'server-id',
  'data-dir',
  'listen',
  'trust-proxy',
  'nats',
  'log-level',
  'max-queued',
  'request-timeout',
  'max-per-server',
]);

const natsOption = {
  type: 'string',
  describe:
    'fleet mode: NATS server URLs, comma-separated (nats://host:4222) [env BOOTSTRAP_RELAY_NATS]',
} as const;

/** The NATS servers of fleet mode, from the flag or the environment; undefined when alone. */
function natsUrls(flag: string | undefined, env: CliDeps['env']): string[] | undefined {
  const text = flag ?? env.BOOTSTRAP_RELAY_NATS;
  if (text === undefined || text.trim() === '') return undefined;
  const urls = text
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  for (const u of urls) {
    let ok = false;
    try {
      const p = new URL(u.includes('://') ? u : `nats://${u}`);
      ok = ['nats:', 'tls:', 'ws:', 'wss:'].includes(p.protocol) && p.hostname !== '';
    } catch {
      ok = false;
    }
    if (!ok)
      throw new UserError('usage', `--nats: ${JSON.stringify(u)} is not a NATS URL`, {
        hint: 'e.g. --nats nats://10.0.0.7:4222,nats://10.0.0.8:4222',
      });
  }
  return urls;
}

/** Runs an admin command against NATS, failing clearly (not waiting forever) when it is down. */
async function withNats<T>(
  servers: string[],
  body: (nc: NatsConnection) => Promise<T>,
): Promise<T> {
  const { connect } = await import('nats');
  let nc: NatsConnection;
  try {
    nc = await connect({ servers, timeout: 5_000, name: 'bootstrap-relay admin' });
  } catch (err) {
    throw new UserError(
      'nats_unavailable',
      `cannot reach NATS at ${servers.join(', ')}: ${(err as Error).message}`,
      {
        hint: 'check --nats and that nats-server runs with JetStream (-js)',
      },
    );
  }
  try {
    return await body(nc);
  } finally {
    await nc.drain().catch(() => undefined);
  }
}

function defaultRelayDataDir(env: CliDeps['env']): string {
  if (process.platform === 'win32')
    return join(env.ProgramData ?? 'C:\\ProgramData', 'BootstrapRelay');
  if (process.getuid?.() === 0) return '/var/lib/bootstrap-relay';
  return join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'bootstrap-relay');
}

/** Runs the relay CLI; never throws. */
export function runRelayCli(argv: string[], deps: CliDeps): Promise<number> {
  return runGuarded(
    deps,
    PROGRAM,
    async () => {
      await yargs(joinDashValues(argv, RELAY_VALUE_OPTIONS))
        .scriptName(PROGRAM)
        .usage(
          '$0 <command> [options]\n\nThe cloud relay: forwards internet clients to servers through the tunnels they open.',
        )
        .option('data-dir', { type: 'string', default: defaultRelayDataDir(deps.env) })
        .command(
          'start',
          'run the relay',
          (y) =>
            y
              .option('listen', { type: 'string', default: '0.0.0.0:8080', describe: 'HOST:PORT' })
              .option('max-queued', {
                type: 'number',
                default: 20_000,
                describe: 'requests held at once before answering 503',
              })
              .option('request-timeout', {
                type: 'number',
                default: 30,
                describe: 'seconds a client waits for its server before 504',
              })
              .option('max-per-server', {
                type: 'number',
                default: 5_000,
                describe: 'requests held at once for one server before answering it 503',
              })
              .option('trust-proxy', {
                type: 'string',
                describe:
                  'load balancers (addresses or CIDR ranges) whose X-Forwarded-For names the client [env BOOTSTRAP_RELAY_TRUST_PROXY]',
              })
              .option('nats', natsOption)
              .option('log-level', { choices: LOG_LEVELS, default: 'info' }),
          async (a) => {
            let listen;
            try {
              listen = parseListen(a.listen);
            } catch (err) {
              throw new UserError('usage', (err as Error).message);
            }
            if (!(a.maxQueued >= 1) || !(a.requestTimeout > 0) || !(a.maxPerServer >= 1))
              throw new UserError(
                'usage',
                '--max-queued, --max-per-server and --request-timeout must be positive',
              );
            const nats = natsUrls(a.nats, deps.env);
            const trust = a.trustProxy ?? deps.env.BOOTSTRAP_RELAY_TRUST_PROXY;
            await runRelay({
              dataDir: a.dataDir,
              listen,
              logLevel: a.logLevel as LogLevel,
              ...(nats ? { nats } : {}),
              ...(trust ? { trustProxy: parseTrustedProxies(trust) } : {}),
              limits: { maxItems: a.maxQueued, maxPerServer: a.maxPerServer },
              relay: { requestTimeoutMs: a.requestTimeout * 1000 },
              stdout: deps.stdout,
              stderr: deps.stderr,
            });
          },
        )
        .command(
          'add-server',
          'register a server and print its tunnel token once',
          (y) =>
            y
              .option('server-id', { type: 'string', demandOption: true })
              .option('nats', natsOption),
          async (a) => {
            const nats = natsUrls(a.nats, deps.env);
            const { token, replaced } = nats
              ? await withNats(nats, (nc) => addFleetServer(nc, a.serverId, deps.now()))
              : new ServerRegistry(a.dataDir).add(a.serverId, deps.now());
            deps.stdout.write(
              `${replaced ? 'replaced the token of' : 'added'} server ${a.serverId}.\n` +
                `Give this tunnel token to the server (bootstrap-server start --relay-token-file FILE); it is shown only once:\n${token}\n`,
            );
          },
        )
        .command(
          'remove-server',
          'forget a server: its tunnel and its clients are refused from then on',
          (y) =>
            y
              .option('server-id', { type: 'string', demandOption: true })
              .option('nats', natsOption),
          async (a) => {
            const nats = natsUrls(a.nats, deps.env);
            const removed = nats
              ? await withNats(nats, (nc) => removeFleetServer(nc, a.serverId))
              : new ServerRegistry(a.dataDir).remove(a.serverId);
            if (!removed)
              throw new UserError(
                'unknown_server',
                `the relay does not know server ${a.serverId}`,
                {
                  hint: nats
                    ? 'check the server id and the NATS URL'
                    : 'check the server id and --data-dir',
                },
              );
            deps.stdout.write(`removed server ${a.serverId}\n`);
          },
        )
        .demandCommand(1, 'name a command (see --help)')
        .strict()
        .exitProcess(false)
        .fail(usageFailure)
        .help()
        .version(VERSION)
        .locale('en')
        .parseAsync();
      return 0;
    },
    (err) => (err.code === 'corrupt_registry' ? 3 : err.code === 'nats_unavailable' ? 5 : 2),
  );
}
