/**
 * Every failure a user meets, produced for real (servers, a relay, TLS
 * servers with bad certificates, a proxy that wants credentials, all on
 * loopback), each checked for what the user must do: the exit code, the
 * stable `code`, and a message and hint that say the right thing. Every row
 * runs in --json, so the walk also proves `hint` on every failure.
 */
import { existsSync, readdirSync, readFileSync, watch } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from './support/agent.ts';
import { floodM1 } from './support/attacker.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { startTinyproxy } from './support/proxy.ts';
import { BIN, runProc, startProc, startServer, tempDir } from './support/procs.ts';
import type { ServerHandle } from './support/procs.ts';
import { makeTestCa } from './support/tls-cases.ts';
import type { TestCa } from './support/tls-cases.ts';
import { call, endpoint } from './support/wire-client.ts';

const SECRET = 'Failure-Table-Secret-8';
const UNKNOWN_ID = 'AAAAAAAAAAAAAAAAAAAAAA';

let d: Deployment;
let busy: Deployment;
let ca: TestCa;
const tls: Record<'good' | 'expired' | 'notYet' | 'otherName', ServerHandle> = {} as never;
let proxy: Awaited<ReturnType<typeof startTinyproxy>>;
let downProxy: string;

beforeAll(async () => {
  ca = makeTestCa();
  const certs = {
    good: ca.issue({ name: '127.0.0.1', san: 'IP:127.0.0.1' }),
    expired: ca.issue({
      name: '127.0.0.1',
      san: 'IP:127.0.0.1',
      start: '20200101000000Z',
      end: '20210101000000Z',
    }),
    notYet: ca.issue({
      name: '127.0.0.1',
      san: 'IP:127.0.0.1',
      start: '20990101000000Z',
      end: '21000101000000Z',
    }),
    otherName: ca.issue({ name: 'mgmt.example.net', san: 'DNS:mgmt.example.net' }),
  };
  const starts = Object.entries(certs).map(async ([name, c]) => {
    tls[name as keyof typeof tls] = await startServer({
      args: ['--tls-cert', c.cert, '--tls-key', c.key],
    });
  });
  const down = await startTinyproxy();
  downProxy = down.url;
  await down.stop();
  [d, busy, proxy] = await Promise.all([
    deploy([SECRET]),
    deploy([SECRET]),
    startTinyproxy({ basicAuth: { user: 'u', password: 'Table-Proxy-Pass-1' } }),
    ...starts,
  ]);
  // Someone at this address holds 10 guesses open at `busy`: it answers 429 until they expire.
  for (let i = 0; i < 10; i++) {
    const r = await call(endpoint(busy.routes.direct, 'register/start'), floodM1(busy.serverId));
    expect(r.status).toBe(200);
  }
});
afterAll(async () => {
  await Promise.all([
    d?.stop(),
    busy?.stop(),
    proxy?.stop(),
    ...Object.values(tls).map((s) => s.proc.stop()),
  ]);
});

const state = (): string[] => {
  const dir = join(tempDir(), 'state');
  return ['--state-dir', dir, '--log-file', join(dir, 'agent.log')];
};
const portOf = (url: string): string => new URL(url).port;

interface Row {
  readonly name: string;
  readonly args: () => string[];
  readonly env?: () => Record<string, string>;
  readonly exit: number;
  readonly code: string;
  readonly message: () => RegExp;
  readonly hint: () => RegExp;
}

