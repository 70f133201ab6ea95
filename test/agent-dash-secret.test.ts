/**
 * A secret given with --secret that begins with "-" or "--". Read as
 * options, the first was refused as a cluster of letters and the second
 * was named whole in the "unknown option" error, on stdout and in the log.
 * Both must register, and neither may appear anywhere the agent writes;
 * nor may the second word of an unquoted secret that holds a space.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from './support/agent.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { describeFindings, scanBytes, scanFiles, secretNeedles } from './support/leak.ts';
import { tempDir } from './support/procs.ts';

const ONE_DASH = '-Dash-Secret-7Qx4';
const TWO_DASHES = '--Dash-Secret-8Rz5';
let d: Deployment;

beforeAll(async () => {
  d = await deploy([ONE_DASH, TWO_DASHES]);
});
afterAll(async () => {
  await d?.stop();
});

describe('a --secret value that begins with a dash', () => {
  it.each([
    ['one dash', ONE_DASH],
    ['two dashes', TWO_DASHES],
  ])('%s: registers, and the secret is in no output, log or state', async (_name, secret) => {
    const dir = tempDir('cb-dash-secret-');
    const args = (extra: string[]): string[] => [
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
    ];
    const r = await runAgent(args(['--secret', secret]));
    expect(r.code, `${r.stderr}\n${JSON.stringify(r.json)}`).toBe(0);
    expect(r.json).toMatchObject({ ok: true, code: 'registered' });
    // A run that fails on usage after the secret is read must not name it either.
    const bad = await runAgent(args(['--secret', secret, '--deadlin', '5']));
    expect(bad.json).toMatchObject({ code: 'usage' });
    expect(String(bad.json.message)).toMatch(/unknown option --deadlin/);

    const needles = secretNeedles(secret);
    const findings = [
      ...[r, bad].flatMap((run, i) => [
        ...scanBytes(`stdout ${i}`, Buffer.from(run.stdout), needles),
        ...scanBytes(`stderr ${i}`, Buffer.from(run.stderr), needles),
      ]),
      ...scanFiles([dir], needles).findings,
    ];
    expect(findings, describeFindings(findings)).toEqual([]);
  });

  it('an unquoted secret with a space: the stray word is refused without being shown', async () => {
    const stray = 'Spaced-Half-9Tw';
    const dir = tempDir('cb-spaced-');
    const r = await runAgent([
      '--server',
      d.server.url,
      '--secret',
      'First-Half',
      stray,
      '--log-file',
      join(dir, 'agent.log'),
    ]);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({
      code: 'usage',
      message: 'unexpected words on the command line (not shown)',
    });
    expect(r.json.hint).toMatch(/quote/);
    const needles = secretNeedles(stray);
    const findings = [
      ...scanBytes('stdout', Buffer.from(r.stdout), needles),
      ...scanBytes('stderr', Buffer.from(r.stderr), needles),
      ...scanFiles([dir], needles).findings,
    ];
    expect(findings, describeFindings(findings)).toEqual([]);
  });

  it('a forgotten value is still refused: --secret followed by one of the options', async () => {
    const r = await runAgent(['--secret', '--server', d.server.url]);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ code: 'usage', message: '--secret was given an empty value' });
  });
});
