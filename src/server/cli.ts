/** The `bootstrap-server` command line: `run(argv, deps) -> exit code`. */
import yargs from 'yargs';
import type { Argv } from 'yargs';
import type { CliDeps } from '../common/cli.ts';
import { runGuarded, usageFailure } from '../common/cli.ts';
import { UserError } from '../common/errors.ts';
import { clientConfig } from './clients.ts';
import { backupDataDir, restoreDataDir } from './backup.ts';
import { authCommands } from './cli-auth.ts';
import { clientsCommands } from './cli-clients.ts';
import { storeCommands } from './cli-store.ts';
import { startCommand } from './cli-start.ts';
import { DATA_DIR_CODES, openDataDir } from './data-dir.ts';
import { defaultServerDataDir, urlsFor } from './cli-helpers.ts';
import type { ServerCli } from './cli-helpers.ts';
import { VERSION } from '../version.ts';
import { mintAdminToken } from './admin-token.ts';
import { defaultSecretPath, formatInstallCommand, INSTALL_SHELLS } from './install-command.ts';
import type { InstallShell } from './install-command.ts';

function validHours(h: number): number {
  if (!Number.isFinite(h) || h <= 0 || h > 24 * 366)
    throw new UserError('usage', '--valid-hours must be more than 0 and at most a year');
  return h;
}

const PROGRAM = 'bootstrap-server';

