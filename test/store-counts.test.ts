/**
 * The store-based integrity check can fail: rows the clients were not told
 * about (a duplicate registration), ids the store does not hold, and ids
 * given twice are each reported. Uses a real server store.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeEach, describe, expect, it } from 'vitest';
import { BIN, runProc, tempDir, TEST_KDF_LOG_N } from './support/procs.ts';
import { compareWithStore, countStoredClients } from './support/store-counts.ts';

let dataDir: string;

function insertClient(id: string, key: string): void {
  const db = new Database(join(dataDir, 'server.db'));
  try {
    db.prepare(
      `INSERT INTO clients (client_id, key_fingerprint, client_key, machine_id, hostname, os, arch,
       agent_version, install_id, route, seen_as, secret_id, registered_at)
       VALUES (?, ?, 'k', 'm', 'h', 'linux', 'x64', 'test', 'i', 'direct', 'intranet', NULL, ?)`,
    ).run(id, key, new Date().toISOString());
  } finally {
    db.close();
  }
}

// Each test has a fresh store of its own.
beforeEach(async () => {
  dataDir = join(tempDir(), 'server');
  const r = await runProc(BIN.server, [
    'auth',
    'mode',
    'all',
    '--data-dir',
    dataDir,
    '--kdf-log-n',
    TEST_KDF_LOG_N,
  ]);
  expect(r.code, r.stderr).toBe(0);
});

describe('integrity from the store', () => {
  it('agrees when each client got one id and the store holds exactly those', () => {
    insertClient('c-1', 'fp-1');
    insertClient('c-2', 'fp-2');
    const { counts, problems } = compareWithStore(dataDir, ['c-1', 'c-2']);
    expect(problems).toEqual([]);
    expect(counts).toEqual({ rows: 2, distinctClientIds: 2, distinctKeys: 2, active: 2 });
  });

  it('reports a row no client was told about, an id the store lacks, and an id given twice', () => {
    const before = ['c-1', 'c-2'];
    insertClient('c-1', 'fp-1');
    insertClient('c-2', 'fp-2');
    insertClient('c-3', 'fp-3');
    insertClient('c-3-again', 'fp-3b');
    expect(countStoredClients(dataDir).rows).toBe(4);
    expect(compareWithStore(dataDir, ['c-3'], before).problems).toEqual([
      'the store holds 4 rows; expected 2 before + 1 registered',
    ]);
    expect(compareWithStore(dataDir, ['c-3', 'c-3-again', 'c-9'], before).problems).toEqual([
      'the store holds 4 rows; expected 2 before + 3 registered',
      '1 received ids are not in the store',
    ]);
    expect(compareWithStore(dataDir, ['c-3', 'c-3'], before).problems).toEqual([
      'clients received 1 duplicate ids',
    ]);
  });
});
