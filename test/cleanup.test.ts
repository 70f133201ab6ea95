/**
 * The teardown, watched from outside: a vitest run of a file whose set-up
 * fails halfway, and of a passing file that stops nothing itself, must
 * leave no process, no temporary directory and no iptables rule.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAgentInPty } from './support/agent.ts';
import { ROOT, runCommand, startCommand, tempDir } from './support/procs.ts';

function hasIptables(): boolean {
  try {
    execFileSync('iptables', ['-S', 'INPUT'], { stdio: 'pipe', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** True while `pid` exists and is not a zombie waiting to be reaped. */
function isAlive(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

/** Every live process whose command line mentions `text`. */
function processesMentioning(text: string): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid && isAlive(Number(p)))
    .flatMap((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ');
        return cmd.includes(text) ? [`${p}: ${cmd}`] : [];
      } catch {
        return [];
      }
    });
}

interface Watched {
  code: number | null;
  output: string;
  pids: number[];
  dirs: string[];
  rules: string[];
  tmp: string;
}

/** Runs one fixture file in its own vitest, with the audit log and temp parent of our choosing. */
async function runFixture(file: string, env: Record<string, string> = {}): Promise<Watched> {
  const tmp = join(tempDir('cb-watched-'), 'tmp');
  mkdirSync(tmp);
  const log = join(tmp, '..', 'audit.log');
  const r = await runCommand(
    process.execPath,
    [
      join(ROOT, 'node_modules/vitest/vitest.mjs'),
      'run',
      '--config',
      join(ROOT, 'test/fixtures/cleanup/vitest.config.ts'),
      join(ROOT, 'test/fixtures/cleanup', file),
    ],
    {
      cwd: ROOT,
      env: { CB_TEST_AUDIT_LOG: log, CB_TEST_TMP: tmp, ...env },
      timeoutMs: 120_000,
    },
  );
  const lines = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  const field = (kind: string): string[] =>
    lines.filter((l) => l.startsWith(`${kind} `)).map((l) => l.slice(kind.length + 1));
  return {
    code: r.code,
    output: r.stdout + r.stderr,
    pids: field('pid').map(Number),
    dirs: field('dir'),
    rules: field('rule'),
    tmp,
  };
}

function expectNothingLeft(w: Watched): void {
  expect(w.pids.filter(isAlive), `processes left running\n${w.output}`).toEqual([]);
  expect(processesMentioning(w.tmp)).toEqual([]);
  expect(w.dirs.filter((d) => existsSync(d))).toEqual([]);
  expect(readdirSync(w.tmp)).toEqual([]);
}

describe('tests clean up after themselves', () => {
  const iptables = hasIptables();

  it(`a set-up that fails halfway (a tool missing) leaves no process, directory${iptables ? ' or iptables rule' : ''}`, async () => {
    const w = await runFixture('failing-setup.fixture.ts', {
      CB_FIXTURE_IPTABLES: iptables ? '1' : '0',
    });
    expect(w.code, w.output).not.toBe(0);
    expect(w.output).toMatch(/cb-no-such-tool-for-this-test could not start/);
    // The run did start things: a relay, a server, several CLI runs, a sleep.
    expect(w.pids.length).toBeGreaterThanOrEqual(5);
    expect(w.dirs).toHaveLength(1);
    expectNothingLeft(w);
    if (iptables) {
      expect(w.rules).toHaveLength(1);
      const [address, port] = (w.rules[0] as string).split(' ');
      const rules = execFileSync('iptables', ['-S', 'INPUT'], { encoding: 'utf8' });
      expect(rules).not.toContain(`${address}/32`);
      expect(rules).not.toMatch(new RegExp(`--dport ${port}\\b`));
    }
  });

  it('a passing file that stops nothing itself leaves no process or directory', async () => {
    const w = await runFixture('passing.fixture.ts');
    expect(w.code, w.output).toBe(0);
    expect(w.pids.length).toBeGreaterThanOrEqual(5);
    expectNothingLeft(w);
  });

  it('helpers reject instead of hanging: a missing python3, a missing program, a silent wait', async () => {
    await expect(
      runAgentInPty(['--version'], [], {}, { python: 'cb-no-such-python3' }),
    ).rejects.toThrow(/could not start/);
    await expect(runCommand('cb-no-such-program', [])).rejects.toThrow(/could not start/);
    await expect(runCommand('sleep', ['30'], { timeoutMs: 300 })).rejects.toThrow(
      /did not finish in 300 ms/,
    );
    const quiet = startCommand('sleep', ['30']);
    await expect(quiet.waitFor(/never/, 300)).rejects.toThrow(/timed out/);
    const exits = startCommand('true', []);
    await expect(exits.waitFor(/never/, 10_000)).rejects.toThrow(/exited \(0\)/);
    await quiet.stop();
  });
});
