/**
 * What `npm run package` produces: every target from one command with its
 * .sha256, the same bytes twice; a Windows executable that says it is ours
 * (version resources, icon) rather than node.exe, signed on request; and an
 * MSI that installs silently.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NtExecutable, NtExecutableResource, Resource } from 'resedit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMsi, guidFrom } from '../../scripts/package/msi.ts';
import { sha256File } from '../../scripts/package/runtimes.ts';
import { drawIcon, readVersionStrings, signExe } from '../../scripts/package/windows.ts';
import { ROOT, tempDir } from '../support/procs.ts';
import { winePrefix } from './emulators.ts';
import type { WinePrefix } from './emulators.ts';

const FILES = [
  'client-bootstrap-linux-x64',
  'client-bootstrap-linux-arm64',
  'client-bootstrap-win-x64.exe',
];
const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

function packageCmd(args: string[], env: Record<string, string> = {}): string {
  return execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'scripts/package.ts'), ...args],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } },
  );
}

/** A throwaway code-signing certificate, as PEM files and as PKCS#12 with a password file. */
function throwawayCert(): { cert: string; key: string; p12: string; passFile: string } {
  const dir = tempDir('cb-sign-');
  const p = (f: string): string => join(dir, f);
  const ssl = (args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  ssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    p('key.pem'),
    '-out',
    p('cert.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=client-bootstrap throwaway signing',
    '-addext',
    'extendedKeyUsage=codeSigning',
  ]);
  writeFileSync(p('pass'), 'throwaway-pass');
  ssl([
    'pkcs12',
    '-export',
    '-in',
    p('cert.pem'),
    '-inkey',
    p('key.pem'),
    '-out',
    p('cert.p12'),
    '-passout',
    `file:${p('pass')}`,
  ]);
  return { cert: p('cert.pem'), key: p('key.pem'), p12: p('cert.p12'), passFile: p('pass') };
}

