/**
 * `npm run bench [-- --quick] [--only ROW,...] [--exe PATH]`: builds what it
 * times (dist/ and the single executable, into a directory of its own, unless
 * --exe names one), starts what it needs on loopback, measures side by side
 * in one run, prints the table, and (full runs of this commit's own build)
 * writes docs/benchmarks.md with the commit it measured. `--only` runs some
 * rows (startup, direct, relay, slow, fallback, throughput, herd, fleet, estate, queue).
 * Every error is reported in its row; the exit code is 1 when there was any.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { cleanUpEverything, tempDir } from '../test/support/cleanup.ts';
import { deploy } from '../test/support/deploy.ts';
import { ROOT } from '../test/support/procs.ts';
import { slowLink } from '../test/support/slow-link.ts';
import {
  PROBE_TIMEOUT_S,
  benchFallback,
  benchRegistration,
  benchStartup,
  installCopy,
  peakAsBuiltMiB,
} from './bench-agent.ts';
import { breakdown, floorParts } from './bench-breakdown.ts';
import { benchFleet } from './bench-fleet.ts';
import { benchEstate } from './bench-estate.ts';
import type { EstateRow } from './bench-estate.ts';
import { benchHerd } from './bench-herd.ts';
import { printTable } from './bench-lib.ts';
import { ensureRuntime } from './package/runtimes.ts';
import type { Target } from './package/runtimes.ts';
import { benchQueued, benchThroughput } from './bench-server.ts';

const quick = process.argv.includes('--quick');
const ROWS = [
  'startup',
  'direct',
  'relay',
  'slow',
  'fallback',
  'throughput',
  'herd',
  'fleet',
  'estate',
  'queue',
];
const optionValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? undefined : process.argv[i + 1];
  if (i >= 0 && (v === undefined || v.startsWith('--'))) throw new Error(`--${name} needs a value`);
  return v;
};
const only = optionValue('only')?.split(',');
for (const r of only ?? [])
  if (!ROWS.includes(r)) throw new Error(`--only: unknown row ${r}; rows: ${ROWS.join(', ')}`);
const want = (row: string): boolean => !only || only.includes(row);
const givenExe = optionValue('exe');
/** The round trip of the slow link row, in ms (half of it each way). */
const SLOW_RTT_MS = 100;
const started = Date.now();
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;

/** The commit measured, and whether the work tree differed from it (besides this file's output). */
function commitState(): { commit: string; clean: boolean; changed: string[] } {
  const git = (args: string[]): string =>
    execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  const changed = git(['status', '--porcelain', '--untracked-files=normal'])
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.endsWith('docs/benchmarks.md'));
  return { commit: git(['rev-parse', 'HEAD']), clean: changed.length === 0, changed };
}

const state = commitState();
const described = `${state.commit.slice(0, 12)}${state.clean ? '' : ` with uncommitted changes (${state.changed.length} files)`}`;
console.log(
  `client-bootstrap benchmark${quick ? ' (quick)' : ''}${only ? ` (rows ${only.join(', ')})` : ''}: ${new Date().toISOString()}, ${machine}\ncommit ${described}${givenExe ? `; executable ${givenExe}` : ''}`,
);

// Build what is timed: the programs in dist/, and the single executable in a
// directory of this run's own, which no other step writes to.
console.log(`building dist/${givenExe ? '' : ' and the single executable'}...`);
execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
let exe = givenExe ?? '';
if (!givenExe) {
  const seaDir = tempDir('cb-bench-sea-');
  execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/tsx/dist/cli.mjs'),
      join(ROOT, 'scripts/package.ts'),
      '--out-dir',
      seaDir,
    ],
    { cwd: ROOT, stdio: 'ignore', timeout: 300_000 },
  );
  exe = join(seaDir, 'client-bootstrap-linux-x64');
}
// Every row runs the executable as installed, never where the build left it (installCopy says why).
const built = exe;
exe = installCopy(built);
// The runtime the executable embeds, started bare: the process-start part of the floors.
const runtime = ensureRuntime(`linux-${process.arch}` as Target);

const n = quick
  ? { startup: 7, reg: 3, fallback: 1, herd: [600, 100] as const, queued: 1000 }
  : { startup: 21, reg: 15, fallback: 5, herd: [10_000, 500] as const, queued: 5000 };
const KDF_LOG_N = 17;
const f = (x: number, digits = 0): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const COLUMNS = [
  'row',
  'what',
  'runs',
  'median ms',
  'p95 ms',
  'total s',
  'ratio',
  'peak MiB',
  'errors',
  'notes',
];
const rows: string[][] = [COLUMNS];
let errorCount = 0;

