import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Writes a file atomically: a temporary file in the same directory with the
 * final mode, flushed, then renamed over the target. A crash leaves either
 * the old file or the new one, never half of one.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  chmodSync(tmp, mode);
  renameWithRetry(tmp, path);
  fsyncDir(dirname(path));
}

/** The temporary files writeFileAtomic names: `.<12 hex>.tmp`. */
export const TEMP_FILE = /^\.[0-9a-f]{12}\.tmp$/;

/**
 * Removes temporary files that an interrupted writeFileAtomic left in
 * `dir` (only names of its own pattern); returns how many. Call it where
 * no other writer is active (under a lock).
 */
export function removeStaleTemps(dir: string): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!TEMP_FILE.test(name)) continue;
    try {
      rmSync(join(dir, name), { force: true });
      removed += 1;
    } catch {
      // another process's, or gone: leave it
    }
  }
  return removed;
}

/**
 * Renames, retrying a few times when Windows refuses with EPERM, EACCES or
 * EBUSY because a scanner (antivirus, indexer) holds the target open.
 */
export function renameWithRetry(from: string, to: string, attempts = 5): void {
  for (let i = 1; ; i++) {
    try {
      renameSync(from, to);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (
        process.platform !== 'win32' ||
        !['EPERM', 'EACCES', 'EBUSY'].includes(code) ||
        i >= attempts
      )
        throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20 * i);
    }
  }
}

/**
 * Flushes a directory's entries (a rename is durable only once its
 * directory is). Not possible on Windows, where NTFS journals it.
 */
export function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Creates a private directory (0700), tightening the mode if it exists. */
export function ensurePrivateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
}
