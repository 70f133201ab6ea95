/** The `bootstrap-server` command line: `run(argv, deps) -> exit code`. */
import yargs from 'yargs';
import type { Argv } from 'yargs';
import type { CliDeps } from '../common/cli.ts';
import { runGuarded, usageFailure } from '../common/cli.ts';
import { UserError } from '../common/errors.ts';
import { parseListen } from '../common/http.ts';
import { LOG_LEVELS } from '../common/log.ts';
import type { LogLevel } from '../common/log.ts';
import {
  addSecret,
  clientConfig,
  listClients,
  parseMode,
  removeSecret,
  setMode,
  showSettings,
} from './admin.ts';
import { openDataDir } from './data-dir.ts';
import type { DataDir } from './data-dir.ts';
import {
  defaultServerDataDir,
  describeMode,
  readNewSecret,
  secretsTable,
  table,
  urlsFor,
} from './cli-helpers.ts';
import { defaultSecretPath, formatInstallCommand, INSTALL_SHELLS } from './install-command.ts';
import type { InstallShell } from './install-command.ts';
import { runServer } from './main.ts';

const PROGRAM = 'bootstrap-server';

interface Common {
  dataDir: string;
  kdfLogN?: number;
  json?: boolean;
}

export function runServerCli(argv: string[], deps: CliDeps): Promise<number> {
  return runGuarded(deps, PROGRAM, async () => {
    const out = (text: string): void => void deps.stdout.write(text);
    const open = (a: Common): DataDir =>
      openDataDir(a.dataDir, a.kdfLogN === undefined ? {} : { kdfLogN: a.kdfLogN });
    const withDir = async (a: Common, fn: (dd: DataDir) => Promise<void> | void): Promise<void> => {
      const dd = open(a);
      try {
        await fn(dd);
      } finally {
        dd.store.close();
      }
    };
    const cli: Argv = yargs(argv)
      .scriptName(PROGRAM)
      .usage('$0 <command> [options]\n\nThe registration server with Client Authorization.')
      .option('data-dir', {
        type: 'string',
        default: defaultServerDataDir(deps.env),
        describe: 'data directory (created on first use)',
      })
      .option('kdf-log-n', {
        type: 'number',
        hidden: true,
        describe: 'scrypt cost as log2(N) for a new data directory (14..20)',
      })
      .command(
        'start',
        'run the server',
        (y) =>
          y
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
              describe:
                'intranet CIDR ranges, comma-separated (default: loopback and private ranges)',
            })
            .option('tls-cert', { type: 'string', describe: 'PEM certificate for HTTPS' })
            .option('tls-key', { type: 'string', describe: 'PEM private key for HTTPS' })
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
          await runServer({
            dataDir: a.dataDir,
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
      )
      .command('auth', 'Client Authorization settings', (y) =>
        y
          .command(
            'show',
            'show the mode, the server identity and the secrets',
            (z) => z.option('json', { type: 'boolean', default: false }),
            (a) =>
              withDir(a, (dd) => {
                const s = showSettings(dd);
                if (a.json) return out(`${JSON.stringify(s, null, 2)}\n`);
                out(
                  `server id: ${s.serverId}\npin:       ${s.pin}\nmode:      ${s.mode} (${describeMode(s.mode)})\nclients:   ${s.clients.active} registered\nsecrets:   ${s.secrets.length} of ${s.maxSecrets}\n`,
                );
                out(secretsTable(s.secrets));
              }),
          )
          .command(
            'mode <mode>',
            'set the mode: none, internet or all',
            (z) => z.positional('mode', { type: 'string', demandOption: true }),
            (a) =>
              withDir(a, (dd) => {
                const mode = parseMode(a.mode);
                setMode(dd, mode, { via: 'cli' }, deps.now());
                out(`mode: ${mode} (${describeMode(mode)})\n`);
              }),
          )
          .command('secret', 'authorization secrets', (z) =>
            z
              .command(
                'add',
                'add a secret (typed at a prompt, piped on stdin, or --generate)',
                (w) =>
                  w
                    .option('label', {
                      type: 'string',
                      describe: 'a note for people, e.g. "SCCM 2026"',
                    })
                    .option('generate', {
                      type: 'boolean',
                      default: false,
                      describe: 'generate a strong secret and print it once',
                    })
                    .option('allow-weak', {
                      type: 'boolean',
                      default: false,
                      describe: 'accept a secret that breaks the password rule',
                    }),
                (a) =>
                  withDir(a, async (dd) => {
                    const secret = a.generate ? undefined : await readNewSecret(deps);
                    const added = await addSecret(
                      dd,
                      { ...(secret ? { secret } : {}), label: a.label, allowWeak: a.allowWeak },
                      { via: 'cli' },
                      deps.now(),
                    );
                    secret?.wipe();
                    if (added.weak)
                      deps.stderr.write(
                        `${PROGRAM}: warning: a weak secret was accepted because of --allow-weak (audited)\n`,
                      );
                    out(`added secret ${added.id}${added.label ? ` (${added.label})` : ''}\n`);
                    if (added.generated)
                      out(`secret: ${added.generated}\n(shown once; it is not stored)\n`);
                  }),
              )
              .command(
                'list',
                'list the active secrets (never the secrets themselves)',
                (w) => w.option('json', { type: 'boolean', default: false }),
                (a) =>
                  withDir(a, (dd) => {
                    const rows = dd.store.listSecrets();
                    out(a.json ? `${JSON.stringify(rows, null, 2)}\n` : secretsTable(rows));
                  }),
              )
              .command(
                'remove <id>',
                'remove a secret (clients registered with it stay registered)',
                (w) => w.positional('id', { type: 'string', demandOption: true }),
                (a) =>
                  withDir(a, (dd) => {
                    removeSecret(dd, a.id, { via: 'cli' }, deps.now());
                    out(
                      `removed secret ${a.id}; command lines that carry it must be updated. Clients registered with it stay registered.\n`,
                    );
                  }),
              )
              .demandCommand(1, 'name a secret command: add, list or remove'),
          )
          .demandCommand(1, 'name an auth command: show, mode or secret'),
      )
      .command('clients', 'registered clients', (y) =>
        y
          .command(
            'list',
            'list registered clients',
            (z) => z.option('json', { type: 'boolean', default: false }),
            (a) =>
              withDir(a, (dd) => {
                const rows = listClients(dd);
                out(
                  a.json
                    ? `${JSON.stringify(rows, null, 2)}\n`
                    : table(rows as unknown as Record<string, unknown>[], [
                        'clientId',
                        'hostname',
                        'route',
                        'seenAs',
                        'secretId',
                        'registeredAt',
                        'supersededBy',
                      ]),
                );
              }),
          )
          .demandCommand(1, 'name a clients command: list'),
      )
      .command(
        'admin-url',
        'print a sign-in link to the admin page (the token is in the URL fragment, never sent to the server)',
        (y) => y,
        (a) =>
          withDir(a, (dd) => {
            const url = dd.store.getSetting('admin_url');
            if (!url)
              throw new UserError(
                'not_started',
                'the server has not been started yet, so the admin page has no address',
                { hint: 'run bootstrap-server start first' },
              );
            out(`${url}/admin/#token=${dd.adminToken}\n`);
          }),
      )
      .command(
        'client-config',
        "print the agent's client-bootstrap.json",
        (y) => y.option('server-url', { type: 'string' }).option('relay-url', { type: 'string' }),
        (a) =>
          withDir(a, (dd) => {
            out(`${JSON.stringify(clientConfig(dd, urlsFor(dd, a)), null, 2)}\n`);
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
          withDir(a, (dd) => {
            const c = clientConfig(dd, urlsFor(dd, a));
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
      .version(false);
    await cli.parseAsync();
    return 0;
  });
}
