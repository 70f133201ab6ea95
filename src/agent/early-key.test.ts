import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_KDF, Secret, derivePrs } from '../protocol/secret.ts';
import type { Hello } from '../protocol/index.ts';
import { silentLogger } from '../common/log.ts';
import type { Logger } from '../common/log.ts';
import { mayDerive, startEarlyKey, takeEarlyKey } from './early-key.ts';
import { KeyDeriver } from './speculative-key.ts';

const SERVER_ID = 'l4idDkM-4AhjRydT5EHUjw';
const SECRET = 'Early-Secret-2026x';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cb-early-'));
  writeFileSync(join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
});
afterEach(async () => {
  const left = takeEarlyKey();
  if (left) await left.result;
  rmSync(dir, { recursive: true, force: true });
});

const args = (...extra: string[]): string[] => [
  'register',
  '--server-id',
  SERVER_ID,
  '--secret-file',
  join(dir, 'secret'),
  '--state-dir',
  join(dir, 'state'),
  ...extra,
];

/** A log that keeps what it was told. */
function recordingLog(): { log: Logger; events: string[] } {
  const events: string[] = [];
  const log = new Proxy(silentLogger, {
    get(target, name, receiver) {
      if (name === 'debug' || name === 'info')
        return (message: string) => {
          events.push(message);
        };
      return Reflect.get(target, name, receiver) as unknown;
    },
  });
  return { log, events };
}

function helloFor(serverId: string): Hello {
  return { serverId, kdf: DEFAULT_KDF } as unknown as Hello;
}

