/**
 * What the handshake pool buys: M1 -> M2 starts per second with 16 shares,
 * inline (on the event loop) and on the worker pool, with how late the
 * event loop ran meanwhile (p99 delay), which is what other requests feel.
 * Run: npx tsx scripts/bench-crypto.ts [--quick] [--threads N]
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createServerIdentity, startRegistration } from '../src/protocol/index.ts';
import type { M1 } from '../src/protocol/index.ts';
import { defaultThreads, inlineCrypto, pooledCrypto } from '../src/server/handshake-crypto.ts';
import type { HandshakeCrypto } from '../src/server/handshake-crypto.ts';
import { TEST_KDF, makeSecrets } from '../test/support/exchange.ts';

const quick = process.argv.includes('--quick');
const threadsArg = process.argv.indexOf('--threads');
const threads = threadsArg > 0 ? Number(process.argv[threadsArg + 1]) : defaultThreads();
const total = quick ? 200 : 1000;

const identity = createServerIdentity();
const secrets = await makeSecrets(
  identity,
  Array.from({ length: 16 }, (_, i) => `Bench-Secret-${i}-X`),
  TEST_KDF,
);
const m1s: M1[] = Array.from(
  { length: total },
  (_, i) => startRegistration({ serverId: identity.serverId, prs: secrets[i % 16]!.prs }).m1,
);
const ctx = { seenAs: 'internet' as const, secretRequired: true, secrets, now: Date.now() };

/** Starts `total` handshakes, `concurrency` at a time, as requests would arrive. */
async function measure(crypto: HandshakeCrypto, concurrency: number): Promise<string[]> {
  let next = 0;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        // Each request is an event of its own: the loop gets a turn between them, as in a server.
        await new Promise((resolve) => setImmediate(resolve));
        await crypto.start(m1s[next++]!, ctx);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  delay.disable();
  return [
    crypto.threads === 0 ? 'inline' : `pool of ${crypto.threads}`,
    (total / seconds).toFixed(0),
    (delay.percentile(99) / 1e6).toFixed(1),
  ];
}

const inline = inlineCrypto(identity);
const pooled = pooledCrypto(identity, { threads });
await pooled.ping(); // the workers have booted: their start-up is not a handshake's cost
const rows = [['', 'starts/s (16 shares)', 'event loop p99 delay ms']];
rows.push(await measure(inline, 1));
rows.push(await measure(pooled, threads * 4));
await pooled.close();
await inline.close();

const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) console.log(r.map((cell, c) => cell.padStart(widths[c]!)).join('  '));
