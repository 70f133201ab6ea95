/**
 * Server and relay throughput: registrations per second and latency with
 * concurrent in-process clients, direct and through the relay, with 1 and
 * 16 active secrets; peak memory of server and relay; and the relay's
 * memory with thousands of clients queued.
 */
import { performance } from 'node:perf_hooks';
import { Secret, derivePrs, fromB64u } from '../src/protocol/index.ts';
import { call, hello, register } from '../test/support/wire-client.ts';
import type { Route } from '../test/support/wire-client.ts';
import { compareWithStore, storedClientIds } from '../test/support/store-counts.ts';
import { deploy, peakMemMiB, quantile } from './bench-lib.ts';

export interface ThroughputRow {
  secrets: number;
  route: 'direct' | 'relay';
  regsPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  /** Every failed registration, by code. */
  errors: string[];
  /** Rows and distinct ids in the server's store vs the ids the clients got. */
  storeRows: number;
  received: number;
  problems: string[];
  serverMiB: number;
  relayMiB: number;
}

async function drive(
  route: Route,
  total: number,
  concurrency: number,
  secret: string,
  pin: string,
): Promise<{ ms: number[]; errors: string[]; ids: string[]; wall: number }> {
  const h = await hello(route);
  const prs = await derivePrs(Secret.from(secret), fromB64u(h.serverId, 'serverId', 16), h.kdf);
  const ms: number[] = [];
  const errors: string[] = [];
  const ids: string[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    // Each worker is a machine of its own (its own loopback address): the per-source guess
    // limits are for one network, not for a benchmark's whole fleet.
    Array.from({ length: concurrency }, async (_, worker) => {
      const localAddress = `127.1.${worker >> 8}.${(worker & 255) + 1}`;
      while (next < total) {
        next += 1;
        const s = performance.now();
        try {
          const out = await register(route, { prs, pin, localAddress });
          if (out.ok) {
            ms.push(performance.now() - s);
            if (out.result.kind === 'registered') ids.push(out.result.clientId);
          } else errors.push(`${out.stage} ${out.status ?? ''} ${out.code}`);
        } catch (err) {
          errors.push((err as Error).message.split('\n')[0] ?? 'error');
        }
      }
    }),
  );
  return { ms, errors, ids, wall: performance.now() - t0 };
}

export async function benchThroughput(quick: boolean): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  const total = quick ? 150 : 2000;
  for (const n of [1, 16]) {
    const secrets = Array.from({ length: n }, (_, i) => `Throughput-Secret-${i}-Zq`);
    const d = await deploy(secrets, { addSecretsVia: 'api' });
    try {
      for (const routeName of ['direct', 'relay'] as const) {
        const route: Route =
          routeName === 'direct'
            ? { kind: 'direct', url: d.server.url }
            : { kind: 'relay', url: d.relay.url, serverId: d.serverId };
        const before = storedClientIds(d.server.dataDir);
        const r = await drive(route, total, 32, secrets[n - 1] as string, d.server.pin);
        const store = compareWithStore(d.server.dataDir, r.ids, before);
        rows.push({
          secrets: n,
          route: routeName,
          regsPerSec: (r.ms.length / r.wall) * 1000,
          p50: quantile(r.ms, 0.5),
          p95: quantile(r.ms, 0.95),
          p99: quantile(r.ms, 0.99),
          errors: r.errors,
          storeRows: store.counts.rows - before.length,
          received: r.ids.length,
          problems: store.problems,
          serverMiB: peakMemMiB(d.server.proc.child.pid),
          relayMiB: peakMemMiB(d.relay.proc.child.pid),
        });
      }
    } finally {
      await d.stop();
    }
  }
  return rows;
}

/**
 * Holds `clients` hellos at the relay at once: per-request latency, how
 * each ended (200, 503, other status, or an error, each reported), and
 * peak memory of both processes.
 */
export async function benchQueued(clients: number): Promise<{
  clients: number;
  answered: number;
  busy: number;
  errors: string[];
  p50: number;
  p95: number;
  wallMs: number;
  serverMiB: number;
  relayMiB: number;
}> {
  const d = await deploy(['Queue-Secret-1-Zq'], {
    relayArgs: ['--max-queued', String(clients + 100)],
    addSecretsVia: 'api',
  });
  try {
    const url = `${d.relay.url}/v1/servers/${d.serverId}/hello`;
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: clients }, async () => {
        const s = performance.now();
        try {
          const r = await call(url);
          return { status: r.status, ms: performance.now() - s, error: undefined };
        } catch (err) {
          const e = err as Error & { code?: string };
          return { status: 0, ms: NaN, error: `${e.code ?? ''} ${e.message.split('\n')[0] ?? ''}` };
        }
      }),
    );
    const wallMs = performance.now() - t0;
    const answered = results.filter((r) => r.status === 200);
    return {
      clients,
      answered: answered.length,
      busy: results.filter((r) => r.status === 503).length,
      errors: results
        .filter((r) => r.status !== 200 && r.status !== 503)
        .map((r) => r.error ?? `status ${r.status}`),
      p50: quantile(
        answered.map((r) => r.ms),
        0.5,
      ),
      p95: quantile(
        answered.map((r) => r.ms),
        0.95,
      ),
      wallMs,
      serverMiB: peakMemMiB(d.server.proc.child.pid),
      relayMiB: peakMemMiB(d.relay.proc.child.pid),
    };
  } finally {
    await d.stop();
  }
}
