/**
 * State that heals itself, tried with real processes: locks left by a
 * crash, a reboot or a full disk are taken over at once; a full disk is
 * named (exit 8, retryable) and leaves nothing behind; temporary files of
 * an interrupted write are removed at the next start.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootId, bootTime, processStarted } from '../src/agent/state-lock.ts';
import { runAgent } from './support/agent.ts';
import { stopChild, trackChild } from './support/cleanup.ts';
import { startServer, tempDir } from './support/procs.ts';
import type { ServerHandle } from './support/procs.ts';

const SECRET = 'State-Fault-Secret-1';
let server: ServerHandle;
let secretFile: string;

beforeAll(async () => {
  server = await startServer();
  expect((await server.cli(['auth', 'secret', 'add'], `${SECRET}\n`)).code).toBe(0);
  secretFile = join(tempDir(), 'secret');
  writeFileSync(secretFile, SECRET, { mode: 0o600 });
});
afterAll(() => server?.proc.stop());

function agent(stateDir: string, deadline = '30') {
  return runAgent([
    '--server',
    server.url,
    `--server-pin=${server.pin}`,
    '--secret-file',
    secretFile,
    '--state-dir',
    stateDir,
    '--deadline',
    deadline,
  ]);
}

function stateDirWithLock(content: string): string {
  const dir = join(tempDir(), 'state');
  mkdirSync(dir, { mode: 0o700 });
  writeFileSync(join(dir, 'lock'), content, { mode: 0o600 });
  return dir;
}

/** A pid that no process has now. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.pid)']);
  return Number(r.stdout.toString().trim());
}

describe('a lock left behind is taken over at once', () => {
  it.each([
    ['empty (a crash, or a full disk, between create and write)', () => '', /empty or unreadable/],
    ['holding a pid that is gone', () => String(deadPid()), /is gone/],
    [
      'taken before the last reboot',
      () => JSON.stringify({ pid: process.pid, started: null, boot: 'another-boot', takenAt: 'x' }),
      /before the last reboot/,
    ],
    [
      'whose pid now belongs to another process',
      () => JSON.stringify({ pid: process.pid, started: '1', boot: bootId(), takenAt: 'x' }),
      /pid was reused/,
    ],
  ])('a lock %s', async (_what, content, why) => {
    const dir = stateDirWithLock(content());
    // A deadline that a wait for the lock would run out: the run must not wait.
    const r = await agent(dir, '8');
    expect(r.json, r.stderr).toMatchObject({ ok: true, code: 'registered' });
    expect(r.stderr).toMatch(why);
    expect(existsSync(join(dir, 'lock'))).toBe(false);
  });

  describe('holding the pid of a live, unrelated process', () => {
    const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
    trackChild(sleeper);
    afterAll(() => stopChild(sleeper, 'SIGKILL'));
    const pid = sleeper.pid as number;

    it.each([
      [
        'with a boot time before this boot (Windows has no boot id: the time decides)',
        () => ({
          pid,
          started: null,
          boot: null,
          bootTime: (bootTime() as number) - 86_400_000,
          deadlineMs: 120_000,
          takenAt: new Date().toISOString(),
        }),
        /it was taken before the last reboot \(its boot time /,
      ],
      [
        'taken (by an older version) at a time before this boot',
        () => ({
          pid,
          started: null,
          boot: null,
          takenAt: new Date((bootTime() as number) - 3_600_000).toISOString(),
        }),
        /before the last reboot/,
      ],
      [
        'taken, and last touched, longer ago than its deadline',
        () => ({
          pid,
          started: processStarted(pid),
          boot: bootId(),
          bootTime: bootTime(),
          deadlineMs: 120_000,
          takenAt: new Date(Date.now() - 600_000).toISOString(),
        }),
        /not touched for longer than its deadline \(120 s\)/,
      ],
    ])('a lock %s is taken over at once, with a warning', async (_what, content, why) => {
      const owner = content();
      const dir = stateDirWithLock(JSON.stringify(owner));
      const taken = new Date(owner.takenAt);
      utimesSync(join(dir, 'lock'), taken, taken);
      const r = await agent(dir, '8');
      expect(r.json, r.stderr).toMatchObject({ ok: true, code: 'registered' });
      expect(r.stderr).toMatch(/warning: took over a stale lock: /);
      expect(r.stderr).toMatch(why);
      expect(existsSync(join(dir, 'lock'))).toBe(false);
    });
  });

  it('a lock held by a live run is waited for (exit 9 at the deadline, naming the holder)', async () => {
    const dir = stateDirWithLock(
      JSON.stringify({
        pid: process.pid,
        started: processStarted(process.pid),
        boot: bootId(),
        bootTime: bootTime(),
        deadlineMs: 120_000,
        takenAt: new Date().toISOString(),
      }),
    );
    const r = await agent(dir, '2');
    expect(r.code).toBe(9);
    expect(r.json).toMatchObject({ code: 'locked' });
    expect(String(r.json.message)).toContain(`pid ${process.pid}`);
  });
});

describe('a lock its live holder keeps touching', () => {
  it('is waited for even when taken longer ago than the deadline (a person at the prompt)', async () => {
    const dir = stateDirWithLock(
      JSON.stringify({
        pid: process.pid,
        started: processStarted(process.pid),
        boot: bootId(),
        bootTime: bootTime(),
        deadlineMs: 120_000,
        takenAt: new Date(Date.now() - 600_000).toISOString(),
      }),
    );
    const r = await agent(dir, '2');
    expect(r.code).toBe(9);
    expect(r.json).toMatchObject({ code: 'locked' });
  });
});

describe('temporary files of an interrupted write', () => {
  it('are removed at the next start; other files are left alone', async () => {
    const dir = join(tempDir(), 'state');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, '.0123456789ab.tmp'), 'half a state file', { mode: 0o600 });
    writeFileSync(join(dir, 'notes.txt'), 'mine', { mode: 0o600 });
    const r = await agent(dir);
    expect(r.json).toMatchObject({ ok: true });
    expect(readdirSync(dir)).toContain('notes.txt');
    expect(readdirSync(dir)).not.toContain('.0123456789ab.tmp');
  });
});

describe('a full disk', () => {
  const asRoot = process.getuid?.() === 0;
  let mount = '';
  beforeAll(() => {
    if (!asRoot) return;
    mount = tempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', mount]);
  });
  afterAll(() => {
    if (mount) spawnSync('umount', [mount]);
  });

  it.skipIf(!asRoot)(
    'is named as such (exit 8, retryable), leaves no lock, and the next run registers once space is free',
    async () => {
      const filler = join(mount, 'filler');
      // Fill the file system to the last block.
      spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
      const dir = join(mount, 'state');
      const r = await runAgent(
        [
          '--server',
          server.url,
          `--server-pin=${server.pin}`,
          '--secret-file',
          secretFile,
          '--state-dir',
          dir,
          '--log-file',
          join(tempDir(), 'agent.log'),
        ],
        {},
      );
      expect(r.code, JSON.stringify(r.json)).toBe(8);
      expect(r.json).toMatchObject({ code: 'disk_full' });
      expect(String(r.json.message)).toMatch(/the disk is full \(ENOSPC\)/);
      expect(existsSync(join(dir, 'lock'))).toBe(false);
      rmSync(filler);
      const again = await agent(dir);
      expect(again.json).toMatchObject({ ok: true, code: 'registered' });
    },
  );
});
