import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from './support/agent.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { floodM1 } from './support/attacker.ts';
import { tempDir, writeSecretFile } from './support/procs.ts';
import { storedClientIds } from './support/store-counts.ts';
import { call, endpoint } from './support/wire-client.ts';

const SECRET = 'Exit-Code-Secret-7';
let d: Deployment;
let empty: Deployment;
let secretFile: string;

beforeAll(async () => {
  [d, empty] = await Promise.all([deploy([SECRET]), deploy([])]);
  secretFile = writeSecretFile(join(tempDir(), 'secret'), `${SECRET}\n`);
});
afterAll(async () => {
  await Promise.all([d?.stop(), empty?.stop()]);
});

const base = (
  dep: Deployment,
  stateDir = join(tempDir(), 'state'),
  pin = dep.server.pin,
): string[] => [
  '--server',
  dep.server.url,
  '--relay',
  dep.relay.url,
  `--server-id=${dep.serverId}`,
  `--server-pin=${pin}`,
  '--state-dir',
  stateDir,
  '--log-file',
  join(stateDir, 'agent.log'),
];

const FIELDS = [
  'ok',
  'exitCode',
  'code',
  'clientId',
  'serverId',
  'route',
  'routes',
  'durationMs',
  'message',
  'logFile',
];

describe('output modes', () => {
  it('plain lines by default; --quiet prints nothing on success and only the error on failure', async () => {
    const stateDir = join(tempDir(), 'state');
    const plain = await runAgent([...base(d, stateDir), '--secret-file', secretFile], {
      json: false,
    });
    expect(plain.stdout).toMatch(
      /checking server [\s\S]*reachable in \d+ ms, seen as intranet, secret required[\s\S]*registered as client /,
    );
    const quiet = await runAgent(
      [...base(d, stateDir), '--secret-file', secretFile, '--force', '--quiet'],
      { json: false },
    );
    expect(quiet.code).toBe(0);
    expect(quiet.stdout + quiet.stderr).toBe('');
    const failing = await runAgent([...base(d), '--quiet', '--secret', 'Wrong-Secret-123'], {
      json: false,
    });
    expect(failing.code).toBe(4);
    expect(failing.stdout).toBe('');
    expect(failing.stderr).toMatch(
      /error: the secret was not accepted[\s\S]*what to do: [\s\S]*log: /,
    );
  });
});

