#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

await yargs(hideBin(process.argv)).scriptName('bootstrap-server').strict().help().parseAsync();