const ROWS: Row[] = [
  {
    name: 'a URL with a path too many (HTTP 404 from the server)',
    args: () => ['--server', `${d.server.url}/extra/path`],
    exit: 2,
    code: 'config',
    message: () => /names no server that answers.*answered HTTP 404/,
    hint: () => /check the URL .*no path.*--server-id/,
  },
  {
    name: 'a server id the relay does not know (404 at the relay)',
    args: () => ['--relay', d.relay.url, `--server-id=${UNKNOWN_ID}`],
    exit: 2,
    code: 'config',
    message: () => /names no server that answers.*relay: answered HTTP 404/,
    hint: () => /check the URL .*--server-id/,
  },
  {
    name: 'a URL with a path too many while the relay is down: retried, and the hint names the URL',
    args: () => [
      '--server',
      `${d.server.url}/extra/path`,
      '--relay',
      'http://127.0.0.1:9',
      `--server-id=${d.serverId}`,
      `--server-pin=${d.server.pin}`,
      '--deadline',
      '2',
    ],
    exit: 5,
    code: 'no_route',
    message: () => /server: answered HTTP 404.*relay: .*refused the connection/,
    hint: () => /^check the URL .*no path.*; the other route is down/,
  },
  {
    name: 'https:// to a plain-HTTP server',
    args: () => ['--server', d.server.url.replace(/^http:/, 'https:')],
    exit: 2,
    code: 'wrong_scheme',
    message: () => /answered in plain HTTP, not TLS/,
    hint: () => new RegExp(`^use --server http://127\\.0\\.0\\.1:${portOf(d.server.url)}:`),
  },
  {
    name: 'http:// to a TLS server',
    args: () => ['--server', tls.good.url.replace(/^https:/, 'http:')],
    exit: 2,
    code: 'wrong_scheme',
    message: () => /speaks TLS, not plain HTTP/,
    hint: () => new RegExp(`^use --server https://127\\.0\\.0\\.1:${portOf(tls.good.url)}:`),
  },
  {
    name: 'a certificate that has expired',
    args: () => ['--server', tls.expired.url, '--ca-file', ca.caCert],
    exit: 6,
    code: 'tls_clock',
    message: () =>
      /is expired by this machine's clock \(now \d{4}-.*valid from 2020-01-01T00:00:00\.000Z to 2021-01-01T00:00:00\.000Z/,
    hint: () => /^check this machine's date, time and time zone/,
  },
  {
    name: 'a certificate that is not valid yet',
    args: () => ['--server', tls.notYet.url, '--ca-file', ca.caCert],
    exit: 6,
    code: 'tls_clock',
    message: () => /is not valid yet by this machine's clock.*valid from 2099-01-01T00:00:00\.000Z/,
    hint: () => /^check this machine's date, time and time zone/,
  },
  {
    name: 'a certificate from a CA the agent does not trust',
    args: () => ['--server', tls.good.url],
    exit: 6,
    code: 'tls',
    message: () => /signed by a CA this agent does not trust/,
    hint: () => /--ca-file PEM.*--ca-system/,
  },
  {
    name: 'a certificate for another name',
    args: () => ['--server', tls.otherName.url, '--ca-file', ca.caCert],
    exit: 6,
    code: 'tls_name',
    message: () =>
      /the TLS certificate of 127\.0\.0\.1:\d+ is for mgmt\.example\.net, not 127\.0\.0\.1/,
    hint: () => /^use the name the certificate is issued for in --server/,
  },
  {
    name: 'a server that limits attempts from this address (429) past the deadline',
    args: () => ['--server', busy.server.url, `--server-pin=${busy.server.pin}`, '--deadline', '4'],
    env: () => ({ CLIENT_BOOTSTRAP_SECRET: SECRET }),
    exit: 8,
    code: 'busy',
    message: () =>
      /the server limits attempts from this address \(HTTP 429: .*\); it asks to wait \d+ s/,
    hint: () => /^wait \d+ s and run it again .*retry exit 8 later/,
  },
  {
    name: 'a mistyped option',
    args: () => ['--server', d.server.url, '--secret-flie', '/x'],
    exit: 2,
    code: 'usage',
    message: () => /^unknown option --secret-flie; did you mean --secret-file\?$/,
    hint: () => /--help/,
  },
  {
    name: 'a proxy that asks for credentials (407)',
    args: () => ['--server', d.server.url, '--proxy', proxy.url],
    env: () => ({ NO_PROXY: '', no_proxy: '' }),
    exit: 2,
    code: 'proxy_auth',
    message: () =>
      new RegExp(
        `^the proxy 127\\.0\\.0\\.1:${proxy.port} asked for credentials \\(407 proxy authentication required\\)$`,
      ),
    hint: () => /--proxy-auth-file/,
  },
  {
    name: 'a proxy that is down',
    args: () => ['--server', d.server.url, '--proxy', downProxy, '--deadline', '2'],
    env: () => ({ NO_PROXY: '', no_proxy: '' }),
    exit: 5,
    code: 'no_route',
    message: () =>
      new RegExp(`the proxy 127\\.0\\.0\\.1:${portOf(downProxy)} refused the connection`),
    hint: () => /proxy/,
  },
  // check classifies a route's failure as register does.
  {
    name: 'check: https:// to a plain-HTTP server',
    args: () => ['check', '--server', d.server.url.replace(/^http:/, 'https:')],
    exit: 2,
    code: 'wrong_scheme',
    message: () => /no usable route .*answered in plain HTTP, not TLS/,
    hint: () => new RegExp(`^use --server http://127\\.0\\.0\\.1:${portOf(d.server.url)}:`),
  },
  {
    name: 'check: a URL with a path too many (HTTP 404)',
    args: () => ['check', '--server', `${d.server.url}/extra/path`],
    exit: 2,
    code: 'config',
    message: () => /no usable route .*answered HTTP 404/,
    hint: () => /check the URL .*no path/,
  },
  // Usage errors carry a hint too (the README promises it on every failure).
  {
    name: 'no server and no relay',
    args: () => [],
    exit: 2,
    code: 'usage',
    message: () => /no server and no relay/,
    hint: () => /--server URL/,
  },
  {
    name: 'an invalid URL',
    args: () => ['--server', 'not a url'],
    exit: 2,
    code: 'usage',
    message: () => /is not a URL/,
    hint: () => /for example/,
  },
  {
    name: 'an option given twice',
    args: () => ['--server', d.server.url, '--deadline', '5', '--deadline', '6'],
    exit: 2,
    code: 'usage',
    message: () => /--deadline was given more than once/,
    hint: () => /once/,
  },
  {
    name: '--route with a value yargs refuses',
    args: () => ['--server', d.server.url, '--route', 'sideways'],
    exit: 2,
    code: 'usage',
    message: () => /sideways/,
    hint: () => /--help/,
  },
];

