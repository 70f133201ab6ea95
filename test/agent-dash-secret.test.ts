/**
 * A secret given with --secret, as administrators type them. Read as
 * options, one beginning with "-" was refused as a cluster of letters and
 * one beginning with "--" was named whole in the "unknown option" error,
 * on stdout; an unquoted secret with a space had its second half named as
 * an unknown argument. Each must register or be refused, and no part of
 * the secret may appear anywhere the agent writes, in any language.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from './support/agent.ts';
import type { AgentRun } from './support/agent.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { describeFindings, scanBytes, scanFiles, secretNeedles } from './support/leak.ts';
import { tempDir } from './support/procs.ts';

const ONE_DASH = '-Dash-Secret-7Qx4';
const TWO_DASHES = '--Dash-Secret-8Rz5';
/** Begins like one of the agent's options written with "=". */
const LIKE_AN_OPTION = '--route=Dash-Secret-6Kp3';
let d: Deployment;

beforeAll(async () => {
  d = await deploy([ONE_DASH, TWO_DASHES, LIKE_AN_OPTION]);
});
afterAll(async () => {
  await d?.stop();
});

/** Runs the agent against the deployment with its own state and log; returns the run and its directory. */
async function run(extra: string[], env: Record<string, string> = {}): Promise<[AgentRun, string]> {
  const dir = tempDir('cb-dash-secret-');
  const r = await runAgent(
    [
      '--server',
      d.server.url,
      `--server-pin=${d.server.pin}`,
      '--state-dir',
      join(dir, 'state'),
      '--log-file',
      join(dir, 'agent.log'),
      '--log-level',
      'debug',
      ...extra,
    ],
    { env },
  );
  return [r, dir];
}

/** `text` is in none of the run's output, log or state, in any encoding the leak scan knows. */
function expectNowhere(text: string, [r, dir]: [AgentRun, string]): void {
  const needles = secretNeedles(text);
  const findings = [
    ...scanBytes('stdout', Buffer.from(r.stdout), needles),
    ...scanBytes('stderr', Buffer.from(r.stderr), needles),
    ...scanFiles([dir], needles).findings,
  ];
  expect(findings, describeFindings(findings)).toEqual([]);
}

describe('a --secret value that begins with a dash', () => {
  it.each([
    ['one dash', ONE_DASH],
    ['two dashes', TWO_DASHES],
    ['the look of --route=…', LIKE_AN_OPTION],
  ])('%s: registers, and the secret is in no output, log or state', async (_name, secret) => {
    const ok = await run(['--secret', secret]);
    expect(ok[0].code, `${ok[0].stderr}\n${JSON.stringify(ok[0].json)}`).toBe(0);
    expect(ok[0].json).toMatchObject({ ok: true, code: 'registered' });
    expectNowhere(secret, ok);
    // A usage error on the same command line names neither the secret nor the stray option.
    const bad = await run(['--secret', secret, '--deadlin', '5']);
    expect(bad[0].json).toMatchObject({
      code: 'usage',
      message: 'an unknown option (not shown: the command line carries --secret)',
    });
    expectNowhere(secret, bad);
    expectNowhere('deadlin', bad);
  });
});

describe('an unquoted secret with a space: the stray half is refused without being shown', () => {
  it.each([
    ['a word', ['Spaced-Half-9Tw'], {}],
    ['a word, in German', ['Spaced-Half-9Tw'], { LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8' }],
    ['a word that begins with "--"', ['--Spaced-Half-9Tw'], {}],
    ['a word that begins with "-"', ['-Spaced-Half-9Tw'], {}],
  ])('%s', async (_name, stray, env: Record<string, string>) => {
    const r = await run(['--secret', 'First-Half', ...stray], env);
    expect(r[0].code).toBe(2);
    expect(r[0].json.code).toBe('usage');
    expect(String(r[0].json.message)).toMatch(/not shown: the command line carries --secret/);
    expect(r[0].json.hint).toMatch(/--secret-file/);
    expectNowhere('Spaced-Half-9Tw', r);
  });
});

it('a forgotten value is still refused: --secret followed by one of the options', async () => {
  const r = await runAgent(['--secret', '--server', d.server.url]);
  expect(r.code).toBe(2);
  expect(r.json).toMatchObject({ code: 'usage', message: '--secret was given an empty value' });
});
