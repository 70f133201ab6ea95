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
import { deploy, peakMemMiB, quantile } from './bench-lib.ts';

export interface ThroughputRow {
  secrets: number;
  route: 'direct' | 'relay';
  regsPerSec: number;
  p50: number;
  p99: number;
  failed: number;
  serverMiB: number;
  relayMiB: number;
}

async function drive(
  route: Route,
  total: number,
  concurrency: number,
  secret: string,
  pin: string,
): Promise<{ ms: number[]; failed: number; wall: number }> {
  const h = await hello(route);
  const prs = await derivePrs(Secret.from(secret), fromB64u(h.serverId, 'serverId', 16), h.kdf);
  const ms: number[] = [];
  let failed = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next += 1;
        const s = performance.now();
        const out = await register(route, { prs, pin });
        if (out.ok) ms.push(performance.now() - s);
        else failed += 1;
      }
    }),
  );
  return { ms, failed, wall: performance.now() - t0 };
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
        const r = await drive(route, total, 32, secrets[n - 1] as string, d.server.pin);
        rows.push({
          secrets: n,
          route: routeName,
          regsPerSec: (r.ms.length / r.wall) * 1000,
          p50: quantile(r.ms, 0.5),
          p99: quantile(r.ms, 0.99),
          failed: r.failed,
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

/** Holds `clients` requests at the relay at once and reports peak memory of both processes. */
export async function benchQueued(clients: number): Promise<{
  clients: number;
  answered: number;
  busy: number;
  serverMiB: number;
  relayMiB: number;
  ms: number;
}> {
  const d = await deploy(['Queue-Secret-1-Zq'], {
    relayArgs: ['--max-queued', String(clients + 100)],
    addSecretsVia: 'api',
  });
  try {
    const url = `${d.relay.url}/v1/servers/${d.serverId}/hello`;
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: clients }, () => call(url).catch(() => ({ status: 0 }))),
    );
    const ms = performance.now() - t0;
    return {
      clients,
      answered: results.filter((r) => r.status === 200).length,
      busy: results.filter((r) => r.status === 503).length,
      serverMiB: peakMemMiB(d.server.proc.child.pid),
      relayMiB: peakMemMiB(d.relay.proc.child.pid),
      ms,
    };
  } finally {
    await d.stop();
  }
}
