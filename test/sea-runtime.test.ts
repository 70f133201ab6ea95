/**
 * The runtime inside the packaged agent: the pinned Node LTS whatever Node
 * builds it, and deaf to the NODE_* variables that would change what code it
 * runs or whom it trusts (it runs as SYSTEM/root holding the secret).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRuntime, NODE_VERSION } from '../scripts/package/runtimes.ts';
import { ROOT, startServer, tempDir } from './support/procs.ts';
import type { ServerHandle } from './support/procs.ts';
import { makePrivateCa } from './support/tls.ts';

let exe: string;
let outDir: string;
let buildOutput: string;
let tlsServer: ServerHandle;
let ca: ReturnType<typeof makePrivateCa>;

/** A file that NODE_OPTIONS=--require would run: it leaves a marker behind. */
function injection(): { script: string; marker: string } {
  const dir = tempDir('cb-inject-');
  const marker = join(dir, 'ran');
  const script = join(dir, 'inject.cjs');
  writeFileSync(script, `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x');\n`);
  return { script, marker };
}

beforeAll(async () => {
  outDir = tempDir('cb-sea-runtime-');
  buildOutput = execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/tsx/dist/cli.mjs'),
      join(ROOT, 'scripts/package.ts'),
      '--out-dir',
      outDir,
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  exe = join(outDir, 'client-bootstrap-linux-x64');
  ca = makePrivateCa();
  tlsServer = await startServer({ args: ['--tls-cert', ca.cert, '--tls-key', ca.key] });
}, 180_000);
afterAll(async () => {
  await tlsServer?.proc.stop();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

describe('the packaged runtime', () => {
  it(`is the pinned Node ${NODE_VERSION}, not the Node that ran the build`, () => {
    expect(process.version).not.toBe(`v${NODE_VERSION}`);
    expect(buildOutput).toContain(`(Node ${NODE_VERSION})`);
    // Node's binary carries its own version string; a Node 20 one would not have this one.
    expect(readFileSync(exe).includes(Buffer.from(`v${NODE_VERSION}\0`))).toBe(true);
  });

  it('ignores NODE_OPTIONS, which the plain pinned node obeys', () => {
    const plain = injection();
    const node = ensureRuntime('linux-x64');
    spawnSync(node, ['-e', '0'], { env: { NODE_OPTIONS: `--require ${plain.script}` } });
    expect(existsSync(plain.marker)).toBe(true);

    const packaged = injection();
    const r = spawnSync(
      exe,
      [
        '--server',
        'http://127.0.0.1:9',
        '--state-dir',
        join(tempDir(), 's'),
        '--deadline',
        '2',
        '--json',
      ],
      { env: { NODE_OPTIONS: `--require ${packaged.script}` }, encoding: 'utf8' },
    );
    expect(JSON.parse(r.stdout)).toMatchObject({ exitCode: 5, code: 'no_route' });
    expect(existsSync(packaged.marker)).toBe(false);
  });

  it('trusts neither NODE_EXTRA_CA_CERTS nor NODE_TLS_REJECT_UNAUTHORIZED=0; --ca-file works', () => {
    const args = [
      'check',
      '--server',
      tlsServer.url,
      `--server-pin=${tlsServer.pin}`,
      '--state-dir',
      join(tempDir(), 's'),
      '--json',
    ];
    const viaEnv = spawnSync(exe, args, {
      env: { NODE_EXTRA_CA_CERTS: ca.caCert, NODE_TLS_REJECT_UNAUTHORIZED: '0' },
      encoding: 'utf8',
    });
    const refused = JSON.parse(viaEnv.stdout) as { routes: { errorCode?: string }[] };
    expect(refused.routes[0]?.errorCode).toBe('tls');
    const viaFlag = spawnSync(exe, [...args, '--ca-file', ca.caCert], { encoding: 'utf8' });
    const accepted = JSON.parse(viaFlag.stdout) as { routes: { reachable: boolean }[] };
    expect(accepted.routes[0]?.reachable).toBe(true);
  });
});
