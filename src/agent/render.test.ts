import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { outcomeOf } from './outcome.ts';
import type { RouteReport } from './probe.ts';
import { createReporter } from './render.ts';
import type { RenderMode } from './render.ts';
import { ASCII_MARKS, UNICODE_MARKS } from './terminal-style.ts';
import type { TerminalStyle } from './terminal-style.ts';

const ESC = '\u001b';
const SGR = new RegExp(`${ESC}\\[\\d+m`, 'g');

function streams(isTTY: boolean) {
  const mk = () => {
    const s = Object.assign(new PassThrough(), { isTTY, text: '' });
    s.on('data', (c: Buffer) => (s.text += c.toString('utf8')));
    return s;
  };
  return { stdout: mk(), stderr: mk() };
}

const route: RouteReport = {
  name: 'direct',
  url: 'https://mgmt.example:8443',
  reachable: true,
  latencyMs: 3,
  seenAs: 'intranet',
  secretRequired: true,
  error: null,
  errorCode: null,
};
const clock = { now: () => 0, logFile: null };
const ok = outcomeOf(clock, 0, {
  ok: true,
  code: 'registered',
  message: 'registered as client c1',
});
const failed = outcomeOf(clock, 0, {
  ok: false,
  code: 'invalid_secret',
  message: 'the secret was not accepted',
  hint: 'check the spelling',
});

/** Everything a run shows, through one reporter. */
function show(mode: RenderMode, style: TerminalStyle | undefined, isTTY = mode === 'tty') {
  const s = streams(isTTY);
  const r = createReporter(mode, false, s.stdout, s.stderr, style ? { style } : {});
  r.progress('checking server');
  r.route(route);
  r.route({ ...route, name: 'relay', reachable: false, error: 'refused', errorCode: 'refused' });
  r.activity('deriving the key from the secret')();
  r.warn('careful');
  r.finish(ok);
  r.finish(failed);
  return { out: s.stdout.text, err: s.stderr.text };
}

const colour: TerminalStyle = { color: { stdout: true, stderr: true }, marks: UNICODE_MARKS };

afterEach(() => {
  vi.useRealTimers();
});

describe('the reporter', () => {
  it('on a colour terminal: green ✓, red ✗, dim progress', () => {
    const { out, err } = show('tty', colour);
    expect(out).toContain(`${ESC}[32m\u2713${ESC}[39m registered as client c1`);
    expect(out).toContain(`${ESC}[31m\u2717${ESC}[39m relay `);
    expect(out).toContain(`${ESC}[2m\u2026 checking server${ESC}[22m`);
    expect(err).toContain(`${ESC}[31m\u2717${ESC}[39m error: the secret was not accepted`);
  });

  it('without colour (NO_COLOR) the terminal gets marks and no escape byte', () => {
    const { out, err } = show('tty', {
      color: { stdout: false, stderr: false },
      marks: UNICODE_MARKS,
    });
    expect(out + err).not.toContain(ESC);
    expect(out).toContain('\u2713 registered as client c1');
    expect(err).toContain('\u2717 error: the secret was not accepted');
  });

  it('colour follows each stream: stderr redirected gets none', () => {
    const { out, err } = show('tty', {
      color: { stdout: true, stderr: false },
      marks: UNICODE_MARKS,
    });
    expect(out).toContain(ESC);
    expect(err).not.toContain(ESC);
  });

  it('ASCII marks where the console cannot show ✓ ✗ …', () => {
    const { out, err } = show('tty', {
      color: { stdout: false, stderr: false },
      marks: ASCII_MARKS,
    });
    expect(out + err).toMatch(/^[\x20-\x7e\r\n]*$/);
    expect(out).toContain('v registered as client c1');
    expect(out).toContain('... checking server');
    expect(err).toContain('x error: the secret was not accepted');
  });

  it.each(['plain', 'json'] as const)(
    '%s mode: no marks and no escape byte, even if a style says colour',
    (mode) => {
      const { out, err } = show(mode, colour, true);
      expect(out + err).not.toContain(ESC);
      expect(out + err).not.toMatch(/[\u2713\u2717\u2026\r]/);
    },
  );

  it('json prints only the outcome objects, no progress', () => {
    const { out } = show('json', undefined);
    expect(out.trim().split('\n')).toHaveLength(2); // the two finish() calls
    expect(() =>
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).not.toThrow();
  });
});

