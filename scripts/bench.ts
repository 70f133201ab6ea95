/**
 * `npm run bench [-- --quick]`: starts what it needs on loopback, measures
 * side by side in one run, prints the table, and (full runs) writes
 * docs/benchmarks.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { deploy } from '../test/support/deploy.ts';
import { ROOT } from '../test/support/procs.ts';
import { EXE, benchFallback, benchFloor, benchRegistration, benchStartup } from './bench-agent.ts';
import { benchHerd } from './bench-herd.ts';
import { printTable } from './bench-lib.ts';
import { benchQueued, benchThroughput } from './bench-server.ts';

const quick = process.argv.includes('--quick');
const started = Date.now();
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
const header = `client-bootstrap benchmark${quick ? ' (quick)' : ''}: ${new Date().toISOString()}, ${machine}`;
console.log(header);

if (!quick || !existsSync(EXE))
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'scripts/package.ts')],
    { stdio: 'ignore' },
  );

const n = quick
  ? { startup: 7, reg: 3, fallback: 1, floor: 2, herd: [600, 100] as const, queued: 1000 }
  : { startup: 21, reg: 15, fallback: 5, floor: 5, herd: [10_000, 500] as const, queued: 5000 };
const f = (x: number, digits = 0): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const rows: string[][] = [['row', 'what', 'median ms', 'p95 ms', 'ratio', 'peak MiB', 'notes']];

const startup = benchStartup(n.startup);
rows.push([
  'startup',
  '--version of the executable vs node -e 0',
  f(startup.exe),
  '',
  `${f(startup.exe / startup.node, 2)}x`,
  '',
  `node -e 0: ${f(startup.node)} ms`,
]);

const secret = 'Bench-Registration-42';
const d = await deploy([secret], { kdfLogN: '17', addSecretsVia: 'api' });
try {
  const floor = await benchFloor(d, secret, n.floor);
  for (const route of ['direct', 'relay'] as const) {
    const r = benchRegistration(d, secret, route, n.reg);
    rows.push([
      route,
      'whole registration, process start to exit',
      f(r.median),
      f(r.p95),
      `${f(r.median / floor, 2)}x floor`,
      f(r.peakMiB),
      `floor ${f(floor)} ms (scrypt N=2^17 + 3 bare round trips)${r.failures ? `, ${r.failures} failed` : ''}`,
    ]);
  }
  const fb = await benchFallback(d, secret, n.fallback);
  rows.push([
    'fallback',
    'to a relay registration, direct drops packets',
    f(fb.dropped),
    '',
    `${f(fb.dropped / fb.probeTimeoutMs, 2)}x probe timeout`,
    '',
    `probe timeout ${fb.probeTimeoutMs} ms`,
  ]);
  rows.push([
    'fallback',
    'to a relay registration, direct accepts, never answers',
    f(fb.silent),
    '',
    `${f(fb.silent / fb.probeTimeoutMs, 2)}x probe timeout`,
    '',
    `probe timeout ${fb.probeTimeoutMs} ms`,
  ]);
} finally {
  await d.stop();
}

for (const t of await benchThroughput(quick)) {
  rows.push([
    'throughput',
    `${t.secrets} secret${t.secrets > 1 ? 's' : ''}, ${t.route}, 32 concurrent clients`,
    f(t.p50),
    f(t.p99),
    `${f(t.regsPerSec)} regs/s`,
    `server ${f(t.serverMiB)} / relay ${f(t.relayMiB)}`,
    `p99 in the p95 column${t.failed ? `; ${t.failed} failed` : ''}`,
  ]);
}

const herd = await benchHerd(n.herd[0], n.herd[1]);
rows.push([
  'herd',
  `${herd.clients} clients through the relay, concurrency ${herd.concurrency}`,
  f(herd.seconds * 1000),
  '',
  `${f(herd.clients / herd.seconds)} regs/s`,
  `server ${f(herd.serverMiB)} / relay ${f(herd.relayMiB)}`,
  `registered ${herd.registered}, distinct ids ${herd.distinct}, retries ${herd.retries}`,
]);

const q = await benchQueued(n.queued);
rows.push([
  'queue',
  `${q.clients} hellos held at the relay at once`,
  f(q.ms),
  '',
  '',
  `server ${f(q.serverMiB)} / relay ${f(q.relayMiB)}`,
  `answered ${q.answered}, 503 ${q.busy}`,
]);

printTable(`results (${((Date.now() - started) / 1000).toFixed(0)} s)`, rows);

if (!quick) {
  const md = [
    '# Benchmarks',
    '',
    `Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${machine}.`,
    'Everything runs on this one machine over loopback; the server, the relay and the clients share its cores, so ratios matter more than absolute times.',
    '',
    `| ${rows[0]?.join(' | ')} |`,
    `| ${rows[0]?.map(() => '---').join(' | ')} |`,
    ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`),
    '',
    "Rows: `startup` is the single executable against bare node; `direct` and `relay` are whole registrations of the executable (fresh state each time, server scrypt at N=2^17) against the floor measured in the same run; `fallback` is a registration through the relay while direct is blackholed (iptables DROP) or silent; `throughput` drives the server with in-process clients sharing one PRS; `herd` registers many clients through the relay on the agent's own handshake code; `queue` holds many requests at the relay at once.",
    '',
  ].join('\n');
  writeFileSync(join(ROOT, 'docs/benchmarks.md'), md);
  console.log('\nwrote docs/benchmarks.md');
}
process.exit(0);
