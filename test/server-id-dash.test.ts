/**
 * A server id is 22 base64url characters, so one in 64 made before ids
 * were drawn again begins with "-". Typed as a separate word after
 * --server-id, yargs read it as options ("Unknown argument: D"). Such a
 * server, its relay entry and an agent registering through the relay, each
 * given the id the way an administrator types it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from './support/agent.ts';
import { registerViaRelay } from './support/fleet.ts';
import {
  BIN,
  TEST_KDF_LOG_N,
  runProc,
  startRelay,
  startServer,
  tempDir,
  writeSecretFile,
} from './support/procs.ts';
import type { RelayHandle, ServerHandle } from './support/procs.ts';

const SECRET = 'Dash-Id-Secret-31k';
/** 16 bytes whose base64url text begins with "-D", as the failing CI run's did. */
const DASH_ID = '-D' + 'x'.repeat(19) + 'w';

let relay: RelayHandle;
let server: ServerHandle;
let tokenFile: string;

beforeAll(async () => {
  const dataDir = join(tempDir('cb-dash-'), 'server');
  const kdf = ['--data-dir', dataDir, '--kdf-log-n', TEST_KDF_LOG_N];
  const made = await runProc(BIN.server, ['auth', 'mode', 'all', ...kdf]);
  expect(made.code, made.stderr).toBe(0);
  // The directory as an older server made it: its id begins with "-". A secret's
  // verifier is bound to the server id, so the secret is added after.
  const db = new Database(join(dataDir, 'server.db'));
  db.prepare("UPDATE settings SET value = ? WHERE key = 'server_id'").run(DASH_ID);
  db.close();
  const marker = join(dataDir, 'identity.json');
  if (existsSync(marker)) {
    const m = JSON.parse(readFileSync(marker, 'utf8')) as Record<string, string>;
    writeFileSync(marker, JSON.stringify({ ...m, serverId: DASH_ID }));
  }
  const add = await runProc(BIN.server, ['auth', 'secret', 'add', ...kdf], { input: SECRET });
  expect(add.code, add.stderr).toBe(0);

  relay = await startRelay();
  const r = await runProc(BIN.relay, [
    'add-server',
    '--data-dir',
    relay.dataDir,
    '--server-id',
    DASH_ID,
  ]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain(`added server ${DASH_ID}.`);
  tokenFile = writeSecretFile(join(tempDir(), 'token'), `${r.stdout.trim().split('\n').at(-1)}\n`);
  server = await startServer({
    dataDir,
    args: ['--relay', relay.url, '--relay-token-file', tokenFile],
  });
  await server.proc.waitFor(/tunnel\.up/);
});
afterAll(async () => {
  await server?.proc.stop();
  await relay?.proc.stop();
});

describe('a server id that begins with "-"', () => {
  it('is the id the server reports', () => {
    expect(server.serverId).toBe(DASH_ID);
  });

  it('registers through the relay with --server-id given as a separate word', async () => {
    const secretFile = writeSecretFile(join(tempDir(), 'secret'), SECRET);
    // registerViaRelay gives --server-id and --server-pin each as a word of its own.
    const r = await registerViaRelay(relay.url, server, secretFile);
    expect(r.code, `${r.stderr}\n${JSON.stringify(r.json)}`).toBe(0);
    expect(r.json).toMatchObject({ ok: true, route: 'relay', serverId: DASH_ID });
  });

  it('is taken in camelCase too (--serverId), as yargs takes the option', async () => {
    const r = await runAgent([
      'check',
      '--relay',
      relay.url,
      '--serverId',
      DASH_ID,
      '--server-pin',
      server.pin,
      '--state-dir',
      join(tempDir(), 'state'),
    ]);
    expect(r.code, `${r.stderr}\n${JSON.stringify(r.json)}`).toBe(0);
    expect(r.json).toMatchObject({ ok: true, serverId: DASH_ID });
  });

  it('does not turn a lone "-" after a path option into a file named "-"', async () => {
    const r = await runAgent([
      'check',
      '--relay',
      relay.url,
      '--server-id',
      DASH_ID,
      '--log-file',
      '-',
    ]);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ code: 'usage', message: '--log-file cannot be "-"' });
    expect(r.json.hint).toMatch(/--secret-file only/);
  });

  it('still names a missing value: --server-id followed by another option is refused', async () => {
    const r = await runAgent(['check', '--relay', relay.url, '--server-id', '--quiet']);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ code: 'usage' });
    expect(String(r.json.message)).toMatch(/server.id/i);
  });

  it('is removed from the relay with --server-id given as a separate word', async () => {
    const r = await runProc(BIN.relay, [
      'remove-server',
      '--data-dir',
      relay.dataDir,
      '--server-id',
      DASH_ID,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`removed server ${DASH_ID}`);
  });
});
