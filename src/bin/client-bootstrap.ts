#!/usr/bin/env node
// Scrub --secret from the process title before anything else runs, so that
// /proc/PID/cmdline and ps no longer show it.
if (process.argv.some((a) => a === '--secret' || a.startsWith('--secret=')))
  process.title = 'client-bootstrap';

const { createAgentDeps } = await import('../agent/process-deps.ts');
const { runAgentCli } = await import('../agent/cli.ts');
process.exitCode = await runAgentCli(process.argv.slice(2), createAgentDeps());
