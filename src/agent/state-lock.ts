/**
 * The lock that serialises runs on one state directory. Its content (pid,
 * the process's start time, the boot id, when it was taken) is complete
 * before the lock becomes visible: it is written to a temporary file that
 * is then hard-linked into place, which fails if a lock exists. A lock
 * that is empty or unreadable, from another boot, or whose process is
 * gone (or is another process with a reused pid) is taken over at once.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../common/errors.ts';
import { isAlive } from '../common/process-alive.ts';
import { ioError } from './io-errors.ts';

export interface LockOwner {
  readonly pid: number;
  /** The process's start time as the OS counts it (Linux: clock ticks since boot); null where unknown. */
  readonly started: string | null;
  /** The boot id (Linux); null where unknown. */
  readonly boot: string | null;
  readonly takenAt: string;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** This machine's boot id, or null where the OS has none to read. */
export function bootId(): string | null {
  return readText('/proc/sys/kernel/random/boot_id');
}

/** A process's start time (Linux /proc/PID/stat field 22), or null where unknown. */
export function processStarted(pid: number): string | null {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return null;
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}

function parseOwner(text: string | null): LockOwner | null {
  if (!text) return null;
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (Number.isInteger(o.pid) && (o.pid as number) > 0 && typeof o.takenAt === 'string')
      return {
        pid: o.pid as number,
        started: typeof o.started === 'string' ? o.started : null,
        boot: typeof o.boot === 'string' ? o.boot : null,
        takenAt: o.takenAt,
      };
  } catch {
    // an earlier version wrote the pid alone
  }
  const pid = Number(text);
  return Number.isInteger(pid) && pid > 0 ? { pid, started: null, boot: null, takenAt: '' } : null;
}

/** Why a lock's holder is gone, or null when it may still be working. */
export function staleReason(owner: LockOwner | null): string | null {
  if (!owner) return 'the lock file is empty or unreadable';
  const boot = bootId();
  if (owner.boot && boot && owner.boot !== boot) return 'it was taken before the last reboot';
  if (!isAlive(owner.pid)) return `process ${owner.pid} is gone`;
  const started = processStarted(owner.pid);
  if (owner.started && started && owner.started !== started)
    return `process ${owner.pid} is another process now (the pid was reused)`;
  return null;
}

/**
 * Takes the lock, waiting while a live process holds it, until `signal`
 * aborts. Returns the release function; `onWait` hears of the holder once,
 * `onTakeOver` of each stale lock removed.
 */
export async function takeLock(
  file: string,
  opts: {
    signal: AbortSignal;
    onWait?: (pid: number) => void;
    onTakeOver?: (why: string) => void;
  },
): Promise<() => void> {
  const mine: LockOwner = {
    pid: process.pid,
    started: processStarted(process.pid),
    boot: bootId(),
    takenAt: new Date().toISOString(),
  };
  let told = false;
  for (;;) {
    const tmp = join(dirname(file), `.lock-${randomBytes(6).toString('hex')}`);
    try {
      writeFileSync(tmp, JSON.stringify(mine), { mode: 0o600, flag: 'wx' });
      linkSync(tmp, file);
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw ioError(err, `cannot take the lock ${file}`);
    } finally {
      rmSync(tmp, { force: true });
    }
    let seen: { ino: number; mtimeMs: number };
    try {
      const st = statSync(file);
      seen = { ino: st.ino, mtimeMs: st.mtimeMs };
    } catch {
      continue; // released meanwhile
    }
    const owner = parseOwner(readText(file));
    const why = staleReason(owner);
    if (why) {
      // Remove only the lock judged stale, not one another run has put there since.
      try {
        const now = statSync(file);
        if (now.ino === seen.ino && now.mtimeMs === seen.mtimeMs) {
          rmSync(file, { force: true });
          opts.onTakeOver?.(why);
        }
      } catch {
        // gone already
      }
      continue;
    }
    if (!told && owner) {
      told = true;
      opts.onWait?.(owner.pid);
    }
    try {
      await sleep(50, undefined, { signal: opts.signal });
    } catch {
      throw new UserError(
        'locked',
        `another client-bootstrap (pid ${owner?.pid ?? '?'}) held ${file} until the deadline`,
        { hint: 'it is still running; wait for it to finish' },
      );
    }
  }
}
