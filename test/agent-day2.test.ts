/**
 * Day-2 commands as an administrator or a deployment tool runs them, with
 * the real agent against the real server and relay: status and unregister
 * need no route; check writes nothing, probes once and can confirm every
 * route; a different server needs --force; a run without root says where
 * its state goes; unregister tells the server, signed, when it can.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from './support/agent.ts';
import type { AgentRun } from './support/agent.ts';
import { tempRoot } from './support/cleanup.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { BIN, runCommand, startServer, tempDir } from './support/procs.ts';
import type { ServerHandle } from './support/procs.ts';

const SECRET = 'Day-Two-Secret-1';
let d: Deployment;
let other: ServerHandle;
let secretFile: string;

beforeAll(async () => {
  d = await deploy([SECRET]);
  other = await startServer();
  // The other server asks for no secret: a run without one registers there, trusting its pin.
  expect((await other.cli(['auth', 'mode', 'none'])).code).toBe(0);
  secretFile = join(tempDir(), 'secret');
  writeFileSync(secretFile, SECRET, { mode: 0o600 });
});
afterAll(async () => {
  await d?.stop();
  await other?.proc.stop();
});

const direct = (): string[] => ['--server', d.server.url, `--server-pin=${d.server.pin}`];
const both = (): string[] => [...direct(), '--relay', d.relay.url, `--server-id=${d.serverId}`];

async function registered(stateDir: string, extra: string[] = []): Promise<AgentRun> {
  const r = await runAgent([
    ...both(),
    '--secret-file',
    secretFile,
    '--state-dir',
    stateDir,
    '--log-file',
    join(stateDir, '..', 'agent.log'),
    ...extra,
  ]);
  expect(r.json, r.stderr).toMatchObject({ ok: true, code: 'registered' });
  return r;
}

async function clientIds(server: ServerHandle): Promise<string[]> {
  const r = await server.cli(['clients', 'list', '--json', '--limit', '0']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { clientId: string }[]).map((c) => c.clientId);
}

describe('status and unregister need no route', () => {
  it('status with state and no flags: exit 0, the registration; with an incomplete config too', async () => {
    const dir = join(tempDir(), 'state');
    const reg = await registered(dir);
    const r = await runAgent(['status', '--state-dir', dir]);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({
      ok: true,
      registered: true,
      clientId: reg.json.clientId,
      serverId: d.serverId,
    });
    // A relay without its server id is a usage error for register, not for status.
    const partial = await runAgent(['status', '--state-dir', dir, '--relay', d.relay.url]);
    expect(partial.code, partial.stderr).toBe(0);
    const none = await runAgent(['status', '--state-dir', join(tempDir(), 'none')]);
    expect(none.json).toMatchObject({ ok: true, exitCode: 0, registered: false });
  });
});

describe('check writes nothing and probes once', () => {
  it('confirms the secret with no state directory, key, lock or log left behind', async () => {
    const dir = join(tempDir(), 'never-made');
    const log = join(tempDir(), 'asked-for.log');
    const r = await runAgent([
      'check',
      ...direct(),
      '--secret-file',
      secretFile,
      '--state-dir',
      dir,
      '--log-file',
      log,
    ]);
    expect(r.json, r.stderr).toMatchObject({ ok: true, code: 'secret_accepted', route: 'direct' });
    expect(existsSync(dir)).toBe(false);
    // One hello on the one route, and the handshake that confirms the secret.
    const events = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { message: string }).message);
    expect(events.filter((e) => e === 'route.probe')).toHaveLength(1);
    expect(await clientIds(d.server)).not.toContain(r.json.clientId);
  });

  it('--route all confirms the secret on every route and reports each', async () => {
    const r = await runAgent([
      'check',
      ...both(),
      '--route',
      'all',
      '--secret-file',
      secretFile,
      '--state-dir',
      join(tempDir(), 'never-made'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.checks).toEqual([
      expect.objectContaining({ route: 'direct', ok: true, code: 'secret_accepted' }),
      expect.objectContaining({ route: 'relay', ok: true, code: 'secret_accepted' }),
    ]);
  });

  it('--route all fails when one route does not work; auto is content with the other', async () => {
    const args = [
      'check',
      ...direct(),
      '--relay',
      'http://127.0.0.1:9',
      `--server-id=${d.serverId}`,
      '--secret-file',
      secretFile,
      '--deadline',
      '5',
    ];
    const all = await runAgent([...args, '--route', 'all']);
    expect(all.code).toBe(5);
    expect(all.json.checks).toEqual([
      expect.objectContaining({ route: 'direct', ok: true, code: 'secret_accepted' }),
      expect.objectContaining({ route: 'relay', ok: false, code: 'no_route' }),
    ]);
    const auto = await runAgent(args);
    expect(auto.json).toMatchObject({ ok: true, code: 'secret_accepted', route: 'direct' });
  });

  it('a wrong secret on --route all is exit 4, naming the route', async () => {
    const wrong = join(tempDir(), 'wrong');
    writeFileSync(wrong, 'Not-The-Secret-9', { mode: 0o600 });
    const r = await runAgent(['check', ...both(), '--route', 'all', '--secret-file', wrong]);
    expect(r.code).toBe(4);
    expect(r.json.checks).toEqual([
      expect.objectContaining({ route: 'direct', ok: false, code: 'invalid_secret' }),
      expect.objectContaining({ route: 'relay', ok: false, code: 'invalid_secret' }),
    ]);
  });

  it('--route all is refused for register', async () => {
    const r = await runAgent([...direct(), '--route', 'all']);
    expect(r.code).toBe(2);
    expect(r.json.message).toBe('--route all is for check only');
  });
});

describe('a different server needs --force', () => {
  it('says what it would replace (exit 2), keeps it, and replaces it with --force', async () => {
    const dir = join(tempDir(), 'state');
    const first = await registered(dir);
    const before = readFileSync(join(dir, 'state.json'), 'utf8');
    const to = ['--server', other.url, `--server-pin=${other.pin}`, '--state-dir', dir];
    const refused = await runAgent(to);
    expect(refused.code).toBe(2);
    expect(refused.json).toMatchObject({ code: 'registered_elsewhere' });
    expect(refused.json.message).toBe(
      `registered as client ${String(first.json.clientId)} with server ${d.serverId} at ${d.server.url} / ${d.relay.url} (pin ${d.server.pin}); give --force to replace it with the server at ${other.url}`,
    );
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe(before);
    const forced = await runAgent([...to, '--force']);
    expect(forced.json, forced.stderr).toMatchObject({ ok: true, code: 'registered' });
    expect(forced.json.serverId).toBe(other.serverId);
    expect(forced.stderr).toContain(
      `warning: --force: replacing the registration (registered as client ${String(first.json.clientId)} with server ${d.serverId}`,
    );
    // The same server again (by id) is no replacement: already registered.
    const again = await runAgent([
      ...to.slice(0, 2),
      `--server-id=${other.serverId}`,
      ...to.slice(2),
    ]);
    expect(again.json).toMatchObject({ ok: true, code: 'already_registered' });
  });
});

describe('without root', () => {
  /** Runs the agent as uid 65534 with its own home. */
  async function asNobody(args: string[]): Promise<AgentRun & { home: string }> {
    const home = tempDir();
    chmodSync(tempRoot(), 0o711);
    chownSync(home, 65534, 65534);
    const r = await runCommand(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        BIN.agent,
        ...args,
        '--json',
      ],
      { env: { HOME: home, XDG_STATE_HOME: join(home, '.local', 'state') } },
    );
    return { ...r, json: JSON.parse(r.stdout.trim()) as Record<string, unknown>, home };
  }

  it('warns where the state goes; --user says it is meant and keeps the same place', async () => {
    const args = ['--server', other.url, `--server-pin=${other.pin}`];
    const plain = await asNobody(args);
    const where = join(plain.home, '.local', 'state', 'client-bootstrap');
    expect(plain.json, plain.stderr).toMatchObject({ ok: true, code: 'registered' });
    expect(plain.stderr).toContain(
      `warning: not running as root: a system install should run elevated (with sudo); the state goes to ${where}, where a system service will not look; give --user`,
    );
    expect(readdirSync(where)).toContain('state.json');
    const user = await asNobody([...args, '--user']);
    expect(user.json, user.stderr).toMatchObject({ ok: true, code: 'registered' });
    expect(user.stderr).not.toContain('not running as root');
    expect(readdirSync(join(user.home, '.local', 'state', 'client-bootstrap'))).toContain(
      'state.json',
    );
    // check writes nothing, not even the log it would keep in the state directory.
    const check = await asNobody(['check', ...args]);
    expect(check.json).toMatchObject({ ok: true, code: 'reachable' });
    expect(readdirSync(check.home)).toEqual([]);
    const status = await asNobody(['status']);
    expect(status.json).toMatchObject({ ok: true, registered: false });
    expect(readdirSync(status.home)).toEqual([]);
  });
});