/** The errors cell: how many, and the distinct messages (at most 3) in the notes. */
function errorsCell(errors: readonly string[]): { count: string; note: string } {
  errorCount += errors.length;
  if (errors.length === 0) return { count: '0', note: '' };
  const distinct = [...new Set(errors)];
  return {
    count: String(errors.length),
    note: `errors: ${distinct.slice(0, 3).join('; ')}${distinct.length > 3 ? `; +${distinct.length - 3} more kinds` : ''}`,
  };
}

function row(cells: Record<string, string>, errors: readonly string[] = []): void {
  const e = errorsCell(errors);
  const notes = [cells.notes ?? '', e.note].filter(Boolean).join('; ');
  rows.push(
    COLUMNS.map((c) => (c === 'errors' ? e.count : c === 'notes' ? notes : (cells[c] ?? ''))),
  );
}

function estateRow(e: EstateRow): void {
  const where =
    e.kind === 'sqlite'
      ? 'SQLite, 1 instance'
      : `PostgreSQL, ${e.instances} instance${e.instances > 1 ? 's' : ''}`;
  const pool =
    e.workers === 'cores'
      ? 'pool of one thread per core'
      : e.workers === 0
        ? 'no pool'
        : `${e.workers} threads`;
  row(
    {
      row: 'estate',
      what: `${e.clients} clients direct through nginx; ${where}; ${e.secrets} secret${e.secrets > 1 ? 's' : ''}, ${pool}; concurrency ${e.concurrency}`,
      runs: String(e.clients),
      'median ms': f(e.p50),
      'p95 ms': f(e.p95),
      'total s': f(e.seconds, 1),
      ratio: `${f(e.registered / e.seconds)} regs/s`,
      'peak MiB': e.peakMiB.map((m) => f(m)).join(', '),
      notes: `server CPU per registration ${e.cpuMsPerReg.map((c) => f(c, 2)).join(' + ')} ms${e.dbCpuMsPerReg === null ? '' : `, PostgreSQL ${f(e.dbCpuMsPerReg, 2)} ms`}; store: ${e.storeRows} rows for ${e.registered} ids; retries ${e.retries}`,
    },
    [
      ...e.gaveUp,
      ...(e.storeRows === e.registered
        ? []
        : [`store has ${e.storeRows} rows for ${e.registered} ids`]),
    ],
  );
}

/** Runs one group of rows; an exception becomes a row of its own instead of ending the run. */
async function guarded(name: string, fn: () => Promise<void> | void): Promise<void> {
  try {
    await fn();
  } catch (err) {
    row({ row: name, what: 'not measured' }, [(err as Error).message.split('\n')[0] ?? 'error']);
  }
}

