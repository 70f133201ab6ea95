/**
 * The server never forgets who it is, and damage is reported as damage:
 * an emptied, truncated or garbled database, a damaged setting, random
 * damage inside a page, and a relay registry cut in half each stop the
 * program with exit 3 and a message that says what is wrong and how to
 * restore; a backup taken while the server runs brings it all back.
 */
import {
  cpSync,
  openSync,
  readFileSync,
  closeSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { BIN, runProc, startProc, startRelay, startServer, tempDir } from './support/procs.ts';
import { register } from './support/wire-client.ts';

const SECRET = 'Backup-Secret-2026';

interface Used {
  dataDir: string;
  serverId: string;
  pin: string;
  clientId: string;
}

/** A stopped server's data directory with one secret and one registered client. */
async function makeUsedDataDir(): Promise<Used> {
  const server = await startServer();
  try {
    expect((await server.cli(['auth', 'secret', 'add'], `${SECRET}\n`)).code).toBe(0);
    const out = await register(
      { kind: 'direct', url: server.url },
      { secret: SECRET, pin: server.pin },
    );
    if (!out.ok || out.result.kind !== 'registered') throw new Error('registration failed');
    return {
      dataDir: server.dataDir,
      serverId: server.serverId,
      pin: server.pin,
      clientId: out.result.clientId,
    };
  } finally {
    await server.proc.stop();
  }
}

let template: Promise<Used> | undefined;
/** A copy of one used data directory (made once), for a test to damage. */
async function usedDataDir(): Promise<Used> {
  template ??= makeUsedDataDir();
  const t = await template;
  const dataDir = join(tempDir(), 'server');
  cpSync(t.dataDir, dataDir, { recursive: true });
  return { ...t, dataDir };
}

function start(dataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runProc(BIN.server, [
    'start',
    '--data-dir',
    dataDir,
    '--listen',
    '127.0.0.1:0',
    '--kdf-log-n',
    '14',
  ]);
}

function setSetting(dataDir: string, key: string, value: string): void {
  const db = new Database(join(dataDir, 'server.db'));
  db.prepare('UPDATE settings SET value = ? WHERE key = ?').run(value, key);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

describe('a damaged or lost database stops the server with exit 3', () => {
  it('an emptied server.db: no new identity, the old one named', async () => {
    const d = await usedDataDir();
    truncateSync(join(d.dataDir, 'server.db'), 0);
    const r = await start(d.dataDir);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`held server ${d.serverId} (pin ${d.pin})`);
    expect(r.stderr).toContain('bootstrap-server restore');
    expect(r.stderr).not.toMatch(/internal error/);
    // The admin commands refuse too, and nothing was created in its place.
    const show = await runProc(BIN.server, ['auth', 'show', '--data-dir', d.dataDir]);
    expect(show.code).toBe(3);
    expect(statSync(join(d.dataDir, 'server.db')).size).toBe(0);
  });

  it('a deleted server.db', async () => {
    const d = await usedDataDir();
    for (const f of ['server.db', 'server.db-wal', 'server.db-shm'])
      try {
        truncateSync(join(d.dataDir, f), 0);
      } catch {
        // not there
      }
    const { rmSync } = await import('node:fs');
    rmSync(join(d.dataDir, 'server.db'));
    const r = await start(d.dataDir);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/its database server\.db is gone/);
  });

  it('a damaged header', async () => {
    const d = await usedDataDir();
    const fd = openSync(join(d.dataDir, 'server.db'), 'r+');
    writeSync(fd, Buffer.from('this is no database at all'), 0, 26, 0);
    closeSync(fd);
    const r = await start(d.dataDir);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/server\.db is damaged \(SQLITE_NOTADB/);
  });

  it('a truncated file', async () => {
    const d = await usedDataDir();
    const db = join(d.dataDir, 'server.db');
    truncateSync(db, Math.floor(statSync(db).size / 2));
    const r = await start(d.dataDir);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/damaged/);
  });

  it.each([
    ['server_key', '-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n'],
    ['kdf', '{"name":"scrypt","N":3,"r":8,"p":1}'],
    ['kdf', '{"name":"scr'],
    ['mode', 'everybody'],
    ['server_id', 'not-an-id'],
  ])('a garbled setting %s', async (key, value) => {
    const d = await usedDataDir();
    setSetting(d.dataDir, key, value);
    const r = await start(d.dataDir);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`the stored setting ${key} is damaged`);
  });

  it('random damage inside a data page is found by the check at start', async () => {
    const d = await usedDataDir();
    const db = new Database(join(d.dataDir, 'server.db'));
    const insert = db.prepare(
      "INSERT INTO audit (time, event, outcome, reason) VALUES ('2026-01-01T00:00:00.000Z', 'filler', 'x', ?)",
    );
    for (let i = 0; i < 3000; i++) insert.run(`filler row ${i} ${'x'.repeat(40)}`);
    db.pragma('wal_checkpoint(TRUNCATE)');
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.close();
    const fd = openSync(join(d.dataDir, 'server.db'), 'r+');
    writeSync(fd, randomBytes(pageSize), 0, pageSize, Math.floor(pages / 2) * pageSize);
    closeSync(fd);
    const r = await start(d.dataDir);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/damaged/);
  });
});

