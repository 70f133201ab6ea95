#!/usr/bin/env node
import { createProcessDeps } from '../common/cli.ts';
import { runServerCli } from '../server/cli.ts';

// A --store URL that carries a password is scrubbed from the process title
// at once, so that /proc/PID/cmdline and ps no longer show it (PGPASSWORD
// or ~/.pgpass keep it off the command line altogether).
const withPassword = (url: string | undefined): boolean =>
  /^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(url ?? '');
if (
  process.argv.some(
    (a, i, all) =>
      (a.startsWith('--store=') && withPassword(a.slice(8))) ||
      (a === '--store' && withPassword(all[i + 1])),
  )
)
  process.title = 'bootstrap-server';

process.exitCode = await runServerCli(process.argv.slice(2), createProcessDeps());