try {
  if (want('startup'))
    await guarded('startup', () => {
      const s = benchStartup(exe, n.startup, runtime);
      row(
        {
          row: 'startup',
          what: '--version of the single executable vs its own node -e 0',
          runs: String(n.startup),
          'median ms': f(s.exe),
          'p95 ms': f(s.exeP95),
          ratio: `${f(s.exe / s.node, 2)}x node`,
          notes: `the embedded runtime's node -e 0: median ${f(s.node)} ms`,
        },
        s.errors,
      );
    });

  const secret = 'Bench-Registration-42';
  if (['direct', 'relay', 'slow', 'fallback'].some(want))
    await guarded('direct/relay', async () => {
      const d = await deploy([secret], { kdfLogN: String(KDF_LOG_N), addSecretsVia: 'api' });
      try {
        const links = [
          [
            'direct',
            'whole registration by the executable, process start to exit',
            d.routes.direct,
          ],
          ['relay', 'whole registration by the executable, process start to exit', d.routes.relay],
          ['slow', `the same, direct on a link with ${SLOW_RTT_MS} ms round trips`, null],
        ] as const;
        for (const [name, what, known] of links) {
          if (!want(name)) continue;
          // A delaying proxy on loopback: half the round trip each way.
          const route = known ?? {
            kind: 'direct' as const,
            url: (await slowLink(d.server.url, { delayMs: SLOW_RTT_MS / 2, dropPercent: 0 })).url,
          };
          const r = await benchRegistration(exe, d, secret, route, n.reg, runtime);
          const { floor } = r;
          const asBuilt =
            name === 'direct'
              ? `; the file as the build wrote it, not installed: peak ${f(await peakAsBuiltMiB(built, d, secret, route, 3))} MiB`
              : '';
          row(
            {
              row: name,
              what,
              runs: String(n.reg),
              'median ms': f(r.median),
              'p95 ms': f(r.p95),
              ratio: `${f(r.median / floor.ms, 2)}x floor`,
              'peak MiB': f(r.peakMiB),
              notes: `${floorParts(floor, r.median)} (through the ${route.kind === 'direct' ? 'server' : 'relay'})${asBuilt}`,
            },
            r.errors,
          );
          if (r.runs.length > 0)
            row({
              row: `${name} parts`,
              what: "the agent's --json timings, medians",
              notes: breakdown(r),
            });
        }
        if (!want('fallback')) return;
        const fb = await benchFallback(exe, d, secret, n.fallback);
        for (const [what, m] of [
          ['to a relay registration, direct drops packets', fb.dropped],
          ['to a relay registration, direct accepts, never answers', fb.silent],
        ] as const)
          row(
            {
              row: 'fallback',
              what,
              runs: String(n.fallback),
              'median ms': f(m.median),
              'p95 ms': f(m.p95),
              ratio: `${f(m.median / fb.probeTimeoutMs, 2)}x probe timeout`,
              notes: `--probe-timeout ${fb.probeTimeoutMs / 1000} s`,
            },
            m.errors,
          );
      } finally {
        await d.stop();
      }
    });

  if (want('throughput'))
    await guarded('throughput', async () => {
      for (const t of await benchThroughput(quick)) {
        row(
          {
            row: 'throughput',
            what: `${t.secrets} secret${t.secrets > 1 ? 's' : ''}, ${t.route}, 32 concurrent clients`,
            runs: String(t.received + t.errors.length),
            'median ms': f(t.p50),
            'p95 ms': f(t.p95),
            ratio: `${f(t.regsPerSec)} regs/s`,
            'peak MiB': `server ${f(t.serverMiB)} / relay ${f(t.relayMiB)}`,
            notes: `p99 ${f(t.p99)} ms; store: ${t.storeRows} new rows for ${t.received} ids received${t.problems.length ? `; ${t.problems.join('; ')}` : ''}`,
          },
          [...t.errors, ...t.problems],
        );
      }
    });

  if (want('herd'))
    await guarded('herd', async () => {
      const herd = await benchHerd(n.herd[0], n.herd[1]);
      row(
        {
          row: 'herd',
          what: `${herd.clients} clients through the relay, concurrency ${herd.concurrency}`,
          runs: String(herd.clients),
          'median ms': f(herd.p50),
          'p95 ms': f(herd.p95),
          'total s': f(herd.seconds, 1),
          ratio: `${f(herd.received / herd.seconds)} regs/s`,
          'peak MiB': `server ${f(herd.serverMiB)} / relay ${f(herd.relayMiB)}`,
          notes: `store: ${herd.storeRows} rows, ${herd.storeDistinct} distinct ids; clients got ${herd.received} ids, ${herd.receivedDistinct} distinct; retries ${herd.retries}`,
        },
        [...herd.errors, ...herd.problems],
      );
    });

  if (want('fleet'))
    await guarded('fleet', async () => {
      // One herd through nginx and one relay instance in fleet mode, then three, in this run.
      for (const instances of [1, 3]) {
        const fl = await benchFleet(instances, n.herd[0], n.herd[1]);
        row(
          {
            row: 'fleet',
            what: `${fl.clients} clients through nginx and ${instances} relay instance${instances > 1 ? 's' : ''} on NATS, concurrency ${fl.concurrency}`,
            runs: String(fl.clients),
            'median ms': f(fl.p50),
            'p95 ms': f(fl.p95),
            'total s': f(fl.seconds, 1),
            ratio: `${f(fl.registered / fl.seconds)} regs/s`,
            'peak MiB': `server ${f(fl.serverMiB)} / relay ${fl.relayMiB.map((m) => f(m)).join(', ')}`,
            notes: `store: ${fl.storeRows} rows; clients got ${fl.registered} ids, ${fl.distinct} distinct; retries ${fl.retries}; relay CPU per registration ${fl.relayCpuMsPerReg.map((c) => f(c, 2)).join(', ')} ms; NATS per registration ${f(fl.natsMsgsPerReg, 1)} messages, ${f(fl.natsBytesPerReg)} bytes; requests carried over NATS ${fl.crossed.join(', ')}`,
          },
          [
            ...fl.gaveUp,
            ...(fl.storeRows === fl.registered
              ? []
              : [`store has ${fl.storeRows} rows for ${fl.registered} ids`]),
          ],
        );
      }
    });

  if (want('estate'))
    await guarded('estate', async () => {
      // The same herd on SQLite, on PostgreSQL with one instance and with two; then 16 secrets, pool off and on.
      const [clients, concurrency] = quick ? [300, 50] : [3_000, 100];
      const runs: Parameters<typeof benchEstate>[0][] = [
        { kind: 'sqlite', instances: 1, secrets: 1, workers: 'cores', clients, concurrency },
        { kind: 'postgres', instances: 1, secrets: 1, workers: 'cores', clients, concurrency },
        { kind: 'postgres', instances: 2, secrets: 1, workers: 'cores', clients, concurrency },
        { kind: 'sqlite', instances: 1, secrets: 16, workers: 0, clients, concurrency },
        { kind: 'sqlite', instances: 1, secrets: 16, workers: 'cores', clients, concurrency },
      ];
      for (const run of runs) estateRow(await benchEstate(run));
    });

  if (want('queue'))
    await guarded('queue', async () => {
      const q = await benchQueued(n.queued);
      row(
        {
          row: 'queue',
          what: `${q.clients} hellos held at the relay at once`,
          runs: String(q.clients),
          'median ms': f(q.p50),
          'p95 ms': f(q.p95),
          'total s': f(q.wallMs / 1000, 1),
          'peak MiB': `server ${f(q.serverMiB)} / relay ${f(q.relayMiB)}`,
          notes: `answered ${q.answered}, 503 ${q.busy}`,
        },
        q.errors,
      );
    });
} finally {
  await cleanUpEverything();
}

