/**
 * The fleet row: the same herd through nginx and one relay instance in fleet
 * mode, then through nginx and three, in one run (nats-server with JetStream,
 * everything on loopback). Registrations per second, latency, and each relay
 * instance's peak memory.
 */
import { startFleetRelay, startFleetServer, startNats, startNginx } from '../test/support/fleet.ts';
import { runHerd } from '../test/support/herd.ts';
import { countStoredClients } from '../test/support/store-counts.ts';
import { cpuSeconds, peakMemMiB, quantile } from './bench-lib.ts';

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
  /** CPU time (user + system) each relay instance spent, per registration (ms). */
  relayCpuMsPerReg: number[];
  /** NATS traffic per registration: messages and bytes into the NATS server. */
  natsMsgsPerReg: number;
  natsBytesPerReg: number;
}

async function natsIn(monitorUrl: string): Promise<{ msgs: number; bytes: number }> {
  const v = (await (await fetch(`${monitorUrl}/varz`)).json()) as {
    in_msgs: number;
    in_bytes: number;
  };
  return { msgs: v.in_msgs, bytes: v.in_bytes };
}

const SECRET = 'Fleet-Bench-Secret-26';

async function fleetMetric(url: string, name: RegExp): Promise<number> {
  const res = await fetch(`${url}/metrics`);
  const m = name.exec(await res.text());
  // prom-client prints a labelled counter only once it has counted something.
  return m ? Number(m[1]) : 0;
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
  const { server } = await startFleetServer(nats.url, lb.url, SECRET);
  const { serverId, dataDir } = server;
  try {
    const cpu0 = relays.map((r) => cpuSeconds(r.proc.child.pid));
    const nats0 = await natsIn(nats.monitorUrl);
    const herd = await runHerd({
      relayUrl: lb.url,
      serverId,
      pin: server.pin,
      secret: SECRET,
      clients,
      concurrency,
    });
    const ids = [...herd.ids.values()];
    const nats1 = await natsIn(nats.monitorUrl);
    const regs = Math.max(1, ids.length);
    return {
      relayCpuMsPerReg: relays.map(
        (r, i) => ((cpuSeconds(r.proc.child.pid) - (cpu0[i] as number)) * 1000) / regs,
      ),
      natsMsgsPerReg: (nats1.msgs - nats0.msgs) / regs,
      natsBytesPerReg: (nats1.bytes - nats0.bytes) / regs,
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
