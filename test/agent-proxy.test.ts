/**
 * The agent through a real proxy that requires credentials (tinyproxy with
 * BasicAuth): in the proxy URL, in HTTPS_PROXY, in --proxy-auth-file; a
 * wrong password, none at all, a proxy that is down; and the password in
 * no output, log file or --json.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from './support/agent.ts';
import type { AgentRun } from './support/agent.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { describeFindings, formsOf, scanBytes, scanFiles, secretNeedles } from './support/leak.ts';
import { startTinyproxy } from './support/proxy.ts';
import { BIN, startProc, tempDir } from './support/procs.ts';

const SECRET = 'Proxy-Route-Secret-42';
const USER = 'agent-proxy-user';
const PASSWORD = 'Pr0xy-Pa55word-Zq9';
const NO_ENV_PROXY = { NO_PROXY: '', no_proxy: '', HTTPS_PROXY: '', HTTP_PROXY: '' };

let d: Deployment;
let proxy: Awaited<ReturnType<typeof startTinyproxy>>;
const runs: AgentRun[] = [];
const logFiles: string[] = [];

beforeAll(async () => {
  [d, proxy] = await Promise.all([
    deploy([SECRET]),
    startTinyproxy({ basicAuth: { user: USER, password: PASSWORD } }),
  ]);
});
afterAll(async () => {
  await Promise.all([d?.stop(), proxy?.stop()]);
});

const withCredentials = (user: string, password: string): string =>
  `http://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${proxy.port}`;

/** Runs the agent with its own state and log, keeping both for the leak scan. */
async function run(
  route: 'direct' | 'relay',
  extra: string[],
  env: Record<string, string> = {},
  json = true,
  deadline = '4',
): Promise<AgentRun> {
  const stateDir = join(tempDir(), 'state');
  const logFile = join(stateDir, 'agent.log');
  const target =
    route === 'direct'
      ? ['--server', d.server.url]
      : ['--relay', d.relay.url, `--server-id=${d.serverId}`];
  const r = await runAgent(
    [
      ...target,
      `--server-pin=${d.server.pin}`,
      '--state-dir',
      stateDir,
      '--log-file',
      logFile,
      '--deadline',
      deadline,
      ...extra,
    ],
    { env: { CLIENT_BOOTSTRAP_SECRET: SECRET, ...NO_ENV_PROXY, ...env }, json },
  );
  runs.push(r);
  logFiles.push(logFile);
  return r;
}

const connects = (target: string): RegExp =>
  new RegExp(`CONNECT 127\\.0\\.0\\.1:${new URL(target).port} `);

