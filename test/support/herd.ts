/**
 * A herd of agents registering at once, through a relay or straight to a server, on the agent's own
 * handshake, retry and transport code, sharing one derived PRS. Each agent
 * has a machine of its own (its own client key and address) and retries
 * transient answers as the agent does, within its own deadline, so it ends
 * registered or with the code the agent would exit with.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../src/common/log.ts';
import { AttemptError, runHandshake } from '../../src/agent/handshake.ts';
import { routeTargets } from '../../src/agent/probe.ts';
import { backoffMs, isTransient, parseRetryAfter } from '../../src/agent/retry.ts';
import { createTransport } from '../../src/agent/transport.ts';
import {
  Secret,
  derivePrs,
  fromB64u,
  generateSigningKey,
  parseHello,
} from '../../src/protocol/index.ts';

export interface HerdOptions {
  /** Through a relay (route relay), or straight to a server or its load balancer (route direct). */
  readonly relayUrl?: string;
  readonly serverUrl?: string;
  readonly serverId: string;
  readonly pin: string;
  readonly secret: string;
  readonly clients: number;
  readonly concurrency: number;
  /** Names the herd's machines (`<label>-<n>`), so two herds against one server stay apart. */
  readonly label?: string;
  /** Each agent's own deadline (the agent's default is 120 s). */
  readonly agentDeadlineMs?: number;
  /** Retries after which an agent gives up even within its deadline (default: none). */
  readonly maxRetries?: number;
  /** Called after every agent that ends, with how many have ended. */
  readonly onEnded?: (ended: number) => void;
}

export interface HerdResult {
  readonly clients: number;
  readonly concurrency: number;
  /** The client id each registered agent was given, by agent number. */
  readonly ids: Map<number, string>;
  /** Why each agent that gave up did, by agent number. */
  readonly failures: Map<number, { code: string; retryable: boolean }>;
  /** Transient answers the agents waited out. */
  readonly retries: number;
  /** Latency per registered agent, including its retries (ms). */
  readonly latencies: number[];
  readonly seconds: number;
}

/** Runs the herd; resolves when every agent has ended. */
export async function runHerd(o: HerdOptions): Promise<HerdResult> {
  const target = routeTargets(
    o.serverUrl
      ? { server: o.serverUrl, route: 'direct' }
      : { ...(o.relayUrl ? { relay: o.relayUrl } : {}), serverId: o.serverId, route: 'relay' },
  )[0];
  if (!target) throw new Error('the herd needs a relayUrl or a serverUrl');
  const first = createTransport({ connectTimeoutMs: 10_000 });
  // A herd is many machines: each worker connects from an address of its own (127.1.x.y).
  const transports = Array.from({ length: o.concurrency }, (_, w) =>
    createTransport({ connectTimeoutMs: 10_000, localAddress: `127.1.${w >> 1}.${(w & 1) + 1}` }),
  );
  const signal = new AbortController().signal;
  try {
    const helloReply = await first.send('GET', target.hello, undefined, {
      signal,
      timeoutMs: 10_000,
    });
    const hello = parseHello(helloReply.json);
    const prs = await derivePrs(
      Secret.from(o.secret),
      fromB64u(hello.serverId, 'serverId', 16),
      hello.kdf,
    );
    const ids = new Map<number, string>();
    const failures = new Map<number, { code: string; retryable: boolean }>();
    const latencies: number[] = [];
    let retries = 0;
    let next = 0;
    let ended = 0;
    const t0 = performance.now();
    const one = async (n: number, transport: (typeof transports)[number]): Promise<void> => {
      const clientKey = generateSigningKey();
      const machine = `${o.label ?? 'herd'}-${n}`;
      const started = performance.now();
      const deadline = Date.now() + (o.agentDeadlineMs ?? 120_000);
      for (let attempt = 0; ; attempt++) {
        try {
          const done = await runHandshake({
            target,
            hello,
            prs,
            clientKey,
            details: {
              machineId: machine,
              hostname: machine,
              os: 'linux',
              arch: 'x64',
              agentVersion: 'herd',
              installId: machine,
            },
            trust: { pin: o.pin, allowTofu: false },
            transport,
            signal,
            timeoutMs: Math.max(1_000, Math.min(60_000, deadline - Date.now())),
            log: silentLogger,
          });
          if (done.result.kind === 'registered') ids.set(n, done.result.clientId);
          latencies.push(performance.now() - started);
          return;
        } catch (err) {
          const code = err instanceof AttemptError ? err.code : 'error';
          const retryable = err instanceof AttemptError && isTransient(err.code);
          const wait = retryable
            ? backoffMs(attempt, parseRetryAfter(err.retryAfter, Date.now()), Math.random)
            : 0;
          if (
            !retryable ||
            Date.now() + wait >= deadline ||
            attempt >= (o.maxRetries ?? Infinity)
          ) {
            failures.set(n, { code, retryable });
            return;
          }
          retries += 1;
          await sleep(wait);
        }
      }
    };
    await Promise.all(
      transports.map(async (transport) => {
        while (next < o.clients) {
          const n = next++;
          await one(n, transport);
          ended += 1;
          o.onEnded?.(ended);
        }
      }),
    );
    return {
      clients: o.clients,
      concurrency: o.concurrency,
      ids,
      failures,
      retries,
      latencies,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await Promise.all([first, ...transports].map((t) => t.close()));
  }
}