describe('unregister tells the server', () => {
  it('signed, with no flags: the server removes the client; the state is gone', async () => {
    const dir = join(tempDir(), 'state');
    const reg = await registered(dir);
    expect(await clientIds(d.server)).toContain(reg.json.clientId);
    const r = await runAgent(['unregister', '--state-dir', dir]);
    expect(r.json, r.stderr).toMatchObject({
      ok: true,
      code: 'unregistered',
      clientId: reg.json.clientId,
      serverNotified: true,
      serverResult: 'removed',
    });
    expect(await clientIds(d.server)).not.toContain(reg.json.clientId);
    expect(readdirSync(dir).filter((f) => f !== 'lock')).toEqual([]);
  });

  it('through the relay when the registration came that way', async () => {
    const dir = join(tempDir(), 'state');
    const reg = await registered(dir, ['--route', 'relay']);
    const r = await runAgent(['unregister', '--state-dir', dir, '--route', 'relay']);
    expect(r.json, r.stderr).toMatchObject({ serverNotified: true, serverResult: 'removed' });
    expect(await clientIds(d.server)).not.toContain(reg.json.clientId);
  });

  it('no route answers: removed locally all the same (exit 0), saying the server was not told', async () => {
    const dir = join(tempDir(), 'state');
    const reg = await registered(dir);
    const r = await runAgent([
      'unregister',
      '--state-dir',
      dir,
      '--server',
      'http://127.0.0.1:9',
      '--route',
      'direct',
    ]);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({
      code: 'unregistered',
      serverNotified: false,
      serverResult: 'unreachable',
    });
    expect(String(r.json.message)).toContain(
      `the server was not told (server: 127.0.0.1:9 refused the connection); an administrator can remove it with: bootstrap-server clients remove ${String(reg.json.clientId)}`,
    );
    expect(existsSync(join(dir, 'state.json'))).toBe(false);
    expect(await clientIds(d.server)).toContain(reg.json.clientId);
  });

  it('with nothing saved, nothing is created', async () => {
    const dir = join(tempDir(), 'none');
    const r = await runAgent(['unregister', '--state-dir', dir]);
    expect(r.json).toMatchObject({ ok: true, code: 'not_registered', serverNotified: false });
    expect(existsSync(dir)).toBe(false);
  });
});