export function runServerCli(argv: string[], deps: CliDeps): Promise<number> {
  return runGuarded(
    deps,
    PROGRAM,
    async () => {
      const out = (text: string): void => void deps.stdout.write(text);
      const withDir: ServerCli['withDir'] = async (a, fn, opts = {}) => {
        const dd = await openDataDir(a.dataDir, {
          ...(a.kdfLogN === undefined ? {} : { kdfLogN: a.kdfLogN }),
          ...(a.store ? { storeUrl: a.store } : {}),
          mustExist: opts.create !== true,
        });
        try {
          await fn(dd);
        } finally {
          await dd.store.close();
        }
      };
      const ctx: ServerCli = { deps, out, withDir };
      const globals = yargs(argv)
        .scriptName(PROGRAM)
        .usage('$0 <command> [options]\n\nThe registration server with Client Authorization.')
        .option('data-dir', {
          type: 'string',
          default: defaultServerDataDir(deps.env),
          describe: 'data directory (made by start, auth mode or auth secret add)',
        })
        .option('store', {
          type: 'string',
          default: deps.env.BOOTSTRAP_SERVER_STORE,
          defaultDescription: '$BOOTSTRAP_SERVER_STORE, else the SQLite file in --data-dir',
          describe:
            'postgres://USER@HOST:PORT/DB: keep the estate in PostgreSQL, shared by several instances (give the password in PGPASSWORD or ~/.pgpass, not in the URL)',
        })
        .option('kdf-log-n', {
          type: 'number',
          hidden: true,
          describe: 'scrypt cost as log2(N) for a new data directory (14..20)',
        });
      const cli: Argv = startCommand(globals, ctx)
        .command('auth', 'Client Authorization settings', (y) => authCommands(y, ctx))
        .command('store', 'the PostgreSQL store of several instances', (y) => storeCommands(y, ctx))
        .command('clients', 'registered clients', (y) => clientsCommands(y, ctx))
        .command(
          'admin-url',
          'print a sign-in link to the admin page with a new token (in the URL fragment, never sent to the server)',
          (y) =>
            y.option('valid-hours', {
              type: 'number',
              default: 12,
              describe: 'how long the link works',
            }),
          (a) =>
            withDir(a, async (dd) => {
              const url = await dd.store.getSetting('admin_url');
              if (!url)
                throw new UserError(
                  'not_started',
                  'the server has not been started yet, so the admin page has no address',
                  { hint: 'run bootstrap-server start first' },
                );
              const { token } = await mintAdminToken(dd.store, {
                label: 'admin-url',
                validMs: validHours(a.validHours) * 3_600_000,
                now: deps.now().getTime(),
              });
              out(`${url}/admin/#token=${token}\n`);
            }),
        )
        .command(
          'admin-token',
          'print a new bearer token for the admin API (only its hash is stored), or revoke them all',
          (y) =>
            y
              .option('label', {
                type: 'string',
                default: 'admin-token',
                describe: 'what it is for',
              })
              .option('valid-hours', {
                type: 'number',
                describe: 'how long it works (default: until revoked)',
              })
              .option('revoke-all', {
                type: 'boolean',
                default: false,
                describe: 'revoke every admin token and sign-in link',
              }),
          (a) =>
            withDir(a, async (dd) => {
              if (a.revokeAll) {
                out(`revoked ${await dd.store.revokeAdminTokens()} admin tokens\n`);
                return;
              }
              const { token, expiresAt } = await mintAdminToken(dd.store, {
                label: a.label.slice(0, 100),
                validMs: a.validHours === undefined ? null : validHours(a.validHours) * 3_600_000,
                now: deps.now().getTime(),
              });
              deps.stderr.write(
                `${PROGRAM}: a new admin token${expiresAt ? `, valid until ${expiresAt}` : ''}; it is shown once, only its hash is stored\n`,
              );
              out(`${token}\n`);
            }),
        )
        .command(
          'backup',
          'write an online, consistent copy of the database (it holds the server key: keep it like one)',
          (y) => y.option('to', { type: 'string', demandOption: true, describe: 'a new file' }),
          (a) =>
            withDir(a, async (dd) => {
              const { bytes } = await backupDataDir(dd, a.to);
              out(
                `backup of server ${dd.identity.serverId} (pin ${dd.identity.pin}) written to ${a.to} (${bytes} bytes)\n` +
                  "it holds the server identity and the secrets' PRS: keep it like a private key\n",
              );
            }),
        )
        .command(
          'restore',
          'put a backup in place of the database (the server must be stopped)',
          (y) =>
            y
              .option('from', { type: 'string', demandOption: true, describe: 'a backup file' })
              .option('force', {
                type: 'boolean',
                default: false,
                describe: 'replace the database even when it holds another server',
              }),
          (a) => {
            const r = restoreDataDir(a.dataDir, a.from, { force: a.force, now: deps.now() });
            out(
              `restored server ${r.serverId} (pin ${r.pin}) into ${a.dataDir}` +
                (r.keptAside ? `; the database it replaced is kept as ${r.keptAside}` : '') +
                '\n',
            );
          },
        )
        .command(
          'client-config',
          "print the agent's client-bootstrap.json",
          (y) => y.option('server-url', { type: 'string' }).option('relay-url', { type: 'string' }),
          (a) =>
            withDir(a, async (dd) => {
              out(`${JSON.stringify(clientConfig(dd, await urlsFor(dd, a)), null, 2)}\n`);
            }),
        )
        .command(
          'install-command',
          'print a ready silent-install command line',
          (y) =>
            y
              .option('server-url', { type: 'string' })
              .option('relay-url', { type: 'string' })
              .option('secret-path', {
                type: 'string',
                describe:
                  'where the installer puts the secret file (default /etc/client-bootstrap/secret; secret.txt for cmd and powershell)',
              })
              .option('shell', {
                choices: INSTALL_SHELLS,
                default: 'sh',
                describe: 'quote the command for this shell',
              }),
          (a) =>
            withDir(a, async (dd) => {
              const c = clientConfig(dd, await urlsFor(dd, a));
              out(
                formatInstallCommand(
                  {
                    ...(c.server ? { server: c.server } : {}),
                    ...(c.relay ? { relay: c.relay } : {}),
                    serverId: c.serverId as string,
                    serverPin: c.serverPin as string,
                    secretPath: a.secretPath ?? defaultSecretPath(a.shell as InstallShell),
                  },
                  a.shell as InstallShell,
                ),
              );
            }),
        )
        .demandCommand(1, 'name a command (see --help)')
        .strict()
        .exitProcess(false)
        .fail(usageFailure)
        .help()
        .version(VERSION)
        .locale('en');
      await cli.parseAsync();
      return 0;
    },
    (err) => (DATA_DIR_CODES.has(err.code) ? EXIT_DATA_DIR : 2),
  );
}

/** Exit code when the data directory is damaged or has lost its identity. */
export const EXIT_DATA_DIR = 3;
