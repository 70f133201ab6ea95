#!/usr/bin/env node
import { createProcessDeps } from '../common/cli.ts';
import { runServerCli } from '../server/cli.ts';

process.exitCode = await runServerCli(process.argv.slice(2), createProcessDeps());
