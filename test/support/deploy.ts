/** A server and a relay on loopback with the tunnel up, for tests and benchmarks. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { BIN, runProc, startRelay, startServer, tempDir, TEST_KDF_LOG_N } from './procs.ts';
import type { RelayHandle, ServerHandle } from './procs.ts';
import type { Route } from './wire-client.ts';

export interface Deployment {
  readonly server: ServerHandle;
  readonly relay: RelayHandle;
  readonly serverId: string;
  readonly routes: Record<'direct' | 'relay', Route>;
  stop(): Promise<void>;
}

/** Creates the server data directory with `secrets`, registers it at a relay, starts both. */
export async function deploy(
  secrets: readonly string[] = [],
  opts: {
    serverArgs?: string[];
    relayArgs?: string[];
    kdfLogN?: string;
    addSecretsVia?: 'cli' | 'api';
  } = {},
): Promise<Deployment> {
  const relay = await startRelay({ args: opts.relayArgs ?? [] });
  const dataDir = join(tempDir('cb-deploy-'), 'server');
  const kdf = ['--kdf-log-n', opts.kdfLogN ?? TEST_KDF_LOG_N];
  // On the command line by default: the secret goes in on stdin, never over a socket.
  if (opts.addSecretsVia !== 'api') {
    for (const secret of secrets) {
      const r = await runProc(
        BIN.server,
        ['auth', 'secret', 'add', '--data-dir', dataDir, ...kdf],
        { input: secret },
      );
      if (r.code !== 0) throw new Error(r.stderr);
    }
  }
  // `auth show` reads only: a directory no secret was added to is made as an administrator would.
  if (!existsSync(join(dataDir, 'server.db')))
    await runProc(BIN.server, ['auth', 'mode', 'all', '--data-dir', dataDir, ...kdf]);
  const show = await runProc(BIN.server, ['auth', 'show', '--json', '--data-dir', dataDir, ...kdf]);
  const { serverId } = JSON.parse(show.stdout) as { serverId: string };
  const tokenFile = await relay.addServer(serverId);
  const server = await startServer({
    dataDir,
    args: ['--relay', relay.url, '--relay-token-file', tokenFile, ...(opts.serverArgs ?? [])],
  });
  await server.proc.waitFor(/tunnel\.up/);
  // Through the admin API (benchmarks): one running process derives every PRS.
  for (const secret of opts.addSecretsVia === 'api' ? secrets : []) {
    const res = await request(`${server.adminUrl}/admin/v1/secrets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ secret }),
    });
    if (res.statusCode !== 201)
      throw new Error(`adding a secret answered ${res.statusCode}: ${await res.body.text()}`);
    await res.body.dump();
  }
  return {
    server,
    relay,
    serverId,
    routes: {
      direct: { kind: 'direct', url: server.url },
      relay: { kind: 'relay', url: relay.url, serverId },
    },
    async stop() {
      await server.proc.stop();
      await relay.proc.stop();
    },
  };
}
