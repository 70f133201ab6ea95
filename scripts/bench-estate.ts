/**
 * The estate rows: one herd straight to the server through nginx, on the
 * embedded SQLite store, then on PostgreSQL with one instance and with two
 * (round-robin), in one run. Registrations per second, latency, and each
 * instance's CPU per registration and peak memory. With 16 secrets, the
 * same on SQLite with the handshakes on the event loop and on the pool.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { balance, createEstate } from '../test/support/estate.ts';
import type { EstateInstance } from '../test/support/estate.ts';
import { startNginx } from '../test/support/fleet.ts';
import { runHerd } from '../test/support/herd.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { BIN, TEST_KDF_LOG_N, runProc, startServer, tempDir } from '../test/support/procs.ts';
import { countStoredClients } from '../test/support/store-counts.ts';
import { cpuSeconds, peakMemMiB, quantile, statFields } from './bench-lib.ts';

export type EstateKind = 'sqlite' | 'postgres';

export interface EstateRow {
  kind: EstateKind;
  instances: number;
  secrets: number;
  workers: number | 'cores';
  clients: number;
  concurrency: number;
  registered: number;
  storeRows: number;
  gaveUp: string[];
  retries: number;
  seconds: number;
  p50: number;
  p95: number;
  /** CPU time (user + system, all threads) of each instance per registration (ms). */
  cpuMsPerReg: number[];
  /** Peak resident memory of each instance (MiB). */
  peakMiB: number[];
  /** CPU time of PostgreSQL (all its processes) per registration (ms); null for SQLite. */
  dbCpuMsPerReg: number | null;
}

const SECRET = 'Estate-Bench-Secret-26';

/**
 * CPU seconds of PostgreSQL: the postmaster and its live backends, and what
 * the backends that have exited spent (the postmaster's children's time).
 */
function postgresCpuSeconds(postmaster: number | undefined): number {
  if (postmaster === undefined) return NaN;
  let sum = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const fields = statFields(readFileSync(`/proc/${name}/stat`, 'utf8'));
      const own = Number(fields[11]) + Number(fields[12]);
      if (Number(name) === postmaster) sum += own + Number(fields[13]) + Number(fields[14]);
      else if (Number(fields[1]) === postmaster) sum += own;
    } catch {
      // gone meanwhile
    }
  }
  return sum / 100;
}

interface Running {
  instances: { pid: number | undefined; stop: () => Promise<unknown> }[];
  url: string;
  serverId: string;
  pin: string;
  storeRows: (label: string) => Promise<number>;
  /** The PostgreSQL postmaster's pid (none for SQLite). */
  dbGroup?: number;
  stop: () => Promise<void>;
}

async function extraSecrets(
  cli: (args: string[]) => Promise<{ code: number | null; stderr: string }>,
  n: number,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await cli(['auth', 'secret', 'add', '--generate', '--label', `extra-${i}`]);
    if (r.code !== 0) throw new Error(`auth secret add --generate failed: ${r.stderr}`);
  }
}

async function sqliteEstate(secrets: number, workerArgs: string[]): Promise<Running> {
  const dataDir = join(tempDir('cb-bench-estate-'), 'server');
  const cli = (args: string[], input?: string) =>
    runProc(BIN.server, [...args, '--data-dir', dataDir, '--kdf-log-n', TEST_KDF_LOG_N], {
      ...(input === undefined ? {} : { input }),
    });
  const add = await cli(['auth', 'secret', 'add'], SECRET);
  if (add.code !== 0) throw new Error(`auth secret add failed: ${add.stderr}`);
  await extraSecrets(cli, secrets - 1);
  const server = await startServer({
    dataDir,
    args: ['--trust-proxy', '127.0.0.1', ...workerArgs],
  });
  const lb = await startNginx([Number(new URL(server.url).port)]);
  return {
    instances: [{ pid: server.proc.child.pid, stop: () => server.proc.stop() }],
    url: lb.url,
    serverId: server.serverId,
    pin: server.pin,
    storeRows: () => Promise.resolve(countStoredClients(dataDir).rows),
    stop: async () => {
      await lb.proc.stop();
      await server.proc.stop();
    },
  };
}

async function postgresEstate(
  instances: number,
  secrets: number,
  workerArgs: string[],
): Promise<Running> {
  const pg = await startPostgres();
  const estate = await createEstate(pg, SECRET);
  await extraSecrets((args) => estate.cli(args), secrets - 1);
  const started: EstateInstance[] = await Promise.all(
    Array.from({ length: instances }, () => estate.startInstance(workerArgs)),
  );
  const lb = await balance(started);
  return {
    instances: started.map((i) => ({ pid: i.proc.child.pid, stop: () => i.proc.stop() })),
    url: lb.url,
    dbGroup: Number(readFileSync(join(pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]),
    serverId: estate.serverId,
    pin: estate.pin,
    storeRows: async (label) =>
      Number(
        (await pg.psql(`SELECT COUNT(*) FROM clients WHERE hostname LIKE '${label}-%'`)).trim(),
      ),
    stop: async () => {
      await lb.proc.stop();
      await Promise.all(started.map((i) => i.proc.stop()));
      await pg.stop();
    },
  };
}

/** One herd through nginx to `instances` server instances on one store. */
export async function benchEstate(o: {
  kind: EstateKind;
  instances: number;
  secrets: number;
  workers: number | 'cores';
  clients: number;
  concurrency: number;
}): Promise<EstateRow> {
  const workerArgs = o.workers === 'cores' ? [] : ['--workers', String(o.workers)];
  const running =
    o.kind === 'sqlite'
      ? await sqliteEstate(o.secrets, workerArgs)
      : await postgresEstate(o.instances, o.secrets, workerArgs);
  const label = `estate-${o.kind}-${o.instances}`;
  try {
    const cpu0 = running.instances.map((i) => cpuSeconds(i.pid));
    const db0 = postgresCpuSeconds(running.dbGroup);
    const herd = await runHerd({
      serverUrl: running.url,
      serverId: running.serverId,
      pin: running.pin,
      secret: SECRET,
      clients: o.clients,
      concurrency: o.concurrency,
      label,
    });
    const regs = Math.max(1, herd.ids.size);
    return {
      ...o,
      registered: herd.ids.size,
      storeRows: await running.storeRows(label),
      gaveUp: [...herd.failures.values()].map((f) => f.code),
      retries: herd.retries,
      seconds: herd.seconds,
      p50: quantile(herd.latencies, 0.5),
      p95: quantile(herd.latencies, 0.95),
      cpuMsPerReg: running.instances.map(
        (i, k) => ((cpuSeconds(i.pid) - (cpu0[k] as number)) * 1000) / regs,
      ),
      peakMiB: running.instances.map((i) => peakMemMiB(i.pid)),
      dbCpuMsPerReg:
        running.dbGroup === undefined
          ? null
          : ((postgresCpuSeconds(running.dbGroup) - db0) * 1000) / regs,
    };
  } finally {
    await running.stop();
  }
}
