/**
 * The lock that serialises runs on one state directory. Its content (pid,
 * the process's start time, the boot id, when it was taken) is complete
 * before the lock becomes visible: it is written to a temporary file that
 * is then hard-linked into place, which fails if a lock exists. A lock
 * that is empty or unreadable, from another boot (another boot id, or
 * taken before this boot's start: the boot time is recorded too, since
 * Windows has no boot id), older than its holder's deadline, or whose
 * process is gone (or is another process with a reused pid) is taken
 * over at once.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { uptime } from 'node:os';
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
  /** When this machine booted (ms since the epoch); null where unknown. */
  readonly bootTime: number | null;
  /** The holder's deadline in ms: it gives up by then, so an older lock is stale. */
  readonly deadlineMs: number | null;
  readonly takenAt: string;
}

/** How far two readings of the boot time may differ without a reboot between them (clock steps). */
const BOOT_TOLERANCE_MS = 60_000;

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

/** When this machine booted, in ms since the epoch (Linux: /proc/stat btime; elsewhere from the uptime). */
export function bootTime(now: number = Date.now()): number | null {
  const btime = /^btime (\d+)$/m.exec(readText('/proc/stat') ?? '');
  if (btime) return Number(btime[1]) * 1000;
  const up = uptime();
  return Number.isFinite(up) && up > 0 ? Math.round(now - up * 1000) : null;
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
    const num = (v: unknown): number | null =>
      typeof v === 'number' && Number.isFinite(v) ? v : null;
    if (Number.isInteger(o.pid) && (o.pid as number) > 0 && typeof o.takenAt === 'string')
      return {
        pid: o.pid as number,
        started: typeof o.started === 'string' ? o.started : null,
        boot: typeof o.boot === 'string' ? o.boot : null,
        bootTime: num(o.bootTime),
        deadlineMs: num(o.deadlineMs),
        takenAt: o.takenAt,
      };
  } catch {
    // an earlier version wrote the pid alone
  }
  const pid = Number(text);
  return Number.isInteger(pid) && pid > 0
    ? { pid, started: null, boot: null, bootTime: null, deadlineMs: null, takenAt: '' }
    : null;
}

/** What a lock is judged against: this boot, the time, the waiting run's own deadline. */
export interface LockJudge {
  readonly now: number;
  readonly bootTime: number | null;
  readonly deadlineMs: number | null;
  /** When the holder last touched the lock (its mtime): a holder at a prompt keeps it fresh. */
  readonly touchedMs?: number;
}

/** Why a lock's holder is gone, or null when it may still be working. */
export function staleReason(
  owner: LockOwner | null,
  judge: LockJudge = { now: Date.now(), bootTime: bootTime(), deadlineMs: null },
): string | null {
  if (!owner) return 'the lock file is empty or unreadable';
  const boot = bootId();
  if (owner.boot && boot && owner.boot !== boot) return 'it was taken before the last reboot';
  const takenAt = Date.parse(owner.takenAt);
  if (judge.bootTime !== null) {
    const booted = new Date(judge.bootTime).toISOString();
    if (owner.bootTime !== null && owner.bootTime < judge.bootTime - BOOT_TOLERANCE_MS)
      return `it was taken before the last reboot (its boot time ${new Date(owner.bootTime).toISOString()}, this boot ${booted})`;
    if (Number.isFinite(takenAt) && takenAt < judge.bootTime - BOOT_TOLERANCE_MS)
      return `it was taken at ${owner.takenAt}, before the last reboot (${booted})`;
  }
  const limit = owner.deadlineMs ?? judge.deadlineMs;
  const lastSign = Math.max(takenAt, judge.touchedMs ?? Number.NEGATIVE_INFINITY);
  if (limit !== null && Number.isFinite(lastSign) && judge.now - lastSign > limit)
    return `it was taken at ${owner.takenAt} and not touched for longer than its deadline (${Math.round(limit / 1000)} s)`;
  if (!isAlive(owner.pid)) return `process ${owner.pid} is gone`;
  const started = processStarted(owner.pid);
  if (owner.started && started && owner.started !== started)
    return `process ${owner.pid} is another process now (the pid was reused)`;
  return null;
}

export interface LockOptions {
  readonly signal: AbortSignal;
  /** The run's deadline: recorded in the lock, and a lock older than it is stale. */
  readonly deadlineMs?: number;
  readonly now?: () => number;
  readonly onWait?: (pid: number) => void;
  readonly onTakeOver?: (why: string) => void;
}

/**
 * Takes the lock, waiting while a live process holds it, until `signal`
 * aborts. Returns the release function; `onWait` hears of the holder once,
 * `onTakeOver` of each stale lock removed.
 */
export async function takeLock(file: string, opts: LockOptions): Promise<() => void> {
  const now = opts.now ?? Date.now;
  const booted = bootTime(now());
  const mine: LockOwner = {
    pid: process.pid,
    started: processStarted(process.pid),
    boot: bootId(),
    bootTime: booted,
    deadlineMs: opts.deadlineMs ?? null,
    takenAt: new Date(now()).toISOString(),
  };
  let told = false;
  for (;;) {
    const tmp = join(dirname(file), `.lock-${randomBytes(6).toString('hex')}`);
    try {
      writeFileSync(tmp, JSON.stringify(mine), { mode: 0o600, flag: 'wx' });
      linkSync(tmp, file);
      // A live holder touches its lock, so a wait at the prompt (which stops the deadline) keeps it.
      const every = Math.max(250, Math.min(15_000, (opts.deadlineMs ?? 60_000) / 4));
      const keep = setInterval(() => {
        try {
          utimesSync(file, new Date(), new Date());
        } catch {
          // released or removed: nothing to keep
        }
      }, every);
      keep.unref();
      return () => {
        clearInterval(keep);
        rmSync(file, { force: true });
      };
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
    const why = staleReason(owner, {
      now: now(),
      bootTime: booted,
      deadlineMs: opts.deadlineMs ?? null,
      touchedMs: seen.mtimeMs,
    });
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
