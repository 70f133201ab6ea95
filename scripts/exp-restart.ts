import { balance, createEstate } from '../test/support/estate.ts';
import { runHerd } from '../test/support/herd.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { cleanUpEverything } from '../test/support/cleanup.ts';
const pg = await startPostgres();
const estate = await createEstate(pg, 'Estate-Secret-2026');
const [a, b] = await Promise.all([estate.startInstance(), estate.startInstance()]);
const lb = await balance([a, b]);
let restart: Promise<void> | undefined;
const t0 = Date.now();
const herd = await runHerd({
  serverUrl: lb.url,
  serverId: estate.serverId,
  pin: estate.pin,
  secret: 'Estate-Secret-2026',
  clients: 1000,
  concurrency: 100,
  label: 'restart',
  agentDeadlineMs: 40_000,
  onEnded: (n) => {
    if (n === 300 && !restart) {
      console.log('restart at', Date.now() - t0);
      restart = pg.restart().then(
        () => console.log('restarted at', Date.now() - t0),
        (e) => console.log('restart failed', e),
      );
    }
    if (n % 100 === 0) console.log('ended', n, Date.now() - t0);
  },
});
console.log(
  'registered',
  herd.ids.size,
  'failures',
  [...herd.failures.values()].slice(0, 5),
  'retries',
  herd.retries,
  herd.seconds,
);
for (const i of [a, b])
  console.log(
    '---',
    i.url,
    '\n',
    (i.proc.stdout + i.proc.stderr)
      .split('\n')
      .filter((l) => /warn|error/i.test(l))
      .slice(-15)
      .join('\n'),
  );
await cleanUpEverything();
process.exit(0);