describe('backup and restore', () => {
  it('a backup taken while the server runs restores the identity, the secrets and the clients', async () => {
    const server = await startServer();
    const backup = join(tempDir(), 'server-backup.db');
    let before: { serverId: string; pin: string; clientId: string };
    try {
      expect((await server.cli(['auth', 'secret', 'add'], `${SECRET}\n`)).code).toBe(0);
      const out = await register(
        { kind: 'direct', url: server.url },
        { secret: SECRET, pin: server.pin },
      );
      if (!out.ok || out.result.kind !== 'registered') throw new Error('registration failed');
      before = { serverId: server.serverId, pin: server.pin, clientId: out.result.clientId };
      const b = await server.cli(['backup', '--to', backup]);
      expect(b.code).toBe(0);
      expect(b.stdout).toMatch(/keep it like a private key/);
      expect(statSync(backup).mode & 0o777).toBe(0o600);
      expect(readFileSync(backup).toString('latin1')).not.toContain(SECRET);
      // A restore under a running server is refused.
      const busy = await server.cli(['restore', '--from', backup]);
      expect(busy.code).toBe(2);
      expect(busy.stderr).toMatch(/is running/);
    } finally {
      await server.proc.stop();
    }
    truncateSync(join(server.dataDir, 'server.db'), 0);
    expect((await start(server.dataDir)).code).toBe(3);
    const r = await runProc(BIN.server, [
      'restore',
      '--data-dir',
      server.dataDir,
      '--from',
      backup,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`restored server ${before.serverId}`);
    const again = await startServer({ dataDir: server.dataDir });
    try {
      expect(again.serverId).toBe(before.serverId);
      expect(again.pin).toBe(before.pin);
      const clients = JSON.parse((await again.cli(['clients', 'list', '--json'])).stdout) as {
        clientId: string;
      }[];
      expect(clients.map((c) => c.clientId)).toEqual([before.clientId]);
      const out = await register(
        { kind: 'direct', url: again.url },
        { secret: SECRET, pin: again.pin },
      );
      expect(out.ok).toBe(true);
    } finally {
      await again.proc.stop();
    }
  });

  it('refuses a file that is not a backup, and one of another server without --force', async () => {
    const d = await usedDataDir();
    const junk = join(tempDir(), 'junk.db');
    writeFileSync(junk, 'nothing');
    const r = await runProc(BIN.server, ['restore', '--data-dir', d.dataDir, '--from', junk]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a usable backup/);
    const other = await makeUsedDataDir();
    const backup = join(tempDir(), 'other.db');
    expect(
      (await runProc(BIN.server, ['backup', '--data-dir', other.dataDir, '--to', backup])).code,
    ).toBe(0);
    const mismatch = await runProc(BIN.server, [
      'restore',
      '--data-dir',
      d.dataDir,
      '--from',
      backup,
    ]);
    expect(mismatch.code).toBe(3);
    expect(mismatch.stderr).toContain(`holds server ${d.serverId}`);
  });
});

describe('the relay registry', () => {
  it('cut in half: the relay does not start (exit 3) and names the file', async () => {
    const relay = await startRelay();
    await relay.addServer('AAAAAAAAAAAAAAAAAAAAAA');
    await relay.proc.stop();
    const file = join(relay.dataDir, 'servers.json');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, Math.floor(text.length / 2)));
    const p = startProc(BIN.relay, [
      'start',
      '--data-dir',
      relay.dataDir,
      '--listen',
      '127.0.0.1:0',
    ]);
    const code = await new Promise<number | null>((resolve) => p.child.once('exit', resolve));
    expect(code).toBe(3);
    expect(p.stderr).toContain(`${file} is damaged`);
  });

  it('damaged while running: the servers last read keep working', async () => {
    const relay = await startRelay();
    try {
      await relay.addServer('AAAAAAAAAAAAAAAAAAAAAA');
      const status = (): Promise<number> =>
        fetch(`${relay.url}/v1/servers/AAAAAAAAAAAAAAAAAAAAAA/status`).then((r) => r.status);
      expect(await status()).toBe(200);
      writeFileSync(join(relay.dataDir, 'servers.json'), '{"servers": {"AAAA');
      expect(await status()).toBe(200);
    } finally {
      await relay.proc.stop();
    }
  });
});
