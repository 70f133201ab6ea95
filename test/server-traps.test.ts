/**
 * The administrator's traps, as an administrator meets them: a server that
 * nobody can register with, a tunnel token the relay refuses, a port in
 * use, a mistyped --data-dir, --version.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, runProc, startRelay, startServer, tempDir } from './support/procs.ts';
import type { RelayHandle } from './support/procs.ts';

async function settings(s: { adminUrl: string; adminToken: string }) {
  const res = await request(`${s.adminUrl}/admin/v1/settings`, {
    headers: { authorization: `Bearer ${s.adminToken}` },
  });
  return (await res.body.json()) as { tunnel: { state: string; reason?: string } };
}

describe('start tells the administrator what is wrong', () => {
  let relay: RelayHandle;
  beforeAll(async () => {
    relay = await startRelay();
  }, 30_000);
  afterAll(async () => {
    await relay?.proc.stop();
  });

  it('warns on stderr when the mode needs a secret and none is active', async () => {
    const s = await startServer();
    try {
      expect(s.proc.stderr).toMatch(
        /bootstrap-server: warning: nobody can register: the mode "all" needs a secret and none is active; add one with/,
      );
      expect((await settings(s)).tunnel).toEqual({ state: 'not-configured' });
    } finally {
      await s.proc.stop();
    }
  });

  it('a tunnel token the relay refuses: a warning on stderr, tunnel.refused in the log, the state on the API', async () => {
    const dataDir = join(tempDir(), 'server');
    const made = await runProc(BIN.server, ['auth', 'mode', 'none', '--data-dir', dataDir]);
    expect(made.code).toBe(0);
    const show = JSON.parse(
      (await runProc(BIN.server, ['auth', 'show', '--json', '--data-dir', dataDir])).stdout,
    ) as { serverId: string };
    const good = await relay.addServer(show.serverId);
    const wrong = join(tempDir(), 'wrong-token');
    writeFileSync(wrong, 'not-the-token-the-relay-printed\n', { mode: 0o600 });
    const s = await startServer({
      dataDir,
      args: ['--relay', relay.url, '--relay-token-file', wrong],
    });
    try {
      await s.proc.waitFor(/warning: the relay refused the tunnel token/);
      expect(s.proc.stderr).toMatch(/internet clients cannot reach this server/);
      expect(s.proc.stderr).toMatch(/check --relay-token-file/);
      expect(s.proc.stderr).not.toContain('not-the-token');
      const log = readFileSync(join(dataDir, 'server.log'), 'utf8');
      expect(log).toMatch(/tunnel\.refused.*the relay refused the tunnel token/);
      expect(log).not.toContain('not-the-token');
      const t = (await settings(s)).tunnel;
      expect(t.state).toBe('refused');
      expect(t.reason).toMatch(/refused the tunnel token/);
      // Said once, not at every retry.
      expect(s.proc.stderr.match(/warning: the relay refused/g)).toHaveLength(1);
    } finally {
      await s.proc.stop();
    }
    // With the token the relay printed, the tunnel is up and the page says so.
    const ok = await startServer({
      dataDir,
      args: ['--relay', relay.url, '--relay-token-file', good],
    });
    try {
      await ok.proc.waitFor(/tunnel\.up/);
      await expect.poll(async () => (await settings(ok)).tunnel.state).toBe('connected');
      expect(ok.proc.stderr).not.toMatch(/refused/);
    } finally {
      await ok.proc.stop();
    }
  });
});

describe('a port in use is a usage error, not a bug', () => {
  let holder: Server;
  let port: number;
  beforeAll(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    port = (holder.address() as { port: number }).port;
  });
  afterAll(() => {
    holder?.close();
  });

  it.each([
    ['the server, --listen', BIN.server, ['--listen', 'PORT']],
    [
      'the server, --admin-listen',
      BIN.server,
      ['--listen', '127.0.0.1:0', '--admin-listen', 'PORT'],
    ],
    ['the relay', BIN.relay, ['--listen', 'PORT']],
  ])('%s', async (_, bin, args) => {
    const dataDir = join(tempDir(), 'data');
    const r = await runProc(bin, [
      'start',
      '--data-dir',
      dataDir,
      ...args.map((a) => (a === 'PORT' ? `127.0.0.1:${port}` : a)),
    ]);
    // stderr as the message: a crash (exit code null) shows its FATAL ERROR.
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is in use by another program`);
    expect(r.stderr).not.toMatch(/internal error|a bug|\n\s+at /);
  });
});

describe('read-only commands never create a data directory', () => {
  const missing = join(tempDir(), 'mistyped-dir');
  it.each([
    [['admin-url']],
    [['admin-token']],
    [['auth', 'show']],
    [['auth', 'secret', 'list']],
    [['auth', 'secret', 'remove', 'sec_x']],
    [['clients', 'list']],
    [['clients', 'remove', 'c1']],
    [['client-config']],
    [['install-command']],
    [['backup', '--to', join(tempDir(), 'b.db')]],
  ])('%j', async (args) => {
    const r = await runProc(BIN.server, [...args, '--data-dir', missing]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${missing} is not a server data directory (it does not exist)`);
    expect(r.stderr).toMatch(/check --data-dir/);
    expect(existsSync(missing)).toBe(false);
  });
});

describe('clients remove', () => {
  it('removes a client by id, says what it removed, and refuses an unknown id with exit 2', async () => {
    const s = await startServer();
    try {
      expect((await s.cli(['auth', 'mode', 'none'])).code).toBe(0);
      const { register } = await import('./support/wire-client.ts');
      const a = await register({ kind: 'direct', url: s.url }, { pin: s.pin });
      const b = await register({ kind: 'direct', url: s.url }, { pin: s.pin, machineId: 'm2' });
      if (!a.ok || !b.ok || a.result.kind !== 'registered' || b.result.kind !== 'registered')
        throw new Error('registration failed');
      const r = await s.cli(['clients', 'remove', a.result.clientId]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(
        new RegExp(`removed client ${a.result.clientId} \\(pc-042, registered `),
      );
      const left = JSON.parse((await s.cli(['clients', 'list', '--json'])).stdout) as {
        clientId: string;
      }[];
      expect(left.map((c) => c.clientId)).toEqual([b.result.clientId]);
      const again = await s.cli(['clients', 'remove', a.result.clientId]);
      expect(again.code).toBe(2);
      expect(again.stderr).toContain(`no registered client has the id "${a.result.clientId}"`);
      // The admin API removes too, audited with the actor.
      const del = await request(`${s.adminUrl}/admin/v1/clients/${b.result.clientId}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${s.adminToken}` },
      });
      expect(del.statusCode).toBe(200);
      expect(await del.body.json()).toEqual({ removed: b.result.clientId, hostname: 'pc-042' });
      const gone = await request(`${s.adminUrl}/admin/v1/clients/${b.result.clientId}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${s.adminToken}` },
      });
      expect(gone.statusCode).toBe(404);
      await gone.body.dump();
      const audit = await request(`${s.adminUrl}/admin/v1/audit?event=client.removed`, {
        headers: { authorization: `Bearer ${s.adminToken}` },
      });
      const rows = (await audit.body.json()) as Record<string, unknown>[];
      expect(rows.map((x) => [x.clientId, x.route, x.reason])).toEqual([
        [b.result.clientId, 'api', 'by api'],
        [a.result.clientId, 'cli', 'by cli'],
      ]);
    } finally {
      await s.proc.stop();
    }
  });
});

describe('--version', () => {
  const version = (
    JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  ).version;
  it.each([
    ['bootstrap-server', BIN.server],
    ['bootstrap-relay', BIN.relay],
  ])('%s --version prints the version and exits 0', async (_, bin) => {
    const r = await runProc(bin, ['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });
});