printTable(`results (${((Date.now() - started) / 1000).toFixed(0)} s)`, rows);
if (errorCount > 0) console.error(`\n${errorCount} errors: see the errors and notes columns`);

if (!quick && !only && !givenExe) {
  const md = [
    '# Benchmarks',
    '',
    `Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)} at commit \`${state.commit}\`${state.clean ? ' (clean work tree)' : `, with uncommitted changes to ${state.changed.length} files`}: ${machine}.`,
    'The benchmark builds `dist/` and the single executable (into a directory of its own) before timing them.',
    'Everything runs on this one machine over loopback; the server, the relay and the clients share its cores, so ratios matter more than absolute times.',
    '',
    `| ${COLUMNS.join(' | ')} |`,
    `| ${COLUMNS.map(() => '---').join(' | ')} |`,
    ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`),
    '',
    `Rows: \`startup\` is the single executable against a bare start of the Node runtime it embeds; \`direct\` and \`relay\` are whole registrations of the executable (fresh state each time, server scrypt at N=2^${KDF_LOG_N}) against the floor of that route (the medians of: a bare start of the Node runtime the executable embeds, which re-executes itself once with glibc's tunable where the executable puts scrypt on huge pages, scrypt in a fresh process of that runtime there, or one start and scrypt on 4 KiB pages if that is less, and three bare round trips on a new connection; scrypt and the round trips sampled right before each registration, the starts after them, for this VM's memory as scripts/bench-agent.ts says), and \`slow\` the same on a link with ${SLOW_RTT_MS} ms round trips (a delaying proxy on loopback that also holds a new connection's first bytes for the round trip of TCP's handshake), where the derivation overlapping the probes shows; their \`parts\` rows are the medians of the agent's own \`--json\` timings (ms, and where each phase starts on the clock of main); \`fallback\` is a registration through the relay while direct is blackholed (iptables DROP) or silent, with \`--probe-timeout ${PROBE_TIMEOUT_S}\`; \`throughput\` drives the server with in-process clients sharing one PRS (median and p99 latency per registration); \`herd\` registers many clients through the relay on the agent's own handshake code (latency per client including retries; \`total s\` is the whole herd); \`fleet\` is the same herd through nginx round-robin and one, then three relay instances in fleet mode joined by nats-server (the server's tunnel also through nginx), with each instance's peak memory and CPU per registration and the NATS traffic per registration (from nats-server's /varz); \`estate\` is a herd straight to the server through nginx on the embedded SQLite store, then on PostgreSQL with one instance and with two (round-robin), then 16 secrets on SQLite with the handshakes on the event loop and on the worker pool, with each instance's CPU per registration (all its threads) and PostgreSQL's own (its postmaster and backends); everything shares this machine's two cores with the load generator, so it shows the cost per registration, not the scaling; \`queue\` holds many requests at the relay at once (latency per request; \`total s\` until the last answer). Store counts are SQL counts of the server's clients table, with no limit.`,
    '',
  ].join('\n');
  writeFileSync(join(ROOT, 'docs/benchmarks.md'), md);
  console.log('\nwrote docs/benchmarks.md');
}
process.exit(errorCount > 0 ? 1 : 0);