describe('every failure, produced for real, in --json: exit code, code, message, hint', () => {
  it.each(ROWS.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const r = await runAgent([...state(), ...row.args()], row.env ? { env: row.env() } : {});
    expect(r.json, JSON.stringify(r.json)).toMatchObject({
      ok: false,
      exitCode: row.exit,
      code: row.code,
    });
    expect(r.code).toBe(row.exit);
    expect(r.json.message).toMatch(row.message());
    expect(typeof r.json.hint).toBe('string');
    expect(String(r.json.hint).trim()).not.toBe('');
    expect(r.json.hint).toMatch(row.hint());
    expect(String(r.json.message)).not.toMatch(/secretFlie|Unknown arguments/);
  });

  it('the same failures on a terminal-less run: the message, then "what to do:" with the hint', async () => {
    for (const row of ROWS.filter((x) => x.exit === 2 || x.exit === 6).slice(0, 6)) {
      const r = await runAgent([...state(), ...row.args()], {
        json: false,
        ...(row.env ? { env: row.env() } : {}),
      });
      expect(r.code).toBe(row.exit);
      expect(r.stderr).toMatch(/error: .+\n {2}what to do: .+/);
    }
  });

  it('usage errors are in English whatever LANG says, in all three programs', async () => {
    const german = { LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8', LANGUAGE: 'de' };
    const agent = await runAgent([...state(), '--server', d.server.url, 'stray'], { env: german });
    expect(agent.json).toMatchObject({ code: 'usage', message: 'Unknown argument: stray' });
    for (const bin of [BIN.server, BIN.relay]) {
      const r = await runProc(bin, ['stray'], { env: german });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/Unknown argument: stray/);
    }
  });

  it('429: a run that may wait says who limits it and how long it waits', async () => {
    const r = await runAgent(
      [
        ...state(),
        '--server',
        busy.server.url,
        `--server-pin=${busy.server.pin}`,
        '--deadline',
        '6',
      ],
      { json: false, env: { CLIENT_BOOTSTRAP_SECRET: SECRET } },
    );
    expect(r.stdout).toMatch(
      /the server limits attempts from this address; retrying in \d+\.\d s \(deadline in \d+ s\)/,
    );
  });
});

