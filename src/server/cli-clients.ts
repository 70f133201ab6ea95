/** `bootstrap-server clients ...`: list the registered clients, remove one. */
import type { Argv } from 'yargs';
import { listClientsPage, removeClient } from './clients.ts';
import { table } from './cli-helpers.ts';
import type { CliGlobals, ServerCli } from './cli-helpers.ts';

/** Adds the `clients` command group to the command line. */
export function clientsCommands(y: Argv<CliGlobals>, cli: ServerCli): Argv<CliGlobals> {
  const { deps, out, withDir } = cli;
  return y
    .command(
      'list',
      'list registered clients, newest first (a page at a time: --limit, --offset)',
      (z) =>
        z
          .option('json', { type: 'boolean', default: false })
          .option('limit', {
            type: 'number',
            default: 1000,
            describe: 'at most this many clients (0: all of them)',
          })
          .option('offset', { type: 'number', default: 0, describe: 'skip this many first' }),
      (a) =>
        withDir(a, async (dd) => {
          const limit = a.limit > 0 ? Math.floor(a.limit) : -1;
          const offset = Math.max(0, Math.floor(a.offset));
          const { clients: rows, total } = await listClientsPage(dd, { limit, offset });
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
          // Never a silent cut: a partial list says what it shows (on stderr, so --json stays an array).
          if (rows.length < total)
            deps.stderr.write(
              rows.length === 0
                ? `showing none of ${total} clients: --offset ${offset} is past the end\n`
                : `showing ${offset + 1}-${offset + rows.length} of ${total} clients; --offset ${offset + rows.length} for the next page, --limit 0 for all\n`,
            );
        }),
    )
    .command(
      'remove <id>',
      'forget a registered client (its agent must register again to be managed)',
      (z) =>
        z
          .positional('id', { type: 'string', demandOption: true, describe: 'its clientId' })
          .option('json', { type: 'boolean', default: false }),
      (a) =>
        withDir(a, async (dd) => {
          const removed = await removeClient(dd, a.id, { via: 'cli' }, deps.now());
          out(
            a.json
              ? `${JSON.stringify({ removed: removed.clientId, hostname: removed.hostname }, null, 2)}\n`
              : `removed client ${removed.clientId} (${removed.hostname}, registered ${removed.registeredAt}); its agent must register again to be managed\n`,
          );
        }),
    )
    .demandCommand(1, 'name a clients command: list or remove');
}
