#!/usr/bin/env node
import { createProcessDeps } from '../common/cli.ts';
import { runRelayCli } from '../relay/cli.ts';

process.exitCode = await runRelayCli(process.argv.slice(2), createProcessDeps());
