/**
 * The key derivation starts while the routes are probed when the server id
 * is known, and is used only after the verified hello confirms the server id
 * and the parameters; `--json` reports where the time went (`timings`).
 * Orderings only: durations belong to `npm run bench`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, runAgentInPty } from './support/agent.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { intercept } from './support/intercept.ts';
import { BIN, runCommand, tempDir } from './support/procs.ts';

const SECRET = 'Timings-Secret-77x';
/** The secret in the environment, and the early key derivation on. */
const EARLY_ENV = { CLIENT_BOOTSTRAP_SECRET: SECRET, CLIENT_BOOTSTRAP_EARLY_KEY: '1' };
/** How long the proxy holds every hello before passing it on. */
const HELLO_HELD_MS = 600;

interface Span {
  startMs: number;
  endMs: number;
}
interface Timings {
  processStartToMain: number;
  reexecMs: number | null;
  load: Span | null;
  config: Span | null;
  probes: Span | null;
  derivation: Span | null;
  handshake: Span | null;
  save: Span | null;
  exit: Span | null;
  total: number;
}
interface LogLine {
  message: string;
  timestamp: string;
  [k: string]: unknown;
}

let atDefault: Deployment; // announces the default KDF (N=2^17), as the agent expects
let atTest: Deployment; // announces the tests' N=2^14

beforeAll(async () => {
  [atDefault, atTest] = await Promise.all([deploy([SECRET], { kdfLogN: '17' }), deploy([SECRET])]);
}, 120_000);
afterAll(async () => {
  await Promise.all([atDefault?.stop(), atTest?.stop()]);
});

function logOf(path: string): LogLine[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogLine);
}

async function register(
  server: string,
  serverId: string,
  pin: string,
): Promise<{ json: Record<string, unknown>; log: LogLine[] }> {
  const dir = tempDir('cb-timings-');
  const r = await runAgent(
    [...directArgs(server, serverId, pin, dir), '--log-level', 'debug', '--deadline', '20'],
    { env: EARLY_ENV },
  );
  return { json: r.json, log: logOf(join(dir, 'agent.log')) };
}

/** A registration on the direct route, its state and log (agent.log) in `dir`. */
function directArgs(server: string, serverId: string, pin: string, dir: string): string[] {
  return [
    '--server',
    server,
    '--route',
    'direct',
    `--server-id=${serverId}`,
    `--server-pin=${pin}`,
    '--state-dir',
    join(dir, 's'),
    '--log-file',
    join(dir, 'agent.log'),
  ];
}

/** Every phase of a registration, in the order they happen, on one clock. */
function expectOrdered(t: Timings): void {
  for (const k of ['config', 'probes', 'derivation', 'handshake', 'save', 'exit'] as const) {
    const s = t[k];
    expect(s, k).not.toBeNull();
    expect(s?.startMs, k).toBeGreaterThanOrEqual(0);
    expect(s?.endMs, k).toBeGreaterThanOrEqual(s?.startMs as number);
  }
  const s = t as { [K in keyof Timings]: NonNullable<Timings[K]> };
  expect(s.processStartToMain).toBeGreaterThan(0);
  expect(s.config.startMs).toBe(0);
  expect(s.config.endMs).toBeLessThanOrEqual(s.probes.startMs);
  expect(s.probes.endMs).toBeLessThanOrEqual(s.handshake.startMs);
  expect(s.derivation.endMs).toBeLessThanOrEqual(s.handshake.startMs);
  expect(s.handshake.endMs).toBeLessThanOrEqual(s.save.startMs);
  expect(s.save.endMs).toBeLessThanOrEqual(s.exit.startMs);
  expect(s.processStartToMain + s.exit.endMs).toBeLessThanOrEqual(s.total);
}