describe('the key derivation started by the entry point', () => {
  it('starts for a register whose server id and secret file are given, and the run takes it', async () => {
    startEarlyKey(args(), {});
    const { log, events } = recordingLog();
    const keys = new KeyDeriver(Secret.from(SECRET), { log });
    expect(events).toContain('derive.early');
    const prs = await keys.forHello(helloFor(SERVER_ID));
    const direct = await derivePrs(
      Secret.from(SECRET),
      Buffer.from(SERVER_ID, 'base64url'),
      DEFAULT_KDF,
    );
    expect(prs.use().equals(direct.use())).toBe(true);
    expect(events).toContain('derive.speculative_used');
    // Taken once: a second deriver starts from nothing.
    expect(takeEarlyKey()).toBeUndefined();
  });

  it('is not used for another secret (the one the configuration read), and is wiped', async () => {
    startEarlyKey(args(), {});
    const early = takeEarlyKey();
    expect(early).toBeDefined();
    const { log, events } = recordingLog();
    const keys = new KeyDeriver(Secret.from(`${SECRET}-other`), { log, early });
    expect(events).toContain('derive.early_discarded');
    expect(early?.secret.use().every((b) => b === 0)).toBe(true);
    const r = await early!.result;
    await new Promise((res) => setImmediate(res));
    if ('prs' in r) expect(r.prs.use().every((b) => b === 0)).toBe(true);
    const prs = await keys.forHello(helloFor(SERVER_ID));
    const direct = await derivePrs(
      Secret.from(`${SECRET}-other`),
      Buffer.from(SERVER_ID, 'base64url'),
      DEFAULT_KDF,
    );
    expect(prs.use().equals(direct.use())).toBe(true);
  });

  it('takes the server id and secret from the environment and the config file too', () => {
    startEarlyKey(['register', '--state-dir', join(dir, 'state')], {
      CLIENT_BOOTSTRAP_SERVER_ID: SERVER_ID,
      CLIENT_BOOTSTRAP_SECRET: SECRET,
    });
    expect(takeEarlyKey()?.serverId).toBe(SERVER_ID);
    writeFileSync(join(dir, 'cfg.json'), JSON.stringify({ serverId: SERVER_ID, stateDir: 's' }));
    startEarlyKey(['--config', join(dir, 'cfg.json'), '--secret-file', join(dir, 'secret')], {});
    expect(takeEarlyKey()?.serverId).toBe(SERVER_ID);
  });

  it.each<[string, () => string[]]>([
    ['another command', () => ['check', ...args().slice(1)]],
    ['--help', () => [...args(), '--help']],
    ['the server id given twice', () => [...args(), `--server-id=${SERVER_ID}`]],
    ['no server id', () => ['register', '--secret-file', join(dir, 'secret')]],
    ['a malformed server id', () => ['register', '--server-id', 'nope', '--secret', SECRET]],
    ['the secret from stdin', () => ['register', '--server-id', SERVER_ID, '--secret-file', '-']],
    ['two secrets', () => [...args(), '--secret', SECRET]],
    [
      'a missing secret file',
      () => ['register', '--server-id', SERVER_ID, '--secret-file', join(dir, 'none')],
    ],
  ])('does not start for %s', (_what, argv) => {
    startEarlyKey(argv(), {});
    expect(takeEarlyKey()).toBeUndefined();
  });

  it('does not start on a machine registered already (the re-run usually derives nothing)', () => {
    mkdirSync(join(dir, 'state'));
    writeFileSync(join(dir, 'state', 'state.json'), '{}');
    startEarlyKey(args(), {});
    expect(takeEarlyKey()).toBeUndefined();
  });

  it('starts after a run that failed (its state file says no registration), not on a damaged one', async () => {
    mkdirSync(join(dir, 'state'));
    const stateFile = join(dir, 'state', 'state.json');
    writeFileSync(stateFile, '{"version":1,"installId":"x","registration":null}\n');
    startEarlyKey(args(), {});
    const early = takeEarlyKey();
    expect(early?.serverId).toBe(SERVER_ID);
    await early?.result;
    early?.secret.wipe();
    expect(mayDerive(args(), {})).toBe(true);
    writeFileSync(stateFile, '{"version":1,"regis');
    startEarlyKey(args(), {});
    expect(takeEarlyKey()).toBeUndefined();
    expect(mayDerive(args(), {})).toBe(false);
  });

  it('is asked once a run: the second ask (the agent entry, after the main script) reads nothing', async () => {
    mkdirSync(join(dir, 'state'));
    writeFileSync(join(dir, 'state', 'state.json'), '{}');
    startEarlyKey(args(), {});
    // Were the second ask to read the state directory again, it would start now.
    rmSync(join(dir, 'state', 'state.json'));
    startEarlyKey(args(), {});
    expect(takeEarlyKey()).toBeUndefined();
    // Once taken, a later run in the same process asks afresh.
    startEarlyKey(args(), {});
    const early = takeEarlyKey();
    expect(early?.serverId).toBe(SERVER_ID);
    await early?.result;
  });

  it('never waits on a secret "file" that is a FIFO nobody writes to', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Were it opened, this call would block the test for ever.
    startEarlyKey(['register', '--server-id', SERVER_ID, '--secret-file', fifo], {});
    expect(takeEarlyKey()).toBeUndefined();
  });
});

describe('whether a run will likely derive (the single executable re-executes itself on huge pages then)', () => {
  it('says yes for a register on an unregistered machine, known server id or not', () => {
    expect(mayDerive(args(), {})).toBe(true);
    expect(
      mayDerive(['--server', 'https://mgmt.example', '--state-dir', join(dir, 'state')], {}),
    ).toBe(true);
  });

  it('says no for another command, --help, --version, or a machine registered already', () => {
    for (const other of ['status', 'check', 'unregister', '--help', '-h', '--version'])
      expect(mayDerive(args(other), {}), other).toBe(false);
    mkdirSync(join(dir, 'state'));
    writeFileSync(join(dir, 'state', 'state.json'), '{}');
    expect(mayDerive(args(), {})).toBe(false);
    // The state directory from the environment, as the configuration reads it.
    expect(mayDerive(['register'], { CLIENT_BOOTSTRAP_STATE_DIR: join(dir, 'state') })).toBe(false);
  });

  it('says no on any doubt: a config file it cannot read, a flag given twice', () => {
    expect(mayDerive(args('--state-dir', join(dir, 'other')), {})).toBe(false);
    writeFileSync(join(dir, 'bad.json'), '{ not json');
    expect(mayDerive(args('--config', join(dir, 'bad.json')), {})).toBe(false);
  });
});