describe('stopped by a signal: 130 for Ctrl-C, 143 for SIGTERM, nothing half-written', () => {
  it.each([
    ['SIGINT', 130, 'interrupted', /interrupted \(Ctrl-C\)/],
    ['SIGTERM', 143, 'terminated', /stopped by SIGTERM/],
  ] as const)('%s during the retries', async (signal, exit, code, says) => {
    const stateDir = join(tempDir(), 'state');
    const logFile = join(tempDir(), 'agent.log');
    // A route that refuses: the agent waits between rounds, holding the state lock.
    const agent = startProc(BIN.agent, [
      '--server',
      'http://127.0.0.1:9',
      '--state-dir',
      stateDir,
      '--log-file',
      logFile,
      '--deadline',
      '60',
    ]);
    await agent.waitFor(/retrying in/);
    expect(existsSync(join(stateDir, 'lock'))).toBe(true);
    const exited = new Promise<number | null>((resolve) => agent.child.once('exit', resolve));
    agent.child.kill(signal);
    expect(await exited).toBe(exit);
    expect(agent.stderr).toMatch(says);
    expect(agent.stderr).toMatch(/what to do: run it again/);
    // The lock was released, no temporary file is left, and nothing was registered.
    expect(readdirSync(stateDir).filter((f) => f === 'lock' || f.startsWith('.'))).toEqual([]);
    const status = await runAgent(['status', '--state-dir', stateDir]);
    expect(status.json).toMatchObject({ ok: true, registered: false });
    const end = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => String(l.message).startsWith('command.end'));
    expect(end).toMatchObject({ code, exitCode: exit });
  });

  it('--json: one object with exit 130, code interrupted and a hint', async () => {
    const stateDir = join(tempDir(), 'state');
    const logFile = join(tempDir(), 'agent.log');
    const agent = startProc(BIN.agent, [
      '--server',
      'http://127.0.0.1:9',
      '--state-dir',
      stateDir,
      '--log-file',
      logFile,
      '--deadline',
      '60',
      '--json',
      '--log-level',
      'info',
    ]);
    // --json prints nothing until the end: wait for the first retry in the log.
    await waitForFile(logFile, /register\.retry/);
    const exited = new Promise<number | null>((resolve) => agent.child.once('exit', resolve));
    agent.child.kill('SIGINT');
    expect(await exited).toBe(130);
    const out = JSON.parse(agent.stdout.trim()) as Record<string, unknown>;
    expect(out).toMatchObject({ ok: false, exitCode: 130, code: 'interrupted' });
    expect(String(out.hint)).not.toBe('');
  });
});

/** Resolves when `file` contains `pattern`; fails after 20 s. */
async function waitForFile(file: string, pattern: RegExp): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const check = (): boolean => existsSync(file) && pattern.test(readFileSync(file, 'utf8'));
    if (check()) return resolve();
    const watcher = watch(dirname(file), () => {
      if (check()) {
        watcher.close();
        clearTimeout(timer);
        resolve();
      }
    });
    const timer = setTimeout(() => {
      watcher.close();
      reject(new Error(`${file} did not show ${pattern} within 20 s`));
    }, 20_000);
  });
}
