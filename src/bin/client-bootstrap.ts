#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

await yargs(hideBin(process.argv)).scriptName('client-bootstrap').strict().help().parseAsync();
