/** `bootstrap-server store migrate`: copy a SQLite data directory into PostgreSQL, once. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { UserError } from '../common/errors.ts';
import type { CliGlobals, ServerCli } from './cli-helpers.ts';
import { runningServerPid } from './pid-file.ts';

/** Adds the `store` command group to the command line. */
export function storeCommands(y: Argv<CliGlobals>, cli: ServerCli): Argv<CliGlobals> {
  const { out } = cli;
  return y
    .command(
      'migrate',
      "copy the data directory's SQLite database (identity, secrets, clients, audit, admin tokens) into the PostgreSQL store (--store), once",
      (z) => z,
      async (a) => {
        const url = (a as { store?: string }).store;
        if (!url)
          throw new UserError('usage', 'store migrate needs the PostgreSQL store: --store URL', {
            hint: 'or set BOOTSTRAP_SERVER_STORE',
          });
        const dbPath = join(a.dataDir, 'server.db');
        if (!existsSync(dbPath))
          throw new UserError('no_data_dir', `${a.dataDir} holds no server.db to copy`, {
            hint: 'check --data-dir',
          });
        const pid = runningServerPid(a.dataDir);
        if (pid !== null)
          throw new UserError(
            'server_running',
            `a server (pid ${pid}) is running on ${a.dataDir}: what it writes after the copy would be lost`,
            { hint: 'stop it, migrate, then start the instances with --store' },
          );
        const { PgStore } = await import('./store-pg.ts');
        const { copySqliteToPg } = await import('./store-migrate.ts');
        const pg = await PgStore.open(url);
        try {
          const n = await copySqliteToPg(dbPath, pg);
          out(
            `copied ${a.dataDir} into ${pg.location}: ${n.settings} settings, ${n.secrets} secrets, ${n.clients} clients, ${n.audit} audit rows, ${n.adminTokens} admin tokens\n` +
              'start the instances with --store (or BOOTSTRAP_SERVER_STORE); the SQLite directory is left as it was\n',
          );
        } finally {
          await pg.close();
        }
      },
    )
    .demandCommand(1, 'name a store command: migrate');
}
