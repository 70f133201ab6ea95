/**
 * The executable's scripts as `npm run package` bundles them, run as the
 * executable runs them (src/bin/sea-main.ts, its assets read from files)
 * on the pinned runtime, through a whole registration: which of Node's
 * modules it loads. Each one loaded while scrypt runs costs CPU on the other
 * core (scripts/package/bundle-lean.ts says how much).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleAgent } from '../scripts/package/bundle-lean.ts';
import { ensureRuntime } from '../scripts/package/runtimes.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { describeFindings, scanBytes, scanFiles, secretNeedles } from './support/leak.ts';
import { ROOT, tempDir, writeSecretFile } from './support/procs.ts';

const SECRET = 'Bundle-Probe-Secret-1';

/**
 * Node's own modules the run must not load; and two it must, which neither
 * Node's start nor its standard streams load: were `process.moduleLoadList`
 * (not documented) to change its form, the test fails on these.
 */
const UNUSED = ['http2', 'zlib', 'child_process', 'readline'];
const USED = ['crypto', 'v8'];

/** Reports at exit the Node modules the process loaded. */
const PROBE = `process.on('exit', () => {
  const names = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
  process.stderr.write('MODULES ' + JSON.stringify(names) + '\\n');
});`;

let d: Deployment;
let main: string;
let probe: string;

beforeAll(async () => {
  const work = tempDir('cb-sea-bundle-');
  const scripts = await bundleAgent(ROOT, work);
  // sea-main.ts as the executable has it, but with node:sea reading the assets from `work`.
  main = join(work, 'main.cjs');
  await build({
    entryPoints: [join(ROOT, 'src/bin/sea-main.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: main,
    logLevel: 'warning',
    plugins: [
      {
        name: 'sea-assets-from-files',
        setup(b) {
          b.onResolve({ filter: /^node:sea$/ }, () => ({ path: 'sea', namespace: 'sea-files' }));
          b.onLoad({ filter: /.*/, namespace: 'sea-files' }, () => ({
            loader: 'js',
            contents: [
              "const { readFileSync } = require('node:fs');",
              "const { join } = require('node:path');",
              `const dir = ${JSON.stringify(work)};`,
              'exports.getAsset = (name, encoding) => {',
              '  const bytes = readFileSync(join(dir, name));',
              '  return encoding ? bytes.toString(encoding) : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);',
              '};',
            ].join('\n'),
          }));
        },
      },
    ],
  });
  expect(readFileSync(scripts.agent, 'utf8')).toContain('client-bootstrap:lazy-h2');
  probe = join(work, 'probe.cjs');
  writeFileSync(probe, PROBE);
  d = await deploy([SECRET]);
}, 120_000);
afterAll(async () => {
  await d?.stop();
});

function modulesOf(args: string[]): {
  status: number | null;
  stdout: string;
  stderr: string;
  modules: string[];
} {
  const r = spawnSync(ensureRuntime('linux-x64'), ['--require', probe, main, ...args], {
    encoding: 'utf8',
    // A plain runtime must not re-execute itself as the executable would.
    env: { PATH: process.env.PATH ?? '', CLIENT_BOOTSTRAP_HUGE_PAGES: '0' },
  });
  const m = /MODULES (\[.*\])/.exec(r.stderr);
  if (!m) throw new Error(`no module list: ${r.stderr}`);
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    modules: JSON.parse(m[1] as string) as string[],
  };
}

describe.runIf(process.platform === 'linux' && process.arch === 'x64')(
  "the executable's bundle in a registration",
  () => {
    it('loads none of the Node modules a registration does not use, and leaks no secret', () => {
      const dir = tempDir();
      const secretFile = writeSecretFile(join(dir, 'secret'), SECRET);
      const r = modulesOf([
        '--server',
        d.server.url,
        `--server-id=${d.serverId}`,
        `--server-pin=${d.server.pin}`,
        '--route',
        'direct',
        '--secret-file',
        secretFile,
        '--state-dir',
        join(dir, 's'),
        '--log-file',
        join(dir, 'agent.log'),
        '--json',
      ]);
      expect(r.status, r.stdout).toBe(0);
      expect((JSON.parse(r.stdout) as { code: string }).code).toBe('registered');
      expect(r.modules).toEqual(expect.arrayContaining(USED));
      expect(r.modules.filter((m) => UNUSED.includes(m))).toEqual([]);
      // Nor does the secret show in its output, its log or its state.
      const needles = secretNeedles(SECRET);
      const files = scanFiles([dir], needles, (f) => f === secretFile);
      expect(files.files).toBeGreaterThanOrEqual(2);
      const findings = [
        ...scanBytes('stdout', Buffer.from(r.stdout), needles),
        ...scanBytes('stderr', Buffer.from(r.stderr), needles),
        ...files.findings,
      ];
      expect(describeFindings(findings)).toBe('');
    });
  },
);
