/**
 * The herd: many clients registering through the relay at once, on the
 * agent's own handshake and transport code, sharing one derived PRS.
 */
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../src/common/log.ts';
import { AttemptError, runHandshake } from '../src/agent/handshake.ts';
import { routeTargets } from '../src/agent/probe.ts';
import { backoffMs, isTransient, parseRetryAfter } from '../src/agent/retry.ts';
import { createTransport } from '../src/agent/transport.ts';
import {
  Secret,
  derivePrs,
  fromB64u,
  generateSigningKey,
  parseHello,
} from '../src/protocol/index.ts';
import { deploy } from '../test/support/deploy.ts';
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
  const transport = createTransport({ connectTimeoutMs: 10_000 });
  let transports: (typeof transport)[] = [];
  try {
    const target = routeTargets({ relay: d.relay.url, serverId: d.serverId, route: 'relay' })[0];
    if (!target) throw new Error('no relay target');
    const signal = new AbortController().signal;
    const helloReply = await transport.send('GET', target.hello, undefined, {
      signal,
      timeoutMs: 10_000,
    });
    const h = parseHello(helloReply.json);
    const prs = await derivePrs(Secret.from(secret), fromB64u(h.serverId, 'serverId', 16), h.kdf);
    let next = 0;
    let retries = 0;
    const ids: string[] = [];
    const errors: string[] = [];
    const ms: number[] = [];
    const t0 = performance.now();
    // A herd is many machines: each worker connects from an address of its own (127.1.x.y),
    // 250 networks of two, so the relay reports, and the server limits, per machine.
    transports = Array.from({ length: concurrency }, (_, w) =>
      createTransport({
        connectTimeoutMs: 10_000,
        localAddress: `127.1.${w >> 1}.${(w & 1) + 1}`,
      }),
    );
    await Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        const transport = transports[worker] as (typeof transports)[number];
        while (next < clients) {
          const n = next++;
          const clientKey = generateSigningKey();
          const started = performance.now();
          for (let attempt = 0; ; attempt++) {
            try {
              const done = await runHandshake({
                target,
                hello: h,
                prs,
                clientKey,
                details: {
                  machineId: `herd-${n}`,
                  hostname: `herd-${n}`,
                  os: 'linux',
                  arch: 'x64',
                  agentVersion: 'bench',
                  installId: `herd-${n}`,
                },
                trust: { pin: d.server.pin, allowTofu: false },
                transport,
                signal,
                timeoutMs: 60_000,
                log: silentLogger,
              });
              if (done.result.kind === 'registered') ids.push(done.result.clientId);
              ms.push(performance.now() - started);
              break;
            } catch (err) {
              if (!(err instanceof AttemptError) || !isTransient(err.code) || attempt > 20) {
                errors.push(
                  err instanceof AttemptError
                    ? `${err.code} after ${attempt} retries`
                    : ((err as Error).message.split('\n')[0] ?? 'error'),
                );
                break;
              }
              retries += 1;
              await new Promise((r) =>
                setTimeout(
                  r,
                  backoffMs(attempt, parseRetryAfter(err.retryAfter, Date.now()), Math.random),
                ),
              );
            }
          }
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
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
      p50: quantile(ms, 0.5),
      p95: quantile(ms, 0.95),
      retries,
      seconds,
      serverMiB: peakMemMiB(d.server.proc.child.pid),
      relayMiB: peakMemMiB(d.relay.proc.child.pid),
    };
  } finally {
    await Promise.all([transport, ...transports].map((t) => t.close()));
    await d.stop();
  }
}
