/**
 * Honest clients at scale over real HTTP: each registers as the agent
 * does, honouring 429 and 503 with their Retry-After, within a deadline.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Prs } from '../../src/protocol/index.ts';
import { register } from './wire-client.ts';
import type { RegisterOutcome, Route } from './wire-client.ts';

export interface RolloutResult {
  readonly registered: number;
  readonly failed: { code: string }[];
  /** Answers of 429 or 503 that a client waited out. */
  readonly waits: number;
  readonly clientIds: string[];
}

/** Registers `count` clients, `concurrency` at a time, all from `localAddress`. */
export async function rollout(
  route: Route,
  opts: {
    count: number;
    concurrency: number;
    prs: Prs;
    localAddress?: string;
    pin?: string;
    deadlineMs?: number;
  },
): Promise<RolloutResult> {
  const ids: string[] = [];
  const failed: { code: string }[] = [];
  let waits = 0;
  let next = 0;
  const deadline = Date.now() + (opts.deadlineMs ?? 120_000);
  const one = async (): Promise<void> => {
    for (;;) {
      const out: RegisterOutcome = await register(route, {
        prs: opts.prs,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
        ...(opts.pin ? { pin: opts.pin } : {}),
      });
      if (out.ok && out.result.kind === 'registered') {
        ids.push(out.result.clientId);
        return;
      }
      const transient = !out.ok && (out.status === 429 || out.status === 503);
      const waitMs = !out.ok && out.retryAfter ? Number(out.retryAfter) * 1000 : 1000;
      if (!transient || Date.now() + waitMs > deadline) {
        failed.push({ code: out.ok ? 'verified' : out.code });
        return;
      }
      waits += 1;
      await sleep(waitMs + Math.random() * 500);
    }
  };
  const workers = Array.from({ length: opts.concurrency }, async () => {
    while (next < opts.count) {
      next += 1;
      await one();
    }
  });
  await Promise.all(workers);
  return { registered: ids.length, failed, waits, clientIds: ids };
}