describe('activity', () => {
  it('on a terminal: elapsed seconds updated in place, cleared when done', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const s = streams(true);
    const r = createReporter('tty', false, s.stdout, s.stderr, { style: colour });
    const done = r.activity('deriving the key from the secret');
    vi.advanceTimersByTime(2100);
    done();
    vi.advanceTimersByTime(5000);
    const frames = s.stdout.text.split('\r').filter(Boolean);
    expect(frames.map((f) => f.replace(SGR, ''))).toEqual([
      '\u2026 deriving the key from the secret (0 s)',
      '\u2026 deriving the key from the secret (1 s)',
      '\u2026 deriving the key from the secret (2 s)',
      ' '.repeat('\u2026 deriving the key from the secret (2 s)'.length),
    ]);
    done(); // a second call does nothing
    expect(s.stdout.text.endsWith('\r')).toBe(true);
  });

  it('a line written while it runs ends it first', () => {
    vi.useFakeTimers();
    const s = streams(true);
    const r = createReporter('tty', false, s.stdout, s.stderr, {
      style: { ...colour, color: { stdout: false, stderr: false } },
    });
    const done = r.activity('retrying in 2.0 s (deadline in 100 s)');
    const frame = '\u2026 retrying in 2.0 s (deadline in 100 s) (0 s)';
    r.progress('checking server');
    vi.advanceTimersByTime(3000);
    done();
    expect(s.stdout.text).toBe(`\r${frame}\r${' '.repeat(frame.length)}\r\u2026 checking server\n`);
  });

  it('in plain mode: one line at the start, no ticking; nothing in json or quiet', () => {
    vi.useFakeTimers();
    const s = streams(false);
    const done = createReporter('plain', false, s.stdout, s.stderr).activity('deriving the key');
    vi.advanceTimersByTime(5000);
    done();
    expect(s.stdout.text).toBe('deriving the key\n');
    for (const [mode, quiet] of [
      ['json', false],
      ['tty', true],
    ] as const) {
      const q = streams(true);
      createReporter(mode, quiet, q.stdout, q.stderr, { style: colour }).activity('x')();
      expect(q.stdout.text + q.stderr.text).toBe('');
    }
  });
});

describe('the style as the CLI learns it (Windows console code page)', () => {
  /** A usage error on a Windows console: the failure mark depends on chcp's answer. */
  async function usageErrorOnWindows(chcp: string): Promise<{ err: string; asked: string[][] }> {
    const { runAgentCli } = await import('./cli.ts');
    const s = streams(true);
    const asked: string[][] = [];
    const code = await runAgentCli(['--no-such-option'], {
      stdin: Object.assign(new PassThrough(), { isTTY: true }),
      stdout: s.stdout,
      stderr: s.stderr,
      env: {},
      now: () => 0,
      random: () => 0.5,
      readFile: () => {
        throw new Error('no file');
      },
      readBytes: () => {
        throw new Error('no file');
      },
      exists: () => false,
      exeDir: 'C:\\Program Files\\ClientBootstrap',
      platform: 'win32',
      isRoot: false,
      runCommand: (cmd, args) => {
        asked.push([cmd, ...args]);
        return { code: 0, stdout: chcp, stderr: '' };
      },
    });
    expect(code).toBe(2);
    return { err: s.stderr.text, asked };
  }

  it('code page 437: ASCII marks; 65001: ✗', async () => {
    const legacy = await usageErrorOnWindows('Active code page: 437\r\n');
    expect(legacy.asked).toEqual([['cmd.exe', '/d', '/c', 'chcp']]);
    expect(legacy.err.startsWith(`${ESC}[31mx${ESC}[39m error: `)).toBe(true);
    const utf8 = await usageErrorOnWindows('Active code page: 65001\r\n');
    expect(utf8.err.startsWith(`${ESC}[31m\u2717${ESC}[39m error: `)).toBe(true);
  });
});