describe('a proxy that requires Basic credentials', () => {
  it('the right credentials in --proxy: registered directly, through the proxy', async () => {
    const before = proxy.log().length;
    const r = await run('direct', ['--proxy', withCredentials(USER, PASSWORD)]);
    expect(r.json).toMatchObject({ ok: true, code: 'registered', route: 'direct' });
    expect(proxy.log().slice(before)).toMatch(connects(d.server.url));
  });

  it('the right credentials in HTTPS_PROXY: registered through the relay, through the proxy', async () => {
    const before = proxy.log().length;
    const r = await run('relay', [], { HTTPS_PROXY: withCredentials(USER, PASSWORD) });
    expect(r.json).toMatchObject({ ok: true, code: 'registered', route: 'relay' });
    expect(proxy.log().slice(before)).toMatch(connects(d.relay.url));
  });

  it('--proxy-auth-file (user:password, one line) with a bare proxy URL, also from the environment', async () => {
    const file = join(tempDir(), 'proxy-auth');
    writeFileSync(file, `${USER}:${PASSWORD}\n`, { mode: 0o600 });
    const flag = await run('direct', ['--proxy', proxy.url, '--proxy-auth-file', file]);
    expect(flag.json).toMatchObject({ ok: true, code: 'registered' });
    const env = await run('relay', [], {
      HTTPS_PROXY: proxy.url,
      CLIENT_BOOTSTRAP_PROXY_AUTH_FILE: file,
    });
    expect(env.json).toMatchObject({ ok: true, code: 'registered', route: 'relay' });
  });

  it.each([
    // tinyproxy answers wrong credentials with 401 (squid would send 407 again).
    [
      'a wrong password',
      () => withCredentials(USER, 'Wrong-Pa55word'),
      'did not accept the credentials (401 unauthorized)',
      /^check the proxy user and password/,
    ],
    [
      'no credentials',
      () => proxy.url,
      'asked for credentials (407 proxy authentication required)',
      /^give the proxy user and password with --proxy-auth-file/,
    ],
  ])('%s: exit 2 at once, naming the proxy', async (_name, url, says, hint) => {
    const r = await run('direct', ['--proxy', url()]);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ ok: false, exitCode: 2, code: 'proxy_auth', attempts: 1 });
    expect(r.json.message).toBe(`the proxy 127.0.0.1:${proxy.port} ${says}`);
    expect(r.json.hint).toMatch(hint);
  });

  it('a malformed credentials file is a usage error that does not echo it', async () => {
    const file = join(tempDir(), 'proxy-auth');
    writeFileSync(file, `${PASSWORD}\n`, { mode: 0o600 });
    const r = await run('direct', ['--proxy', proxy.url, '--proxy-auth-file', file]);
    expect(r.json).toMatchObject({ ok: false, exitCode: 2, code: 'usage' });
    expect(r.json.message).toMatch(/does not hold user:password/);
  });

  it('the password is in no output, --json or log file (plain and JSON runs alike)', async () => {
    await run('direct', ['--proxy', withCredentials(USER, PASSWORD)], {}, false);
    await run('direct', ['--proxy', withCredentials(USER, 'Wrong-Pa55word')], {}, false);
    expect(runs.length).toBeGreaterThanOrEqual(8);
    expect(logFiles.filter((f) => existsSync(f)).length).toBeGreaterThanOrEqual(7);
    // Every encoding of the password and of the Basic credentials (the header value), at every
    // alignment, in every output and in every file the runs left (logs, state).
    const needles = [
      ...secretNeedles(PASSWORD, 'proxy password'),
      ...secretNeedles('Wrong-Pa55word', 'wrong proxy password'),
      ...formsOf('Basic credentials', Buffer.from(`${USER}:${PASSWORD}`)),
    ];
    const findings = [
      ...scanBytes(
        'outputs',
        Buffer.from(runs.map((r) => r.stdout + r.stderr).join('\n')),
        needles,
      ),
      ...scanFiles(
        logFiles.map((f) => dirname(f)).filter((dir) => existsSync(dir)),
        needles,
      ).findings,
    ];
    expect(describeFindings(findings)).toBe('');
    // The log does name the proxy, by host and port.
    expect(readFileSync(logFiles[0] as string, 'utf8')).toContain(`127.0.0.1:${proxy.port}`);
  });
});

describe('a proxy that is down', () => {
  it('is named as the one that refused, and retried until the deadline (exit 5)', async () => {
    const down = await startTinyproxy();
    const url = down.url;
    await down.stop();
    const r = await run('direct', ['--proxy', url], {}, true, '2');
    expect(r.code).toBe(5);
    expect(r.json).toMatchObject({ ok: false, exitCode: 5, code: 'no_route' });
    expect(r.json.message).toMatch(
      new RegExp(`the proxy 127\\.0\\.0\\.1:${new URL(url).port} refused the connection`),
    );
    expect(r.json.message).not.toMatch(
      /server refused|127\.0\.0\.1:\d+ refused the connection.*server/,
    );
  });

  it('a --proxy URL with a password is scrubbed from the process title at once', async () => {
    const down = await startTinyproxy();
    const port = down.port;
    await down.stop();
    const agent = startProc(BIN.agent, [
      '--server',
      d.server.url,
      '--proxy',
      `http://${USER}:${PASSWORD}@127.0.0.1:${port}`,
      '--state-dir',
      join(tempDir(), 'state'),
      '--log-file',
      join(tempDir(), 'agent.log'),
      '--deadline',
      '20',
    ]);
    await agent.waitFor(/retrying in/);
    const cmdline = readFileSync(`/proc/${agent.child.pid}/cmdline`, 'utf8');
    expect(cmdline).toMatch(/client-bootstrap/);
    expect(cmdline).not.toContain(PASSWORD);
    await agent.stop('SIGINT');
  });
});
