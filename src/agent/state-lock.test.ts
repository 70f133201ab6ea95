import { mkdtempSync, readFileSync, existsSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bootTime, staleReason, takeLock } from './state-lock.ts';
import type { LockOwner } from './state-lock.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('staleReason', () => {
  const now = Date.parse('2026-06-01T12:00:00Z');
  const booted = now - 3_600_000;
  const live: LockOwner = {
    pid: process.pid,
    started: null,
    boot: null,
    bootTime: booted,
    deadlineMs: 120_000,
    takenAt: new Date(now - 1000).toISOString(),
  };
  const judge = { now, bootTime: booted, deadlineMs: 30_000, touchedMs: now - 1000 };

  it.each([
    ['a live holder within its deadline', live, judge, null],
    [
      'a boot time before this boot',
      { ...live, bootTime: booted - 86_400_000 },
      judge,
      /before the last reboot \(its boot time/,
    ],
    [
      'a boot time a few seconds off (clock steps)',
      { ...live, bootTime: booted - 5000 },
      judge,
      null,
    ],
    [
      'taken before this boot (no boot time recorded)',
      { ...live, bootTime: null, takenAt: new Date(booted - 600_000).toISOString() },
      judge,
      /before the last reboot/,
    ],
    [
      'untouched for longer than its own deadline',
      { ...live, takenAt: new Date(now - 200_000).toISOString() },
      { ...judge, touchedMs: now - 200_000 },
      /not touched for longer than its deadline \(120 s\)/,
    ],
    [
      'taken long ago but touched lately',
      { ...live, takenAt: new Date(now - 200_000).toISOString() },
      judge,
      null,
    ],
    [
      "no deadline recorded: the waiting run's own",
      { ...live, deadlineMs: null, takenAt: new Date(now - 60_000).toISOString() },
      { ...judge, touchedMs: now - 60_000 },
      /\(30 s\)/,
    ],
  ])('%s', (_what, owner, j, want) => {
    const why = staleReason(owner, j);
    if (want === null) expect(why).toBeNull();
    else expect(why).toMatch(want);
  });
});

describe('takeLock', () => {
  it('records the boot time and deadline, keeps the lock touched while held, and removes it on release', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-lock-'));
    dirs.push(dir);
    const file = join(dir, 'lock');
    const release = await takeLock(file, {
      signal: new AbortController().signal,
      deadlineMs: 1000,
    });
    const owner = JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
    expect(owner).toMatchObject({ pid: process.pid, deadlineMs: 1000 });
    expect(Math.abs((owner.bootTime as number) - (bootTime() as number))).toBeLessThan(2000);
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(file, past, past);
    await vi.waitFor(() => expect(statSync(file).mtimeMs).toBeGreaterThan(past.getTime() + 1000), {
      timeout: 5000,
      interval: 50,
    });
    release();
    expect(existsSync(file)).toBe(false);
  });
});
