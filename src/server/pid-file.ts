/**
 * `server.pid` in the data directory while a server runs there, so that a
 * restore (or a second server) can tell. A file whose process is gone is
 * stale and ignored.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.ts';
import { isAlive } from '../common/process-alive.ts';

const NAME = 'server.pid';

/** The pid of a live server on `dir`, or null. */
export function runningServerPid(dir: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, NAME), 'utf8').trim());
  } catch {
    return null;
  }
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid) ? pid : null;
}

/** Claims the directory for this server; refuses when another live server holds it. */
export function claimDataDir(dir: string): () => void {
  const other = runningServerPid(dir);
  if (other !== null)
    throw new UserError('usage', `another server (pid ${other}) is running on ${dir}`, {
      hint: 'stop it, or give this one its own --data-dir',
    });
  writeFileSync(join(dir, NAME), `${process.pid}\n`, { mode: 0o600 });
  return () => rmSync(join(dir, NAME), { force: true });
}
