/**
 * The fleet row: the same herd through nginx and one relay instance in fleet
 * mode, then through nginx and three, in one run (nats-server with JetStream,
 * everything on loopback). Registrations per second, latency, and each relay
 * instance's peak memory.
 */
import { join } from 'node:path';
import { BIN, runProc, startServer, tempDir } from '../test/support/procs.ts';
import { addFleetServer, startFleetRelay, startNats, startNginx } from '../test/support/fleet.ts';
import { runHerd } from '../test/support/herd.ts';
import { countStoredClients } from '../test/support/store-counts.ts';
import { peakMemMiB, quantile } from './bench-lib.ts';

export interface FleetRow {
  instances: number;
  clients: number;
  concurrency: number;
  registered: number;
  distinct: number;
  storeRows: number;
  gaveUp: string[];
  retries: number;
  seconds: number;
  p50: number;
  p95: number;
  /** Peak resident memory of each relay instance (MiB). */
  relayMiB: number[];
  serverMiB: number;
  /** Requests each instance carried over NATS to another (from its /metrics). */
  crossed: number[];
}

const SECRET = 'Fleet-Bench-Secret-26';

async function fleetMetric(url: string, name: RegExp): Promise<number> {
  const res = await fetch(`${url}/metrics`);
  const m = name.exec(await res.text());
  return m ? Number(m[1]) : NaN;
}

/** One herd through nginx and `instances` relay instances joined by NATS. */
export async function benchFleet(
  instances: number,
  clients: number,
  concurrency: number,
): Promise<FleetRow> {
  const nats = await startNats();
  const relays = await Promise.all(
    Array.from({ length: instances }, () =>
      startFleetRelay(nats.url, ['--max-queued', String(concurrency * 4)]),
    ),
  );
  const lb = await startNginx(relays.map((r) => r.port));
  const dataDir = join(tempDir('cb-bench-fleet-'), 'server');
  const add = await runProc(
    BIN.server,
    ['auth', 'secret', 'add', '--data-dir', dataDir, '--kdf-log-n', '14'],
    { input: SECRET },
  );
  if (add.code !== 0) throw new Error(add.stderr);
  const show = await runProc(BIN.server, ['auth', 'show', '--json', '--data-dir', dataDir]);
  const { serverId } = JSON.parse(show.stdout) as { serverId: string };
  const token = await addFleetServer(nats.url, serverId);
  const server = await startServer({
    dataDir,
    args: ['--relay', lb.url, '--relay-token-file', token],
  });
  try {
    await server.proc.waitFor(/tunnel\.up/);
    const herd = await runHerd({
      relayUrl: lb.url,
      serverId,
      pin: server.pin,
      secret: SECRET,
      clients,
      concurrency,
    });
    const ids = [...herd.ids.values()];
    return {
      instances,
      clients,
      concurrency,
      registered: ids.length,
      distinct: new Set(ids).size,
      storeRows: countStoredClients(dataDir).rows,
      gaveUp: [...herd.failures.values()].map((f) => f.code),
      retries: herd.retries,
      seconds: herd.seconds,
      p50: quantile(herd.latencies, 0.5),
      p95: quantile(herd.latencies, 0.95),
      relayMiB: relays.map((r) => peakMemMiB(r.proc.child.pid)),
      serverMiB: peakMemMiB(server.proc.child.pid),
      crossed: await Promise.all(
        relays.map((r) => fleetMetric(r.url, /relay_client_requests_total\{path="fleet"\} (\d+)/)),
      ),
    };
  } finally {
    await server.proc.stop();
    await lb.proc.stop();
    await Promise.all(relays.map((r) => r.proc.stop()));
    await nats.stop();
  }
}
