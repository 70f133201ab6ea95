/**
 * `npm test` on a fresh machine: the pre-test step installs what is missing
 * as root, and otherwise stops at once with the one command to run.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { onCleanup } from './support/cleanup.ts';
import { ROOT } from './support/procs.ts';

describe('the system packages the tests need', () => {
  it('are all there on this machine (the script has nothing to do)', () => {
    const r = spawnSync('bash', [join(ROOT, 'scripts/install-system-deps.sh'), 'test'], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });

  it.skipIf(process.getuid?.() !== 0)(
    'missing, for a user who is not root: exit 1 at once with the apt-get line',
    () => {
      // A PATH where only the shell's own basics exist: every package reads as missing.
      // In a directory the unprivileged user can read (the test's own root is 0700).
      const dir = mkdtempSync(join(tmpdir(), 'cb-sysdeps-'));
      onCleanup(() => rmSync(dir, { recursive: true, force: true }));
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      for (const tool of ['id', 'bash']) symlinkSync(`/usr/bin/${tool}`, join(bin, tool));
      const script = join(dir, 'install-system-deps.sh');
      copyFileSync(join(ROOT, 'scripts/install-system-deps.sh'), script);
      chmodSync(dir, 0o755);
      const r = spawnSync(
        'runuser',
        ['-u', 'nobody', '--', '/usr/bin/env', `PATH=${bin}`, 'bash', script, 'test'],
        { encoding: 'utf8', timeout: 20_000, cwd: dir },
      );
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /sudo apt-get install -y --no-install-recommends make g\+\+ python3 openssl tinyproxy tcpdump iptables strace chromium/,
      );
    },
  );
});
