/**
 * One estate on PostgreSQL: server instances started as an administrator
 * would (`--store` from the environment, the password in PGPASSWORD),
 * each with a data directory of its own, behind nginx round-robin.
 */
import { join } from 'node:path';
import { request } from 'undici';
import { startNginx } from './fleet.ts';
import type { NginxHandle } from './fleet.ts';
import { BIN, TEST_KDF_LOG_N, runProc, startProc, tempDir } from './procs.ts';
import type { Finished, Proc } from './procs.ts';
import type { PostgresHandle } from './postgres.ts';

export interface EstateInstance {
  readonly proc: Proc;
  readonly url: string;
  readonly adminUrl: string;
  readonly dataDir: string;
}

export interface Estate {
  readonly pg: PostgresHandle;
  readonly env: Record<string, string>;
  readonly serverId: string;
  readonly pin: string;
  readonly adminToken: string;
  /** `bootstrap-server ARGS` on the estate (no --data-dir: the store is the estate). */
  cli(args: string[], input?: string): Promise<Finished>;
  /** Starts one more instance (its own data directory), trusting loopback balancers. */
  startInstance(args?: string[]): Promise<EstateInstance>;
}

/** The environment an administrator sets for every command on the estate. */
export function estateEnv(pg: PostgresHandle): Record<string, string> {
  return { BOOTSTRAP_SERVER_STORE: pg.urlNoPassword, PGPASSWORD: pg.password };
}

/** Sets up an estate with one secret (scrypt at the tests' cost) in a fresh PostgreSQL. */
export async function createEstate(pg: PostgresHandle, secret: string): Promise<Estate> {
  const add = await runProc(BIN.server, ['auth', 'secret', 'add', '--kdf-log-n', TEST_KDF_LOG_N], {
    env: estateEnv(pg),
    input: secret,
  });
  if (add.code !== 0) throw new Error(`auth secret add failed: ${add.stderr}`);
  return openEstate(pg);
}

/** The estate a PostgreSQL store already holds. */
export async function openEstate(pg: PostgresHandle): Promise<Estate> {
  const env = estateEnv(pg);
  const cli = (args: string[], input?: string): Promise<Finished> =>
    runProc(BIN.server, args, { env, ...(input === undefined ? {} : { input }) });
  const show = await cli(['auth', 'show', '--json']);
  if (show.code !== 0) throw new Error(`auth show failed: ${show.stderr}`);
  const { serverId, pin } = JSON.parse(show.stdout) as { serverId: string; pin: string };
  const token = await cli(['admin-token', '--label', 'tests']);
  if (token.code !== 0) throw new Error(`admin-token failed: ${token.stderr}`);
  return {
    pg,
    env,
    serverId,
    pin,
    adminToken: token.stdout.trim(),
    cli,
    startInstance: async (args = []) => {
      const dataDir = join(tempDir('cb-estate-'), 'instance');
      const proc = startProc(
        BIN.server,
        [
          'start',
          '--data-dir',
          dataDir,
          '--listen',
          '127.0.0.1:0',
          '--trust-proxy',
          '127.0.0.1',
          ...args,
        ],
        env,
      );
      const [, url] = await proc.waitFor(/listening on (\S+)/);
      const [, adminUrl] = await proc.waitFor(/admin on (\S+)/);
      return { proc, url: url as string, adminUrl: adminUrl as string, dataDir };
    },
  };
}

/** nginx round-robin over the instances' client listeners. */
export function balance(instances: readonly EstateInstance[]): Promise<NginxHandle> {
  return startNginx(instances.map((i) => Number(new URL(i.url).port)));
}

/** One instance's counter of requests of a kind answered 'ok', from its /metrics. */
export async function okRequests(instance: EstateInstance, kind: string): Promise<number> {
  const res = await request(`${instance.adminUrl}/metrics`);
  const text = await res.body.text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('bootstrap_server_requests_total{') &&
        l.includes(`kind="${kind}"`) &&
        l.includes('outcome="ok"'),
    );
  return line ? Number(line.split(' ').pop()) : 0;
}
