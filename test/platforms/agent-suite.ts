/**
 * The checks every packaged target passes, wherever it runs: answers
 * --version, registers directly and through the relay, exits 4 on a wrong
 * secret and 3 with no secret and no terminal, prints one JSON object, and
 * writes its state and log where it says. The timings go to test-artifacts/
 * for the comparison table (no assertion on speed).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deploy } from '../support/deploy.ts';
import type { Deployment } from '../support/deploy.ts';
import { ROOT, tempDir } from '../support/procs.ts';
import { recordTimings, removeBuilds } from './emulators.ts';
import type { Platform } from './emulators.ts';

export const SECRET = 'Platform-Secret-7q';
const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

export interface SuiteContext {
  readonly platform: Platform;
  readonly d: Deployment;
  /** A directory the agent can write, as a host path. */
  dir(): string;
}

/** Registers the common checks; `extra` adds the platform's own. */
export function agentSuite(
  setup: () => Platform,
  extra: (ctx: () => SuiteContext) => void = () => undefined,
): void {
  let platform: Platform;
  let d: Deployment;
  const times: Record<string, number> = {};
  const dir = (): string => tempDir('cb-plat-');

  beforeAll(async () => {
    platform = setup();
    d = await deploy([SECRET]);
  }, 600_000);
  afterAll(async () => {
    recordTimings(platform.target, platform.via, times);
    platform?.stop();
    removeBuilds();
    await d?.stop();
  });

  const secretFile = (text: string | Buffer): string => {
    const f = join(dir(), 'secret.txt');
    writeFileSync(f, text);
    return platform.toAgentPath(f);
  };

  it('answers --version', () => {
    const r = platform.run(['--version']);
    times.version = r.ms;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  it('registers directly, and writes its state and log where it is told', () => {
    const state = dir();
    const log = join(dir(), 'agent.log');
    const r = platform.run([
      '--server',
      d.server.url,
      `--server-pin=${d.server.pin}`,
      '--secret-file',
      secretFile(`${SECRET}\n`),
      '--state-dir',
      platform.toAgentPath(state),
      '--log-file',
      platform.toAgentPath(log),
      '--json',
    ]);
    times.registerDirect = r.ms;
    expect(r.json, r.stderr).toMatchObject({ ok: true, exitCode: 0, route: 'direct' });
    expect(r.code).toBe(0);
    expect(existsSync(join(state, 'state.json'))).toBe(true);
    expect(existsSync(join(state, 'client-key.pem'))).toBe(true);
    expect(r.json.logFile).toBe(platform.toAgentPath(log));
    const logText = readFileSync(log, 'utf8');
    expect(logText).toMatch(/route/);
    for (const text of [
      r.stdout,
      r.stderr,
      logText,
      readFileSync(join(state, 'state.json'), 'utf8'),
    ])
      expect(text).not.toContain(SECRET);
  });

  it('registers through the relay with the secret from the environment', () => {
    const r = platform.run(
      [
        '--relay',
        d.relay.url,
        `--server-id=${d.serverId}`,
        `--server-pin=${d.server.pin}`,
        '--state-dir',
        platform.toAgentPath(dir()),
        '--log-file',
        platform.toAgentPath(join(dir(), 'agent.log')),
        '--json',
      ],
      { CLIENT_BOOTSTRAP_SECRET: SECRET },
    );
    times.registerRelay = r.ms;
    expect(r.json, r.stderr).toMatchObject({ ok: true, exitCode: 0, route: 'relay' });
    expect(r.code).toBe(0);
  });

  it('exits 4 on a wrong secret', () => {
    const r = platform.run([
      '--server',
      d.server.url,
      `--server-pin=${d.server.pin}`,
      '--secret-file',
      secretFile('Wrong-Secret-123\n'),
      '--state-dir',
      platform.toAgentPath(dir()),
      '--log-file',
      platform.toAgentPath(join(dir(), 'agent.log')),
      '--json',
    ]);
    times.wrongSecret = r.ms;
    expect(r.code, r.stderr).toBe(4);
    expect(r.json).toMatchObject({ ok: false, exitCode: 4 });
  });

  it('exits 3 at once when a secret is needed and none is given, with no terminal', () => {
    const r = platform.run([
      '--server',
      d.server.url,
      `--server-pin=${d.server.pin}`,
      '--state-dir',
      platform.toAgentPath(dir()),
      '--log-file',
      platform.toAgentPath(join(dir(), 'agent.log')),
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.json).toMatchObject({ ok: false, exitCode: 3 });
    // Exactly one JSON object on stdout.
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });

  extra(() => ({ platform, d, dir }));
}
