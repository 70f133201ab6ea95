import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../src/version.ts';
import { BIN, ROOT, tempDir } from './support/procs.ts';

/** Reports at exit which network, logging and crypto code the process loaded. */
const PROBE = `process.on('exit', () => {
  const userland = Object.keys(require.cache).filter((k) => /node_modules\\/(undici|winston|node-machine-id)\\//.test(k));
  const crypto = process.moduleLoadList.filter((m) => /NativeModule (internal\\/)?crypto/.test(m));
  process.stderr.write('LOADED ' + JSON.stringify({ userland: userland.length, crypto: crypto.length }) + '\\n');
});`;

function loaded(args: string[]): { userland: number; crypto: number; stdout: string } {
  const probe = join(tempDir(), 'probe.cjs');
  writeFileSync(probe, PROBE);
  const r = spawnSync(process.execPath, ['--require', probe, BIN.agent, ...args], {
    encoding: 'utf8',
  });
  const m = /LOADED (\{.*\})/.exec(r.stderr);
  if (!m) throw new Error(r.stderr);
  return {
    ...(JSON.parse(m[1] as string) as { userland: number; crypto: number }),
    stdout: r.stdout,
  };
}

describe('startup', () => {
  it('--version and --help load no network, logging or crypto code', () => {
    const version = loaded(['--version']);
    expect(version.stdout.trim()).toBe(VERSION);
    expect(version).toMatchObject({ userland: 0, crypto: 0 });
    expect(loaded(['--help'])).toMatchObject({ userland: 0, crypto: 0 });
  });

  it('a real command does load them (the probe can see them)', () => {
    const run = loaded([
      '--server',
      'http://127.0.0.1:9',
      '--state-dir',
      join(tempDir(), 's'),
      '--deadline',
      '2',
      '--json',
    ]);
    expect(run.userland).toBeGreaterThan(0);
    expect(run.crypto).toBeGreaterThan(0);
  });

  it('the version matches package.json', async () => {
    const pkg = (await import(join(ROOT, 'package.json'), { with: { type: 'json' } })) as {
      default: { version: string };
    };
    expect(VERSION).toBe(pkg.default.version);
  });
});
