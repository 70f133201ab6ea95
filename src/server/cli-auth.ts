/** `bootstrap-server auth ...`: the mode, and the secrets with their limits. */
import type { Argv } from 'yargs';
import { addSecret, parseMode, removeSecret, setMode, showSettings } from './admin.ts';
import type { SecretLimits } from './admin.ts';
import { describeMode, readNewSecret, secretsTable } from './cli-helpers.ts';
import type { CliGlobals, ServerCli } from './cli-helpers.ts';
import { parseExpiry, parseMaxUses } from './secrets-expiry.ts';

const PROGRAM = 'bootstrap-server';

/** Adds the `auth` command group to the command line. */
export function authCommands(y: Argv<CliGlobals>, cli: ServerCli): Argv<CliGlobals> {
  const { deps, out, withDir } = cli;
  return y
    .command(
      'show',
      'show the mode, the server identity and the secrets',
      (z) => z.option('json', { type: 'boolean', default: false }),
      (a) =>
        withDir(a, async (dd) => {
          const s = await showSettings(dd, deps.now());
          if (a.json) return out(`${JSON.stringify(s, null, 2)}\n`);
          const active = s.secrets.filter((x) => x.state === 'active').length;
          out(
            `server id: ${s.serverId}\npin:       ${s.pin}\nmode:      ${s.mode} (${describeMode(s.mode)})\nclients:   ${s.clients.active} registered\nsecrets:   ${active} active of ${s.maxSecrets}${s.secrets.length > active ? ` (${s.secrets.length - active} expired or used up)` : ''}\n`,
          );
          if (s.warning) out(`WARNING:   ${s.warning}\n`);
          if (s.guessAlarm?.active)
            out(
              `ALARM:     ${s.guessAlarm.failedLastHour} failed guesses of the secret in an hour (threshold ${s.guessAlarm.threshold}), since ${s.guessAlarm.raisedAt}; see the audit\n`,
            );
          out(secretsTable(s.secrets));
        }),
    )
    .command(
      'mode <mode>',
      'set the mode: none, internet or all',
      (z) => z.positional('mode', { type: 'string', demandOption: true }),
      (a) =>
        withDir(
          a,
          async (dd) => {
            const mode = parseMode(a.mode);
            await setMode(dd, mode, { via: 'cli' }, deps.now());
            out(`mode: ${mode} (${describeMode(mode)})\n`);
            const warning = (await showSettings(dd, deps.now())).warning;
            if (warning) deps.stderr.write(`${PROGRAM}: warning: ${warning}\n`);
          },
          { create: true },
        ),
    )
    .command('secret', 'authorization secrets', (z) =>
      z
        .command(
          'add',
          'add a secret (typed at a prompt, piped on stdin, or --generate)',
          (w) =>
            w
              .option('label', { type: 'string', describe: 'a note for people, e.g. "SCCM 2026"' })
              .option('generate', {
                type: 'boolean',
                default: false,
                describe: 'generate a strong secret and print it once',
              })
              .option('allow-weak', {
                type: 'boolean',
                default: false,
                describe: 'accept a secret that breaks the password rule',
              })
              .option('expires', {
                type: 'string',
                describe:
                  'stop accepting it after a time (30d, 12h, 90m) or on a date (2027-01-31)',
              })
              .option('max-uses', {
                type: 'string',
                describe: 'stop accepting it after this many new clients registered with it',
              }),
          (a) =>
            withDir(
              a,
              async (dd) => {
                // Checked before the secret is read, so a typo costs nobody a retyped secret.
                const limits: SecretLimits = {
                  ...(a.expires === undefined
                    ? {}
                    : { expiresAt: parseExpiry(a.expires, deps.now()) }),
                  ...(a.maxUses === undefined ? {} : { maxUses: parseMaxUses(a.maxUses) }),
                };
                const secret = a.generate ? undefined : await readNewSecret(deps);
                const added = await addSecret(
                  dd,
                  {
                    ...(secret ? { secret } : {}),
                    label: a.label,
                    allowWeak: a.allowWeak,
                    limits,
                  },
                  { via: 'cli' },
                  deps.now(),
                );
                secret?.wipe();
                if (added.weak)
                  deps.stderr.write(
                    `${PROGRAM}: warning: a weak secret was accepted because of --allow-weak (audited)\n`,
                  );
                const until = [
                  added.expiresAt ? `until ${added.expiresAt}` : '',
                  added.maxUses === null ? '' : `for ${added.maxUses} new clients`,
                ]
                  .filter(Boolean)
                  .join(', ');
                out(
                  `added secret ${added.id}${added.label ? ` (${added.label})` : ''}${until ? `, accepted ${until}` : ''}\n`,
                );
                if (added.generated)
                  out(`secret: ${added.generated}\n(shown once; it is not stored)\n`);
              },
              { create: true },
            ),
        )
        .command(
          'list',
          'list the secrets (never the secrets themselves), with their limits and uses',
          (w) => w.option('json', { type: 'boolean', default: false }),
          (a) =>
            withDir(a, async (dd) => {
              const rows = await dd.store.secrets.list(deps.now().toISOString());
              out(a.json ? `${JSON.stringify(rows, null, 2)}\n` : secretsTable(rows));
            }),
        )
        .command(
          'remove <id>',
          'remove a secret (clients registered with it stay registered)',
          (w) => w.positional('id', { type: 'string', demandOption: true }),
          (a) =>
            withDir(a, async (dd) => {
              await removeSecret(dd, a.id, { via: 'cli' }, deps.now());
              out(
                `removed secret ${a.id}; command lines that carry it must be updated. Clients registered with it stay registered.\n`,
              );
            }),
        )
        .demandCommand(1, 'name a secret command: add, list or remove'),
    )
    .demandCommand(1, 'name an auth command: show, mode or secret');
}
