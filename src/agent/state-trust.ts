/**
 * The agent only trusts state that is its own: a state directory or file
 * that another user owns or can write, or a client key that others can
 * read, may have been planted or copied, so it is refused (exit 9) with
 * the path and what is wrong, never used or silently "fixed".
 */
import { lstatSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { UserError } from '../common/errors.ts';

export interface Ownership {
  /** The running user's id; undefined where the platform has none (Windows). */
  readonly uid: number | undefined;
}

export function currentOwnership(): Ownership {
  return { uid: typeof process.getuid === 'function' ? process.getuid() : undefined };
}

function statOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function refuse(path: string, what: string): never {
  throw new UserError('state_untrusted', `refusing ${path}: ${what}`, {
    hint: 'use a state directory of your own (--state-dir), or fix the owner and mode (directory 0700, files 0600)',
  });
}

const octal = (mode: number): string => (mode & 0o777).toString(8).padStart(4, '0');

/**
 * Checks the directory (when it exists) before it is used: a directory,
 * owned by the running user, not writable by group or others.
 */
export function checkStateDir(dir: string, who: Ownership): void {
  if (who.uid === undefined) return;
  const st = statOrNull(dir);
  if (!st) return;
  if (!st.isDirectory()) refuse(dir, 'it is not a directory');
  if (st.uid !== who.uid)
    refuse(dir, `it is owned by uid ${st.uid}, not by this user (uid ${who.uid})`);
  if (st.mode & 0o022) refuse(dir, `it is writable by other users (mode ${octal(st.mode)})`);
}

/**
 * Checks a state file (when it exists): a regular file (not a link),
 * owned by the running user, not writable by others, and, when `secret`,
 * not readable by others either.
 */
export function checkStateFile(path: string, who: Ownership, secret: boolean): void {
  if (who.uid === undefined) return;
  const st = statOrNull(path);
  if (!st) return;
  if (!st.isFile()) refuse(path, 'it is not a regular file');
  if (st.uid !== who.uid)
    refuse(path, `it is owned by uid ${st.uid}, not by this user (uid ${who.uid})`);
  const forbidden = secret ? 0o077 : 0o022;
  if (st.mode & forbidden)
    refuse(
      path,
      `it is ${secret ? 'readable' : 'writable'} by other users (mode ${octal(st.mode)})`,
    );
}
