/**
 * Protocol micro-benchmark: server cost of answering M1, client cost of a
 * full exchange (scrypt excluded), and scrypt at the default parameters.
 * Run: npm run bench:protocol [-- --quick]
 */
import { performance } from 'node:perf_hooks';
import {
  DEFAULT_KDF,
  Secret,
  answerFinish,
  answerStart,
  continueRegistration,
  createServerIdentity,
  derivePrs,
  finishRegistration,
  generateSigningKey,
  startRegistration,
} from '../src/protocol/index.ts';
import type { ActiveSecret } from '../src/protocol/index.ts';
import { DETAILS, TEST_KDF, makeSecrets } from '../test/support/exchange.ts';

const quick = process.argv.includes('--quick');
const rounds = quick ? 50 : 300;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const identity = createServerIdentity();
const rows: string[][] = [
  [
    'secrets',
    'server M1->M2 ops/s',
    'server M1->M2 ms',
    'client exchange ms (no scrypt)',
    'server M3->M4 ms',
  ],
];
for (const n of [1, 4, 16]) {
  const secrets: ActiveSecret[] = await makeSecrets(
    identity,
    Array.from({ length: n }, (_, i) => `Bench-Secret-${i}-X`),
    TEST_KDF,
  );
  const held = secrets[n - 1] as ActiveSecret;
  const clientKey = generateSigningKey();
  const serverMs: number[] = [];
  const clientMs: number[] = [];
  const finishMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const c0 = performance.now();
    const start = startRegistration({ serverId: identity.serverId, prs: held.prs });
    const s0 = performance.now();
    const { m2, pending } = answerStart(start.m1, {
      identity,
      seenAs: 'internet',
      secretRequired: true,
      secrets,
      now: Date.now(),
    });
    const s1 = performance.now();
    const step = continueRegistration(start, m2, {
      trust: { allowTofu: false },
      clientKey,
      details: DETAILS,
    });
    if (step.kind !== 'finish') throw new Error('no matching share');
    const c1 = performance.now();
    const accepted = answerFinish(pending, step.m3, identity);
    const m4 = accepted.respond({ clientId: 'c_bench', registeredAt: new Date().toISOString() });
    const s2 = performance.now();
    finishRegistration(step.pending, m4);
    const c2 = performance.now();
    serverMs.push(s1 - s0);
    finishMs.push(s2 - c1);
    clientMs.push(s0 - c0 + (c1 - s1) + (c2 - s2));
  }
  const m = median(serverMs);
  rows.push([
    String(n),
    (1000 / m).toFixed(0),
    m.toFixed(3),
    median(clientMs).toFixed(3),
    median(finishMs).toFixed(3),
  ]);
}

const scryptMs: number[] = [];
for (let i = 0; i < (quick ? 2 : 5); i++) {
  const t0 = performance.now();
  await derivePrs(Secret.from('Bench-Secret-0-X'), identity.serverIdBytes, DEFAULT_KDF);
  scryptMs.push(performance.now() - t0);
}

console.log(
  `protocol benchmark, ${rounds} rounds, node ${process.version}, ${new Date().toISOString()}`,
);
for (const r of rows)
  console.log(r.map((c, i) => c.padStart(i === 0 ? 7 : r === rows[0] ? 0 : 12)).join(' | '));
console.log(
  `scrypt N=2^17 r=8 p=1: median ${median(scryptMs).toFixed(0)} ms over ${scryptMs.length} runs`,
);
