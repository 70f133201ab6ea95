/**
 * HTTP, audit and state hygiene under attack, with real processes: an
 * audit that an unauthenticated flood cannot grow, cross-site and
 * rebinding requests refused, admin tokens stored as hashes, a busy port
 * reported as such, state that is not the agent's own refused, and a
 * relay that stops cleanly with tunnel polls open.
 */
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportPrivateKeyPem, generateSigningKey } from '../src/protocol/index.ts';
import { runAgent } from './support/agent.ts';
import { floodM1 } from './support/attacker.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { BIN, runProc, startServer, tempDir } from './support/procs.ts';
import type { ServerHandle } from './support/procs.ts';
import { call, endpoint } from './support/wire-client.ts';

interface AuditRow {
  event: string;
  source?: string;
  outcome: string;
  reason?: string;
  count: number;
}

function adminGet(
  server: ServerHandle,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const url = new URL(path, server.adminUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { headers: { authorization: `Bearer ${server.adminToken}`, ...headers } },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('admin request timed out')));
    req.end();
  });
}

/** The database's own size (pages in use, after a checkpoint), in bytes. */
function dbBytes(dataDir: string): number {
  const db = new Database(join(dataDir, 'server.db'));
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
    const pages = db.pragma('page_count', { simple: true }) as number;
    const free = db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * (db.pragma('page_size', { simple: true }) as number);
  } finally {
    db.close();
  }
}

describe('an audit that cannot be flooded', () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await startServer({ args: ['--audit-max-rows', '100'] });
    const add = await server.cli(['auth', 'secret', 'add'], 'Audit-Flood-2026\n');
    expect(add.code).toBe(0);
  });
  afterAll(() => server?.proc.stop());

  it('20,000 throttled requests from one source add a few rows, not 20,000', async () => {
    const audit = async (): Promise<AuditRow[]> =>
      JSON.parse((await adminGet(server, '/admin/v1/audit?limit=1000')).body) as AuditRow[];
    const before = dbBytes(server.dataDir);
    const rowsBefore = (await audit()).length;
    const pool = new Pool(server.url, { connections: 16, localAddress: '127.0.0.61' });
    const statuses = new Map<number, number>();
    const serverId = server.serverId;
    let sent = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (sent < 20_000) {
          sent += 1;
          const r = await pool.request({
            path: '/v1/register/start',
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(floodM1(serverId)),
          });
          await r.body.dump();
          statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
        }
      }),
    );
    await pool.close();
    expect(statuses.get(200)).toBe(10);
    expect(statuses.get(429)).toBe(sent - 10);
    const rows = (await audit()).filter((r) => r.source === '127.0.0.61');
    expect(rows.length).toBeLessThanOrEqual(3);
    expect(rows.reduce((n, r) => n + r.count, 0)).toBe(sent - 10);
    expect((await audit()).length - rowsBefore).toBeLessThanOrEqual(3);
    const after = dbBytes(server.dataDir);
    console.log(
      `audit flood: ${sent} requests, ${rows.length} rows for the source, database ${before} -> ${after} bytes`,
    );
    expect(after - before).toBeLessThan(64 * 1024);
  });

  it('keeps at most --audit-max-rows rows when many sources each leave one', async () => {
    const url = endpoint({ kind: 'direct', url: server.url }, 'register/start');
    for (let i = 1; i <= 250; i++) {
      const r = await call(url, { v: 1 }, `127.0.${1 + Math.floor(i / 200)}.${1 + (i % 200)}`);
      expect(r.status).toBe(400);
    }
    const db = new Database(join(server.dataDir, 'server.db'), { readonly: true });
    try {
      const { n } = db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number };
      expect(n).toBeLessThanOrEqual(110);
      expect(n).toBeGreaterThanOrEqual(90);
    } finally {
      db.close();
    }
  });
});

