#!/usr/bin/env node
// No top-level await: this entry is also bundled as CommonJS for the single executable.
import { performance } from 'node:perf_hooks';
import { MAIN_MARK } from '../agent/timings.ts';
import { VERSION } from '../version.ts';
import { hideSensitiveArgs } from './process-title.ts';

// Where `main` begins for --json `timings` (processStartToMain is measured up to
// here). In the single executable, sea-main.ts set it first, and the first counts.
performance.mark(MAIN_MARK);

// Before anything else runs: ps must not show a --secret.
hideSensitiveArgs(process.argv.slice(2));

/**
 * Ctrl-C and SIGTERM stop the run through its deadline signal, so that the
 * lock is released and the outcome reported (130 or 143); a second signal,
 * or a run that does not unwind within 5 s, exits at once.
 */
function stopOnSignals(): AbortSignal {
  const interrupt = new AbortController();
  const on = (signal: 'SIGINT' | 'SIGTERM', code: number): void => {
    process.on(signal, () => {
      if (interrupt.signal.aborted) process.exit(code);
      interrupt.abort(signal);
      setTimeout(() => process.exit(code), 5000).unref();
    });
  };
  on('SIGINT', 130);
  on('SIGTERM', 143);
  return interrupt.signal;
}

async function main(argv: string[]): Promise<void> {
  // scrypt in the thread pool while the CLI and the network stack load (see
  // early-key.ts); help loads no crypto code.
  if (!argv.includes('--help') && !argv.includes('-h')) {
    const { startEarlyKey } = await import('../agent/early-key.ts');
    startEarlyKey(argv, process.env);
  }
  const interrupt = stopOnSignals();
  const { createAgentDeps } = await import('../agent/process-deps.ts');
  const { runAgentCli } = await import('../agent/cli.ts');
  const code = await runAgentCli(argv, { ...createAgentDeps(), interrupt });
  process.exitCode = code;
  // Exit once the output is flushed: a connect still pending on a blackholed
  // route must not hold the process until its own timeout.
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

const argv = process.argv.slice(2);
// The commonest probe of an installed agent answers without loading the CLI.
if (argv.length === 1 && argv[0] === '--version') process.stdout.write(`${VERSION}\n`);
else void main(argv);
