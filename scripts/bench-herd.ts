/**
 * The herd: many clients registering through the relay at once, on the
 * agent's own handshake and transport code, sharing one derived PRS.
 */
import { deploy } from '../test/support/deploy.ts';
import { runHerd } from '../test/support/herd.ts';
import { compareWithStore } from '../test/support/store-counts.ts';
import { peakMemMiB, quantile } from './bench-lib.ts';

export interface HerdRow {
  clients: number;
  concurrency: number;
  /** Ids the clients were given, and how many of them distinct. */
  received: number;
  receivedDistinct: number;
  /** Counted in the server's store with no limit. */
  storeRows: number;
  storeDistinct: number;
  problems: string[];
  /** Clients that gave up, with why. */
  errors: string[];
  p50: number;
  p95: number;
  retries: number;
  seconds: number;
  serverMiB: number;
  relayMiB: number;
}

export async function benchHerd(clients: number, concurrency: number): Promise<HerdRow> {
  const secret = 'Herd-Secret-2026-Q';
  const d = await deploy([secret], {
    relayArgs: ['--max-queued', String(concurrency * 4)],
    addSecretsVia: 'api',
  });
  try {
    const herd = await runHerd({
      relayUrl: d.relay.url,
      serverId: d.serverId,
      pin: d.server.pin,
      secret,
      clients,
      concurrency,
      // The benchmark's clients give up after 20 retries rather than at a deadline.
      agentDeadlineMs: 600_000,
      maxRetries: 20,
    });
    const ids = [...herd.ids.values()];
    const errors = [...herd.failures.values()].map((f) => f.code);
    const store = compareWithStore(d.server.dataDir, ids);
    if (ids.length + errors.length !== clients)
      store.problems.push(
        `${clients - ids.length - errors.length} clients neither got an id nor failed`,
      );
    return {
      clients,
      concurrency,
      received: ids.length,
      receivedDistinct: new Set(ids).size,
      storeRows: store.counts.rows,
      storeDistinct: store.counts.distinctClientIds,
      problems: store.problems,
      errors,
      p50: quantile(herd.latencies, 0.5),
      p95: quantile(herd.latencies, 0.95),
      retries: herd.retries,
      seconds: herd.seconds,
      serverMiB: peakMemMiB(d.server.proc.child.pid),
      relayMiB: peakMemMiB(d.relay.proc.child.pid),
    };
  } finally {
    await d.stop();
  }
}