describe('HTTP hygiene', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await deploy(['Hygiene-Secret-2026'], { serverArgs: ['--admin-host', 'mgmt.example'] });
  });
  afterAll(() => d?.stop());

  it.each([
    ['text/plain'],
    ['application/x-www-form-urlencoded'],
    ['multipart/form-data; boundary=x'],
  ])(
    'registration POSTs sent as %s get 415 on both routes (what a cross-site form can send)',
    async (type) => {
      for (const route of [d.routes.direct, d.routes.relay]) {
        const res = await fetch(endpoint(route, 'register/start'), {
          method: 'POST',
          headers: { 'content-type': type },
          body: JSON.stringify(floodM1(d.serverId)),
        });
        expect(res.status).toBe(415);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
          'unsupported_media_type',
        );
      }
    },
  );

  it('the admin listener refuses a foreign Host (DNS rebinding) and answers its own', async () => {
    const port = new URL(d.server.adminUrl).port;
    expect(
      (await adminGet(d.server, '/admin/v1/settings', { host: 'attacker.example' })).status,
    ).toBe(421);
    expect((await adminGet(d.server, '/admin/', { host: `attacker.example:${port}` })).status).toBe(
      421,
    );
    expect((await adminGet(d.server, '/admin/v1/settings')).status).toBe(200);
    expect(
      (await adminGet(d.server, '/admin/v1/settings', { host: `localhost:${port}` })).status,
    ).toBe(200);
    expect(
      (await adminGet(d.server, '/admin/v1/settings', { host: `mgmt.example:${port}` })).status,
    ).toBe(200);
  });

  it('admin POSTs must be JSON too', async () => {
    const res = await fetch(`${d.server.adminUrl}/admin/v1/mode`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${d.server.adminToken}`, 'content-type': 'text/plain' },
      body: JSON.stringify({ mode: 'none' }),
    });
    expect(res.status).toBe(415);
  });

  it('stores admin tokens only as hashes; admin-url mints working links; revoke-all ends them', async () => {
    const link = (await d.server.cli(['admin-url'])).stdout.trim();
    const fromLink = /#token=([A-Za-z0-9_-]+)$/.exec(link)?.[1] as string;
    expect(fromLink).toBeTruthy();
    const files = ['server.db', 'server.db-wal'].map((f) => {
      try {
        return readFileSync(join(d.server.dataDir, f)).toString('latin1');
      } catch {
        return '';
      }
    });
    for (const token of [d.server.adminToken, fromLink])
      for (const content of files) expect(content.includes(token)).toBe(false);
    const withLink = await fetch(`${d.server.adminUrl}/admin/v1/settings`, {
      headers: { authorization: `Bearer ${fromLink}` },
    });
    expect(withLink.status).toBe(200);
    expect((await d.server.cli(['admin-token', '--revoke-all'])).code).toBe(0);
    expect((await adminGet(d.server, '/admin/v1/settings')).status).toBe(401);
  });

  it('a token an earlier version stored in clear is moved to its hash and keeps working', async () => {
    const dataDir = join(tempDir(), 'server');
    expect((await runProc(BIN.server, ['auth', 'mode', 'all', '--data-dir', dataDir])).code).toBe(
      0,
    );
    const db = new Database(join(dataDir, 'server.db'));
    db.prepare(
      "INSERT INTO settings (key, value) VALUES ('admin_token', 'old-clear-token-123')",
    ).run();
    db.close();
    const server = await startServer({ dataDir });
    try {
      const check = new Database(join(dataDir, 'server.db'), { readonly: true });
      expect(
        check.prepare("SELECT value FROM settings WHERE key = 'admin_token'").get(),
      ).toBeUndefined();
      check.close();
      const res = await fetch(`${server.adminUrl}/admin/v1/settings`, {
        headers: { authorization: 'Bearer old-clear-token-123' },
      });
      expect(res.status).toBe(200);
    } finally {
      await server.proc.stop();
    }
  });
});

describe('listeners and shutdown', () => {
  it('a busy admin port: exit 2 with the address and the reason, no stack trace', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as AddressInfo).port;
    try {
      const r = await runProc(BIN.server, [
        'start',
        '--data-dir',
        join(tempDir(), 'server'),
        '--listen',
        '127.0.0.1:0',
        '--admin-listen',
        `127.0.0.1:${port}`,
        '--kdf-log-n',
        '14',
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port} for the admin API`);
      expect(r.stderr).toMatch(/already in use/);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    } finally {
      holder.close();
    }
  });

  it('the relay exits 0 on SIGTERM with tunnel polls open', async () => {
    const d = await deploy([]);
    try {
      const code = await d.relay.proc.stop('SIGTERM');
      expect(d.relay.proc.stderr).not.toMatch(/write after end|internal error/);
      expect(code).toBe(0);
    } finally {
      await d.stop();
    }
  });
});

describe('state the agent trusts is its own', () => {
  const asRoot = process.getuid?.() === 0;

  async function run(stateDir: string): Promise<Awaited<ReturnType<typeof runAgent>>> {
    return runAgent(
      ['--server', 'http://127.0.0.1:9', '--state-dir', stateDir, '--deadline', '5'],
      {
        env: { CLIENT_BOOTSTRAP_SECRET: 'Not-Sent-Anywhere-1' },
      },
    );
  }

  function plantedDir(): { dir: string; key: string } {
    const dir = join(tempDir(), 'state');
    mkdirSync(dir, { mode: 0o700 });
    const key = join(dir, 'client-key.pem');
    writeFileSync(key, exportPrivateKeyPem(generateSigningKey().privateKey), { mode: 0o600 });
    return { dir, key };
  }

  it.skipIf(!asRoot)(
    'a directory owned by another user, with a planted key: exit 9, key unused',
    async () => {
      const { dir, key } = plantedDir();
      chmodSync(key, 0o644);
      chownSync(key, 65534, 65534);
      chownSync(dir, 65534, 65534);
      const r = await run(dir);
      expect(r.code).toBe(9);
      expect(r.json).toMatchObject({ code: 'state_untrusted' });
      expect(String(r.json.message)).toContain(`refusing ${dir}: it is owned by uid 65534`);
    },
  );

  it('a key file that others can read: exit 9, naming the file', async () => {
    const { dir, key } = plantedDir();
    chmodSync(key, 0o644);
    const r = await run(dir);
    expect(r.code).toBe(9);
    expect(String(r.json.message)).toBe(
      `refusing ${key}: it is readable by other users (mode 0644)`,
    );
  });

  it('a state directory that others can write: exit 9', async () => {
    const { dir } = plantedDir();
    chmodSync(dir, 0o777);
    const r = await run(dir);
    expect(r.code).toBe(9);
    expect(String(r.json.message)).toMatch(/writable by other users \(mode 0777\)/);
  });

  it('its own private directory is used as before (the route is what fails here)', async () => {
    const { dir } = plantedDir();
    const r = await run(dir);
    expect(r.code).toBe(5);
  });
});
