#!/usr/bin/env node
// No top-level await: this entry is also bundled as CommonJS for the single executable.
import { performance } from 'node:perf_hooks';
import { MAIN_MARK } from '../agent/timings.ts';
import { VERSION } from '../version.ts';

// Where `main` begins for --json `timings` (processStartToMain is measured up to here).
performance.mark(MAIN_MARK);

// Scrub --secret from the process title before anything else runs, so that
// /proc/PID/cmdline and ps no longer show it.
if (process.argv.some((a) => a === '--secret' || a.startsWith('--secret=')))
  process.title = 'client-bootstrap';

async function main(argv: string[]): Promise<void> {
  const { createAgentDeps } = await import('../agent/process-deps.ts');
  const { runAgentCli } = await import('../agent/cli.ts');
  const code = await runAgentCli(argv, createAgentDeps());
  process.exitCode = code;
  // Exit once the output is flushed: a connect still pending on a blackholed
  // route must not hold the process until its own timeout.
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

const argv = process.argv.slice(2);
// The commonest probe of an installed agent answers without loading the CLI.
if (argv.length === 1 && argv[0] === '--version') process.stdout.write(`${VERSION}\n`);
else void main(argv);