describe('the key derivation overlaps the probes', () => {
  it('starts before a held hello arrives, and its key is used once hello confirms it', async () => {
    let helloPassedAt = 0;
    const proxy = await intercept(atDefault.server.url, {
      beforeUpstream: async (step) => {
        if (step !== 'hello') return;
        await new Promise((r) => setTimeout(r, HELLO_HELD_MS));
        helloPassedAt = Date.now();
      },
    });
    const { json, log } = await register(proxy.url, atDefault.serverId, atDefault.server.pin);
    expect(json.code, JSON.stringify(json)).toBe('registered');
    const t = json.timings as Timings;
    expectOrdered(t);
    // On the agent's clock: the derivation started while the probe was still waiting.
    expect((t.derivation as Span).startMs).toBeLessThan((t.probes as Span).endMs);
    // Started by the entry point, before the CLI had loaded: before the probes began.
    expect((t.derivation as Span).startMs).toBeLessThan((t.probes as Span).startMs);
    expect((t.derivation as Span).startMs).toBeLessThan((t.config as Span).endMs);
    // On the wall clock: taken over before the proxy let hello go on to the server.
    const started = log.find((l) => l.message === 'derive.early');
    expect(started).toBeDefined();
    expect(Date.parse(started?.timestamp as string)).toBeLessThan(helloPassedAt);
    expect(log.some((l) => l.message === 'derive.speculative_start')).toBe(false);
    expect(log.some((l) => l.message === 'derive.speculative_used')).toBe(true);
    expect(log.some((l) => l.message === 'derive.speculative_discarded')).toBe(false);
    // The client key (a key pair and an fsync) is made while the key is still awaited, not after.
    const at = (m: string): number => log.findIndex((l) => l.message === m);
    expect(at('client_key.ready')).toBeGreaterThan(-1);
    expect(at('client_key.ready')).toBeLessThan(at('derive.done'));
    // The debug log has the same timings as --json.
    const logged = log.find((l) => l.message === 'timings');
    expect(logged?.derivation).toEqual(t.derivation);
    expect(logged?.probes).toEqual(t.probes);
    expect(proxy.seen).toEqual({ hello: 1, start: 1, finish: 1 });
    // One connection for all three: on a real network a second would cost a
    // TCP (and TLS) handshake of its own.
    expect(proxy.connections).toBe(1);
  });

  it('a server announcing other KDF parameters still registers: the key is derived again', async () => {
    const { json, log } = await register(atTest.server.url, atTest.serverId, atTest.server.pin);
    expect(json.code, JSON.stringify(json)).toBe('registered');
    expectOrdered(json.timings as Timings);
    const discarded = log.find((l) => l.message === 'derive.speculative_discarded');
    expect(discarded).toMatchObject({ sameServer: true, N: 2 ** 14 });
    expect(log.some((l) => l.message === 'derive.speculative_used')).toBe(false);
  });

  it('a hello with another server id: the speculative key is never used and nothing is sent', async () => {
    const proxy = await intercept(atDefault.server.url);
    // The id (and pin) of the other server: the hello that comes back names a different one.
    const { json, log } = await register(proxy.url, atTest.serverId, atTest.server.pin);
    expect(json.ok).toBe(false);
    expect(json.code).toBe('wrong_server');
    expect(log.some((l) => l.message === 'derive.early')).toBe(true);
    expect(log.some((l) => l.message === 'derive.speculative_used')).toBe(false);
    expect(proxy.seen.start).toBe(0);
    expect(proxy.seen.finish).toBe(0);
    const t = json.timings as Timings;
    expect(t.handshake).toBeNull();
    expect(t.save).toBeNull();
  });
});

