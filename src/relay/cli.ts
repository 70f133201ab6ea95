/** The `bootstrap-relay` command line: `run(argv, deps) -> exit code`. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import type { CliDeps } from '../common/cli.ts';
import { runGuarded, usageFailure } from '../common/cli.ts';
import { UserError } from '../common/errors.ts';
import { parseListen } from '../common/http.ts';
import { LOG_LEVELS } from '../common/log.ts';
import type { LogLevel } from '../common/log.ts';
import { VERSION } from '../version.ts';
import { runRelay } from './main.ts';
import { ServerRegistry } from './registry.ts';

const PROGRAM = 'bootstrap-relay';

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
      await yargs(argv)
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
              .option('log-level', { choices: LOG_LEVELS, default: 'info' }),
          async (a) => {
            let listen;
            try {
              listen = parseListen(a.listen);
            } catch (err) {
              throw new UserError('usage', (err as Error).message);
            }
            if (!(a.maxQueued >= 1) || !(a.requestTimeout > 0))
              throw new UserError('usage', '--max-queued and --request-timeout must be positive');
            await runRelay({
              dataDir: a.dataDir,
              listen,
              logLevel: a.logLevel as LogLevel,
              limits: { maxItems: a.maxQueued },
              relay: { requestTimeoutMs: a.requestTimeout * 1000 },
              stdout: deps.stdout,
              stderr: deps.stderr,
            });
          },
        )
        .command(
          'add-server',
          'register a server and print its tunnel token once',
          (y) => y.option('server-id', { type: 'string', demandOption: true }),
          (a) => {
            const { token, replaced } = new ServerRegistry(a.dataDir).add(a.serverId, deps.now());
            deps.stdout.write(
              `${replaced ? 'replaced the token of' : 'added'} server ${a.serverId}.\n` +
                `Give this tunnel token to the server (bootstrap-server start --relay-token-file FILE); it is shown only once:\n${token}\n`,
            );
          },
        )
        .demandCommand(1, 'name a command (see --help)')
        .strict()
        .exitProcess(false)
        .fail(usageFailure)
        .help()
        .version(VERSION)
        .parseAsync();
      return 0;
    },
    (err) => (err.code === 'corrupt_registry' ? 3 : 2),
  );
}