describe('every exit code with the --json object: 0 and 2 to 9 from real scenarios, 1 from an injected fault', () => {
  it('0: registered, then already registered without network traffic', async () => {
    const stateDir = join(tempDir(), 'state');
    const first = await runAgent([...base(d, stateDir), '--secret-file', secretFile]);
    expect(first.code).toBe(0);
    for (const f of FIELDS) expect(first.json).toHaveProperty(f);
    expect(first.json).toMatchObject({
      ok: true,
      exitCode: 0,
      code: 'registered',
      route: 'direct',
      serverId: d.serverId,
    });
    expect(first.json.clientId).toMatch(/^[0-9a-f-]{36}$/);
    const routes = first.json.routes as {
      name: string;
      reachable: boolean;
      seenAs: string;
      secretRequired: boolean;
      latencyMs: number;
    }[];
    expect(routes.find((r) => r.name === 'direct')).toMatchObject({
      reachable: true,
      seenAs: 'intranet',
      secretRequired: true,
    });
    // The re-run sends nothing: point it at dead URLs with the same server id.
    const again = await runAgent([
      '--server',
      'http://127.0.0.1:9',
      `--server-id=${d.serverId}`,
      '--state-dir',
      stateDir,
      '--log-file',
      join(stateDir, 'agent.log'),
    ]);
    expect(again.code).toBe(0);
    expect(again.json).toMatchObject({
      ok: true,
      code: 'already_registered',
      clientId: first.json.clientId,
      routes: [],
    });
    const forced = await runAgent([...base(d, stateDir), '--secret-file', secretFile, '--force']);
    expect(forced.json).toMatchObject({
      ok: true,
      code: 'registered',
      clientId: first.json.clientId,
    });
    // In the store: that client id once, however often it registered.
    expect(
      storedClientIds(d.server.dataDir).filter((id) => id === first.json.clientId),
    ).toHaveLength(1);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    for (const f of ['state.json', 'client-key.pem'])
      expect(statSync(join(stateDir, f)).mode & 0o777).toBe(0o600);
  });

  it('1 (injected fault: os.hostname throws inside the agent): an internal error says so and names the log file', async () => {
    const stateDir = join(tempDir(), 'state');
    // Fault injection from outside: os.hostname throws as a real bug would.
    const fault = `data:text/javascript,${encodeURIComponent('import os from "node:os"; import { syncBuiltinESMExports } from "node:module"; os.hostname = () => { throw new Error("injected fault") }; syncBuiltinESMExports();')}`;
    const r = await runAgent([...base(d, stateDir), '--secret-file', secretFile], {
      env: { NODE_OPTIONS: `--import=${fault}` },
    });
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ok: false, exitCode: 1, code: 'internal' });
    expect(r.json.message).toMatch(/internal error \(a bug\).*injected fault.*agent\.log/);
    expect(readFileSync(join(stateDir, 'agent.log'), 'utf8')).toContain('injected fault');
  });

  it.each([
    ['an unknown flag', ['--bogus']],
    ['two secret sources', ['--secret-file', '/dev/null', '--secret', 'Abc-123456789']],
    ['an invalid URL', ['--server', 'not a url']],
    ['a bad pin', ['--server', 'http://127.0.0.1:9', '--server-pin', 'md5:xyz']],
    ['no server at all', []],
    [
      'an option given twice',
      ['--server', 'http://127.0.0.1:9', '--deadline', '5', '--deadline', '6'],
    ],
    [
      'an unreadable secret file',
      ['--server', 'http://127.0.0.1:9', '--secret-file', '/nonexistent/secret'],
    ],
  ])('2: usage error for %s', async (_name, args) => {
    const r = await runAgent(['--state-dir', join(tempDir(), 'state'), ...args]);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ ok: false, exitCode: 2 });
    expect(String(r.json.message).length).toBeGreaterThan(10);
    // The README promises a hint on every failure, usage errors included.
    expect(typeof r.json.hint === 'string' && r.json.hint.length > 5).toBe(true);
  });

  it('2: a URL with a path too many, or a server id the relay does not know: at once, not retried', async () => {
    const r = await runAgent([
      '--server',
      `${d.server.url}/extra/path`,
      '--relay',
      d.relay.url,
      '--server-id=AAAAAAAAAAAAAAAAAAAAAA',
      '--state-dir',
      join(tempDir(), 'state'),
    ]);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ ok: false, exitCode: 2, code: 'config' });
    expect(r.json.attempts).toBe(1);
    expect(r.json.hint).toMatch(/--server .*--server-id/);
  });

  it('3: a secret is required, none given, no TTY: fails at once', async () => {
    const r = await runAgent(base(d));
    expect(r.code).toBe(3);
    expect(r.json).toMatchObject({ ok: false, exitCode: 3, code: 'secret_missing' });
    expect(r.json.hint).toMatch(/--secret-file/);
  });

  it('4: a wrong secret', async () => {
    const r = await runAgent([...base(d), '--secret', 'Wrong-Secret-123']);
    expect(r.code).toBe(4);
    expect(r.json).toMatchObject({ ok: false, exitCode: 4, code: 'invalid_secret' });
  });

  it('5: no route at the deadline, naming both reasons and the attempts made', async () => {
    const r = await runAgent([
      '--server',
      'http://127.0.0.1:9',
      '--relay',
      'http://127.0.0.1:10',
      `--server-id=${d.serverId}`,
      '--state-dir',
      join(tempDir(), 's'),
      '--deadline',
      '3',
    ]);
    expect(r.code).toBe(5);
    expect(r.json).toMatchObject({ ok: false, exitCode: 5, code: 'no_route' });
    const routes = r.json.routes as { name: string; error: string }[];
    expect(routes.map((x) => x.name).sort()).toEqual(['direct', 'relay']);
    expect(r.json.message).toMatch(/server: .*refused.*relay: .*refused/);
    // Refused connections are retried within the deadline, each round probing both routes.
    expect(r.json.attempts).toBeGreaterThan(1);
    expect(r.json.message).toMatch(/after \d+ attempts over \d+ s/);
  });

  it('6: the server key does not match the pin', async () => {
    const r = await runAgent([
      ...base(d, join(tempDir(), 'state'), empty.server.pin),
      '--secret-file',
      secretFile,
    ]);
    expect(r.code).toBe(6);
    expect(r.json).toMatchObject({ ok: false, exitCode: 6, code: 'pin_mismatch' });
  });

  it('7: the server refuses for another reason (no active secret)', async () => {
    const r = await runAgent([...base(empty), '--secret-file', secretFile]);
    expect(r.code).toBe(7);
    expect(r.json).toMatchObject({ ok: false, exitCode: 7, code: 'no_active_secrets' });
  });

  it('8: rate-limited until the deadline runs out', async () => {
    const busy = await deploy([SECRET]);
    try {
      // Someone at this address holds 10 guesses open (M1 sent, never finished): the server
      // refuses further guesses from it until they are settled or expire after 60 s.
      for (let i = 0; i < 10; i++) {
        const r = await call(
          endpoint(busy.routes.direct, 'register/start'),
          floodM1(busy.serverId),
        );
        expect(r.status).toBe(200);
      }
      const r = await runAgent([...base(busy), '--secret-file', secretFile, '--deadline', '10']);
      expect(r.json, JSON.stringify(r.json)).toMatchObject({ code: 'busy' });
      expect(r.code).toBe(8);
      expect(r.json).toMatchObject({ ok: false, exitCode: 8, code: 'busy' });
      expect(r.json.message).toMatch(/429|rate_limited/);
    } finally {
      await busy.stop();
    }
  });

  it('9: a damaged state file is reported and left as it was', async () => {
    const stateDir = join(tempDir(), 'state');
    await runAgent([...base(d, stateDir), '--secret-file', secretFile]);
    writeFileSync(join(stateDir, 'state.json'), '{"version":1,"installId":');
    const r = await runAgent([...base(d, stateDir), '--secret-file', secretFile]);
    expect(r.code).toBe(9);
    expect(r.json).toMatchObject({ ok: false, exitCode: 9, code: 'corrupt_state' });
    expect(readFileSync(join(stateDir, 'state.json'), 'utf8')).toBe('{"version":1,"installId":');
    const forced = await runAgent([...base(d, stateDir), '--secret-file', secretFile, '--force']);
    expect(forced.json).toMatchObject({ ok: true, code: 'registered' });
  });
});