describe.skipIf(process.platform !== 'linux')('a registration on Linux', () => {
  // A fork while scrypt runs write-protects its 128 MiB: every page faults
  // again and huge pages are split (node-machine-id's shell cost about 150 ms).
  it('starts no other program: no fork, no exec, only threads (strace)', async () => {
    const dir = tempDir('cb-timings-');
    const trace = join(dir, 'strace.txt');
    const r = await runCommand(
      'strace',
      [
        '-f',
        '-qq',
        '-e',
        'trace=execve,fork,vfork,clone,clone3',
        '-o',
        trace,
        process.execPath,
        BIN.agent,
        ...directArgs(atDefault.server.url, atDefault.serverId, atDefault.server.pin, dir),
        '--json',
      ],
      { env: EARLY_ENV, timeoutMs: 60_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { code: string }).code, r.stdout).toBe('registered');
    const calls = readFileSync(trace, 'utf8').split('\n').filter(Boolean);
    const execs = calls.filter((l) => /\bexecve\(/.test(l));
    const processes = calls.filter(
      (l) => /\b(v?fork|clone3?)\(/.test(l) && !l.includes('CLONE_THREAD') && !/resumed>/.test(l),
    );
    // The threads are there (the trace works), and the one exec is node itself.
    expect(calls.filter((l) => l.includes('CLONE_THREAD')).length).toBeGreaterThan(2);
    expect(execs, execs.join('\n')).toHaveLength(1);
    expect(processes, processes.join('\n')).toEqual([]);
  });
});

describe('a machine registered already', () => {
  it('derives nothing: the re-run of a deployment sends nothing and pays for no scrypt', async () => {
    const dir = tempDir('cb-timings-');
    const args = [
      '--server',
      atTest.server.url,
      `--server-id=${atTest.serverId}`,
      `--server-pin=${atTest.server.pin}`,
      '--state-dir',
      join(dir, 's'),
      '--log-level',
      'debug',
    ];
    const first = await runAgent([...args, '--log-file', join(dir, 'first.log')], {
      env: EARLY_ENV,
    });
    expect(first.json.code, JSON.stringify(first.json)).toBe('registered');
    const again = await runAgent([...args, '--log-file', join(dir, 'again.log')], {
      env: EARLY_ENV,
    });
    expect(again.code).toBe(0);
    expect(again.json.code).not.toBe('registered');
    expect((again.json.timings as Timings).derivation).toBeNull();
    const againLog = logOf(join(dir, 'again.log'));
    expect(againLog.some((l) => l.message.startsWith('derive.'))).toBe(false);
    // Not even started early and left unused: scrypt alone would take 128 MiB.
    const peak = (lines: LogLine[]): number =>
      lines.find((l) => l.message === 'timings')?.peakRssMiB as number;
    expect(peak(logOf(join(dir, 'first.log')))).toBeGreaterThan(128);
    expect(peak(againLog)).toBeLessThan(peak(logOf(join(dir, 'first.log'))) - 64);
  });
});

describe('a secret typed at the prompt', () => {
  it('is not known before hello, so nothing is derived early; it still registers', async () => {
    const dir = tempDir('cb-timings-');
    const logFile = join(dir, 'agent.log');
    const r = await runAgentInPty(
      [
        '--server',
        atTest.server.url,
        '--route',
        'direct',
        `--server-id=${atTest.serverId}`,
        `--server-pin=${atTest.server.pin}`,
        '--state-dir',
        join(dir, 's'),
        '--log-file',
        logFile,
        '--log-level',
        'debug',
        '--deadline',
        '20',
      ],
      [SECRET],
    );
    expect(r.code, r.output).toBe(0);
    const log = logOf(logFile);
    expect(log.some((l) => l.message.startsWith('derive.speculative'))).toBe(false);
    const t = log.find((l) => l.message === 'timings') as unknown as Timings;
    // Derived once hello was in: the derivation starts after the probes ended.
    expect(t.derivation?.startMs).toBeGreaterThanOrEqual(t.probes?.endMs as number);
  });
});

describe('timings in --json', () => {
  it('every command reports them; phases that did not run are null', async () => {
    const dir = tempDir('cb-timings-');
    const r = await runAgent(['status', '--state-dir', join(dir, 's')]);
    const t = r.json.timings as Timings;
    expect(Object.keys(t).sort()).toEqual(
      [
        'config',
        'derivation',
        'exit',
        'handshake',
        'load',
        'probes',
        'processStartToMain',
        'reexecMs',
        'save',
        'total',
      ].sort(),
    );
    expect(t.probes).toBeNull();
    expect(t.derivation).toBeNull();
    // Only the single executable compiles a bundle of its own, and re-executes itself (test/sea.test.ts).
    expect(t.load).toBeNull();
    expect(t.reexecMs).toBeNull();
    expect(t.config?.startMs).toBe(0);
    expect(t.processStartToMain).toBeLessThanOrEqual(t.total);
  });
});
