/**
 * `npm run bench [-- --quick]`: starts what it needs on loopback and prints
 * the performance tables.
 */
import { cpus } from 'node:os';
import { printTable } from './bench-lib.ts';
import { benchQueued, benchThroughput } from './bench-server.ts';

const quick = process.argv.includes('--quick');
console.log(
  `client-bootstrap benchmark${quick ? ' (quick)' : ''}: ${new Date().toISOString()}, node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}`,
);

const throughput = await benchThroughput(quick);
printTable('throughput: server registrations, 32 concurrent in-process clients', [
  [
    'row',
    'secrets',
    'route',
    'regs/s',
    'p50 ms',
    'p99 ms',
    'failed',
    'server peak MiB',
    'relay peak MiB',
  ],
  ...throughput.map((r) => [
    'throughput',
    String(r.secrets),
    r.route,
    r.regsPerSec.toFixed(0),
    r.p50.toFixed(1),
    r.p99.toFixed(1),
    String(r.failed),
    r.serverMiB.toFixed(0),
    r.relayMiB.toFixed(0),
  ]),
]);

const queued = await benchQueued(quick ? 1000 : 5000);
printTable('queue: clients held at the relay at once (hello)', [
  ['row', 'clients', 'answered', '503', 'all answered in ms', 'server peak MiB', 'relay peak MiB'],
  [
    'queue',
    String(queued.clients),
    String(queued.answered),
    String(queued.busy),
    queued.ms.toFixed(0),
    queued.serverMiB.toFixed(0),
    queued.relayMiB.toFixed(0),
  ],
]);
process.exit(0);
