/**
 * Set-up file of every vitest test file: after the file's own hooks, stop
 * whatever it left running, undo what it changed and remove its temporary
 * root, whether it passed, failed, or failed halfway through its set-up.
 */
import { afterAll } from 'vitest';
import { cleanUpEverything } from './cleanup.ts';

afterAll(async () => {
  await cleanUpEverything();
}, 30_000);