function verify(exe: string, ca: string): string {
  const r = spawnSync('osslsigncode', ['verify', '-in', exe, '-CAfile', ca], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`;
}

let first: string;
let second: string;
let cert: ReturnType<typeof throwawayCert>;
let wine: WinePrefix | undefined;

beforeAll(() => {
  first = tempDir('cb-all-a-');
  second = tempDir('cb-all-b-');
  packageCmd(['--target', 'all', '--out-dir', first]);
  packageCmd(['--target', 'all', '--out-dir', second]);
  cert = throwawayCert();
}, 600_000);
const outputs: string[] = [];
afterAll(() => {
  wine?.stop();
  // Each build is some 350 MB.
  for (const dir of [first, second, ...outputs].filter(Boolean))
    rmSync(dir, { recursive: true, force: true });
});

describe('npm run package -- --target all', () => {
  it('builds every target with its .sha256, and the same bytes from a second build', () => {
    for (const file of FILES) {
      const sha = sha256File(join(first, file));
      expect(readFileSync(join(first, `${file}.sha256`), 'utf8')).toBe(`${sha}  ${file}\n`);
      expect(sha256File(join(second, file)), file).toBe(sha);
    }
  });
});

describe('npm run package -- --code-cache', () => {
  it("builds an executable whose V8 takes both code caches (its main script's and the agent's)", () => {
    const out = tempDir('cb-cc-');
    outputs.push(out);
    packageCmd(['--code-cache', '--out-dir', out]);
    const exe = join(out, 'client-bootstrap-linux-x64');
    // --help compiles the agent too. V8 drops a cache made under other V8 flags than
    // the executable starts with, and Node then warns "Code cache data rejected".
    for (const args of [['--version'], ['--help']]) {
      const r = spawnSync(exe, args, { encoding: 'utf8', env: { PATH: '' }, timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
    }
  });
});

describe('the Windows executable', () => {
  const exe = (): string => join(first, 'client-bootstrap-win-x64.exe');

  it("carries our version resources, not node.exe's", () => {
    const strings = readVersionStrings(exe());
    expect(strings).toMatchObject({
      ProductName: 'Client Bootstrap',
      FileDescription: 'Client Bootstrap registration agent',
      CompanyName: 'Client Bootstrap',
      // Windows shows four parts; Intune's file-version rule compares these.
      FileVersion: `${VERSION}.0`,
      ProductVersion: `${VERSION}.0`,
      OriginalFilename: 'client-bootstrap-win-x64.exe',
    });
    expect(JSON.stringify(strings)).not.toMatch(/node/i);
    const res = NtExecutableResource.from(
      NtExecutable.from(readFileSync(exe()), { ignoreCert: true }),
    );
    const vi = Resource.VersionInfo.fromEntries(res.entries);
    expect(vi).toHaveLength(1);
    const [major, minor, patch] = VERSION.split('.').map(Number);
    expect(vi[0]?.fixedInfo.fileVersionMS).toBe(((major ?? 0) << 16) | (minor ?? 0));
    expect(vi[0]?.fixedInfo.fileVersionLS).toBe((patch ?? 0) << 16);
  });

  it('carries our icon', () => {
    const res = NtExecutableResource.from(
      NtExecutable.from(readFileSync(exe()), { ignoreCert: true }),
    );
    const icons = res.entries.filter((e) => e.type === 3).map((e) => Buffer.from(e.bin));
    const ico = drawIcon();
    // The 32x32 image of our .ico, byte for byte, is one of the exe's icons.
    const offset = ico.readUInt32LE(6 + 16 + 12);
    const size = ico.readUInt32LE(6 + 16 + 8);
    const ours = ico.subarray(offset, offset + size);
    expect(icons.some((b) => b.equals(ours))).toBe(true);
  });

  it("has node.exe's signature removed, and a valid PE checksum", () => {
    const out = verify(exe(), cert.cert);
    expect(out).toMatch(/No signature found/);
    expect(out).not.toMatch(/invalid PE checksum/);
  });

  it('signs with a PEM certificate or PKCS#12, verifies, and signs the same bytes twice', () => {
    const dir = tempDir('cb-signed-');
    outputs.push(dir);
    const pem1 = join(dir, 'pem1.exe');
    const pem2 = join(dir, 'pem2.exe');
    const p12 = join(dir, 'p12.exe');
    for (const f of [pem1, pem2, p12]) copyFileSync(exe(), f);
    const info = { productName: 'Client Bootstrap' };
    signExe(pem1, { cert: cert.cert, key: cert.key, time: 1_760_000_000 }, info);
    signExe(pem2, { cert: cert.cert, key: cert.key, time: 1_760_000_000 }, info);
    signExe(p12, { pkcs12: cert.p12, passwordFile: cert.passFile }, info);
    for (const f of [pem1, p12]) expect(verify(f, cert.cert)).toMatch(/Signature verification: ok/);
    expect(sha256File(pem2)).toBe(sha256File(pem1));
  });
});

describe('npm run package -- --target win-x64 --sign --msi --config FILE', () => {
  it('builds a signed exe and MSI that wine msiexec /qn installs per machine', () => {
    const out = tempDir('cb-msi-');
    outputs.push(out);
    const config = join(tempDir(), 'client-bootstrap.json');
    writeFileSync(config, '{"server": "https://mgmt.example.test:8443"}\n');
    const log = packageCmd(
      ['--target', 'win-x64', '--sign', '--msi', '--config', config, '--out-dir', out],
      {
        CLIENT_BOOTSTRAP_SIGN_CERT: cert.cert,
        CLIENT_BOOTSTRAP_SIGN_KEY: cert.key,
        SOURCE_DATE_EPOCH: '1760000000',
      },
    );
    const msi = join(out, 'client-bootstrap-win-x64.msi');
    expect(log).toContain(msi);
    expect(readFileSync(`${msi}.sha256`, 'utf8')).toBe(
      `${sha256File(msi)}  client-bootstrap-win-x64.msi\n`,
    );
    const exe = join(out, 'client-bootstrap-win-x64.exe');
    expect(verify(exe, cert.cert)).toMatch(/Signature verification: ok/);
    expect(verify(msi, cert.cert)).toMatch(/Signature verification: ok/);

    wine = winePrefix();
    const r = wine.wine(['msiexec', '/i', `Z:${msi.replace(/\//g, '\\')}`, '/qn']);
    expect(r.code, r.stderr).toBe(0);
    const installed = join(wine.driveC, 'Program Files', 'ClientBootstrap');
    expect(sha256File(join(installed, 'client-bootstrap.exe'))).toBe(sha256File(exe));
    expect(readFileSync(join(installed, 'client-bootstrap.json'), 'utf8')).toBe(
      readFileSync(config, 'utf8'),
    );
    expect(statSync(join(wine.driveC, 'ProgramData', 'ClientBootstrap')).isDirectory()).toBe(true);
    expect(existsSync(join(wine.driveC, 'Program Files (x86)', 'ClientBootstrap'))).toBe(false);
  });
});

describe('the MSI over an older one', () => {
  it('replaces it (major upgrade) and refuses a downgrade', () => {
    const dir = tempDir('cb-msi-upgrade-');
    outputs.push(dir);
    const exe = join(dir, 'client-bootstrap.exe');
    writeFileSync(exe, 'not a real exe: the upgrade logic does not run it');
    const msiOf = (version: string): string =>
      buildMsi({ exe, version, outDir: join(dir, version), work: join(dir, version, 'work') });
    const older = msiOf('0.1.0');
    const newer = msiOf('0.2.0');
    const prefix = winePrefix();
    try {
      const key = (version: string): string =>
        `HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{${guidFrom(`client-bootstrap product ${version}`)}}`;
      const winPath = (p: string): string => `Z:${p.replace(/\//g, '\\')}`;
      expect(prefix.wine(['msiexec', '/i', winPath(older), '/qn']).code).toBe(0);
      expect(prefix.wine(['reg', 'query', key('0.1.0')]).code).toBe(0);
      expect(prefix.wine(['msiexec', '/i', winPath(newer), '/qn']).code).toBe(0);
      expect(prefix.wine(['reg', 'query', key('0.2.0')]).code).toBe(0);
      expect(prefix.wine(['reg', 'query', key('0.1.0')]).code).not.toBe(0);
      // 1603 (fatal error), as the low 8 bits a Linux parent sees.
      expect(prefix.wine(['msiexec', '/i', winPath(older), '/qn']).code).toBe(1603 & 0xff);
    } finally {
      prefix.stop();
    }
  });
});
