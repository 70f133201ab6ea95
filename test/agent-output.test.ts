/**
 * What the agent shows on different terminals: colour on a TTY only and
 * never with NO_COLOR, ASCII marks where the locale is not UTF-8, plain and
 * JSON output free of escape bytes, and the activity line with elapsed
 * seconds. Real agent, real server, real pseudo-terminal.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, runAgentInPty } from './support/agent.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { tempDir } from './support/procs.ts';

const SECRET = 'Output-Secret-24-chars-9';
const ESC = '\u001b';
let d: Deployment;

beforeAll(async () => {
  d = await deploy([SECRET]);
});
afterAll(async () => {
  await d?.stop();
});

const args = (): string[] => [
  '--server',
  d.server.url,
  `--server-pin=${d.server.pin}`,
  '--state-dir',
  join(tempDir(), 'state'),
];
/** A terminal that takes colour and UTF-8, unless a test says otherwise. */
const terminal = (env: Record<string, string> = {}): Record<string, string> => ({
  TERM: 'xterm-256color',
  LANG: 'C.UTF-8',
  LC_ALL: '',
  LC_CTYPE: '',
  NO_COLOR: '',
  // Python would otherwise "coerce" a C locale to C.UTF-8 for pty-run.py and the agent (PEP 538).
  PYTHONCOERCECLOCALE: '0',
  CLIENT_BOOTSTRAP_SECRET: SECRET,
  ...env,
});

/** A loopback port that refuses connections. */
async function refusedPort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((res) => s.once('listening', res));
  const port = (s.address() as { port: number }).port;
  await new Promise((res) => s.close(res));
  return port;
}

describe('on a terminal', () => {
  it('colour: green ✓, dim progress, the key derivation as an activity line that is cleared', async () => {
    const r = await runAgentInPty(args(), [], terminal());
    expect(r.code).toBe(0);
    expect(r.output).toContain(`${ESC}[32m\u2713${ESC}[39m server `);
    expect(r.output).toContain(`${ESC}[32m\u2713${ESC}[39m registered as client`);
    expect(r.output).toContain(`${ESC}[2m\u2026 checking server`);
    const frame = '\u2026 deriving the key from the secret (0 s)';
    expect(r.output).toContain(`\r${ESC}[2m${frame}${ESC}[22m`);
    expect(r.output).toContain(`\r${' '.repeat(frame.length)}\r`);
  });

  it('a failure: red ✗ and the hint on stderr', async () => {
    const r = await runAgentInPty(
      args(),
      [],
      terminal({ CLIENT_BOOTSTRAP_SECRET: 'Wrong-Secret-24-chars-99' }),
    );
    expect(r.code).toBe(4);
    expect(r.output).toContain(`${ESC}[31m\u2717${ESC}[39m error: the secret was not accepted`);
  });

  it('NO_COLOR (any non-empty value): not one escape byte, the marks stay', async () => {
    for (const value of ['1', 'false']) {
      const r = await runAgentInPty(args(), [], terminal({ NO_COLOR: value }));
      expect(r.code).toBe(0);
      expect(r.output).not.toContain(ESC);
      expect(r.output).toContain('\u2713 registered as client');
    }
  });

  it('TERM=dumb: no escape byte', async () => {
    const r = await runAgentInPty(args(), [], terminal({ TERM: 'dumb' }));
    expect(r.code).toBe(0);
    expect(r.output).not.toContain(ESC);
  });

  it('LANG=C: ASCII marks v, x and ... instead of ✓ ✗ …', async () => {
    const ok = await runAgentInPty(args(), [], terminal({ LANG: 'C' }));
    expect(ok.code).toBe(0);
    expect(ok.output).not.toMatch(/[\u2713\u2717\u2026]/);
    expect(ok.output).toContain(`${ESC}[32mv${ESC}[39m registered as client`);
    expect(ok.output).toContain(`${ESC}[2m... checking server`);
    const failed = await runAgentInPty(
      args(),
      [],
      terminal({ LANG: 'C', NO_COLOR: '1', CLIENT_BOOTSTRAP_SECRET: 'Wrong-Secret-24-chars-99' }),
    );
    expect(failed.code).toBe(4);
    // Only printable ASCII, CR and LF: no mark, no escape byte.
    expect(failed.output).toMatch(/^[\x20-\x7e\r\n]*$/);
    expect(failed.output).toContain('x error: the secret was not accepted');
  });

  it('--json on a terminal: one JSON object, no escape byte', async () => {
    const r = await runAgentInPty([...args(), '--json'], [], terminal());
    expect(r.code).toBe(0);
    expect(r.output).not.toContain(ESC);
    expect(JSON.parse(r.output.trim())).toMatchObject({ ok: true, code: 'registered' });
  });

  it('a retry wait shows its activity line with the seconds elapsed', async () => {
    const port = await refusedPort();
    const r = await runAgentInPty(
      [
        '--server',
        `http://127.0.0.1:${port}`,
        '--deadline',
        '3',
        '--state-dir',
        join(tempDir(), 's'),
      ],
      [],
      terminal({ NO_COLOR: '1' }),
    );
    expect(r.code).toBe(5);
    expect(r.output).toMatch(/\r\u2026 retrying in \d+\.\d s \(deadline in \d+ s\) \(0 s\)\r +\r/);
  });
});

describe('not on a terminal', () => {
  it('plain lines: no marks, no escape byte, one line per activity with no ticking', async () => {
    const r = await runAgent(args(), { json: false, env: terminal() });
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(ESC);
    expect(r.stdout + r.stderr).not.toMatch(/[\u2713\u2717\u2026\r]/);
    expect(r.stdout).toMatch(/^deriving the key from the secret$/m);
    expect(r.stdout).toMatch(/^registered as client/m);
  });

  it('a retry wait in plain mode: one line each, no elapsed seconds', async () => {
    const port = await refusedPort();
    const r = await runAgent(
      [
        '--server',
        `http://127.0.0.1:${port}`,
        '--deadline',
        '3',
        '--state-dir',
        join(tempDir(), 's'),
      ],
      { json: false, env: terminal() },
    );
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/^retrying in \d+\.\d s \(deadline in \d+ s\)$/m);
    expect(r.stdout + r.stderr).not.toContain(ESC);
  });

  it('--json: one object, no escape byte', async () => {
    const r = await runAgent(args(), { env: terminal() });
    expect(r.json).toMatchObject({ ok: true, code: 'registered' });
    expect(r.stdout + r.stderr).not.toContain(ESC);
  });
});
