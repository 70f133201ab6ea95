import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, runAgentInPty } from './support/agent.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { BIN, startProc, tempDir, writeSecretFile } from './support/procs.ts';

const SECRET = 'Source-Secret-88x';
let d: Deployment;

beforeAll(async () => {
  d = await deploy([SECRET]);
});
afterAll(async () => {
  await d?.stop();
});

const args = (stateDir = join(tempDir(), 'state')): string[] => [
  '--server',
  d.server.url,
  `--server-pin=${d.server.pin}`,
  '--state-dir',
  stateDir,
];

describe('each secret source', () => {
  it('a file, which may end in one newline', async () => {
    const file = writeSecretFile(join(tempDir(), 'secret'), `${SECRET}\r\n`);
    expect((await runAgent([...args(), '--secret-file', file])).json).toMatchObject({
      ok: true,
      code: 'registered',
    });
  });

  it('stdin with --secret-file -', async () => {
    expect(
      (await runAgent([...args(), '--secret-file', '-'], { input: `${SECRET}\n` })).json,
    ).toMatchObject({ ok: true, code: 'registered' });
  });

  it('the environment', async () => {
    expect(
      (await runAgent(args(), { env: { CLIENT_BOOTSTRAP_SECRET: SECRET } })).json,
    ).toMatchObject({ ok: true, code: 'registered' });
  });

  it('--secret, with a warning, scrubbed from the process title at once', async () => {
    const r = await runAgent([...args(), '--secret', SECRET]);
    expect(r.json).toMatchObject({ ok: true, code: 'registered' });
    expect(r.stderr).toMatch(/visible to other users/);
    // A run that stays alive (a route that never answers) to read its command line.
    const net = await import('node:net');
    const silent = net.createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise((res) => silent.once('listening', res));
    const port = (silent.address() as { port: number }).port;
    const proc = startProc(BIN.agent, [
      '--server',
      `http://127.0.0.1:${port}`,
      '--secret',
      SECRET,
      '--probe-timeout',
      '20',
      '--state-dir',
      join(tempDir(), 's'),
    ]);
    try {
      await proc.waitFor(/checking server/);
      const { readFileSync } = await import('node:fs');
      const cmdline = readFileSync(`/proc/${proc.child.pid}/cmdline`, 'utf8');
      expect(cmdline).not.toContain(SECRET);
      expect(cmdline.replace(/\0+$/, '')).toMatch(/^client-bootstrap/);
    } finally {
      await proc.stop();
      silent.close();
    }
  });

  it('two sources at once are a usage error', async () => {
    const r = await runAgent([...args(), '--secret', SECRET], {
      env: { CLIENT_BOOTSTRAP_SECRET: SECRET },
    });
    expect(r.json).toMatchObject({ ok: false, exitCode: 2 });
    expect(r.json.message).toMatch(/2 ways at once/);
  });

  it('no TTY and stdin closed: exit 3 at once, no prompt', async () => {
    const r = await runAgent(args());
    expect(r.json).toMatchObject({ exitCode: 3, code: 'secret_missing' });
    expect(r.stderr).not.toMatch(/secret:/i);
  });
});

describe('the prompt, in a real pseudo-terminal', () => {
  it('asks, masks what is typed, and registers', async () => {
    const r = await runAgentInPty(args(), [SECRET]);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/Authorization secret: \*{17}/);
    expect(r.output).not.toContain(SECRET);
    expect(r.output).toMatch(/registered as client/);
  });

  it('allows three attempts, then exits 4', async () => {
    const r = await runAgentInPty(args(), [
      'Wrong-Secret-001',
      'Wrong-Secret-002',
      'Wrong-Secret-003',
      SECRET,
    ]);
    expect(r.code).toBe(4);
    expect(r.output.match(/Authorization secret/g)).toHaveLength(3);
    expect(r.output).toMatch(/attempt 3 of 3/);
  });

  it('a right secret at the second attempt registers', async () => {
    const r = await runAgentInPty(args(), ['Wrong-Secret-001', SECRET]);
    expect(r.code).toBe(0);
  });

  it('--no-interactive never prompts, even on a terminal', async () => {
    const r = await runAgentInPty([...args(), '--no-interactive'], [SECRET]);
    expect(r.code).toBe(3);
    expect(r.output).not.toMatch(/Authorization secret:/);
  });

  it('check never prompts unless asked to', async () => {
    const r = await runAgentInPty(['check', ...args()], [SECRET]);
    expect(r.code).toBe(0);
    expect(r.output).not.toMatch(/Authorization secret:/);
    const asked = await runAgentInPty(['check', '--prompt', ...args()], [SECRET]);
    expect(asked.code).toBe(0);
    expect(asked.output).toMatch(/secret is accepted/);
  });
});
