/**
 * `npm run demo`: a server (mode all, one generated secret) and a relay on
 * loopback, one client registered directly and one through the relay with
 * its direct route silent; prints both reports and stops everything.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentListener } from '../test/support/blackhole.ts';
import { BIN, runProc, startRelay, startServer, tempDir } from '../test/support/procs.ts';

const dir = tempDir('cb-demo-');
const serverDir = join(dir, 'server');
const say = (text: string): void => console.log(`\n== ${text}`);
const cli = async (bin: string, args: string[], input?: string): Promise<string> => {
  const r = await runProc(bin, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
};

say(`working in ${dir}`);
await cli(BIN.server, ['auth', 'mode', 'all', '--data-dir', serverDir]);
const added = await cli(BIN.server, [
  'auth',
  'secret',
  'add',
  '--generate',
  '--label',
  'demo',
  '--data-dir',
  serverDir,
]);
const secret = /secret: (\S+)/.exec(added)?.[1] as string;
const secretFile = join(dir, 'secret.txt');
writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
console.log(added.replace(secret, '<generated; saved to secret.txt>').trimEnd());
const { serverId } = JSON.parse(
  await cli(BIN.server, ['auth', 'show', '--json', '--data-dir', serverDir]),
) as { serverId: string };

const relay = await startRelay({ dataDir: join(dir, 'relay') });
const tokenFile = await relay.addServer(serverId);
const server = await startServer({
  dataDir: serverDir,
  args: ['--relay', relay.url, '--relay-token-file', tokenFile, '--log-level', 'warn'],
});
await server.proc.waitFor(/tunnel\.up/);
const silent = await silentListener();
try {
  say(`server ${server.url} (mode all), relay ${relay.url}, tunnel up`);
  const config = JSON.parse(
    await cli(BIN.server, ['client-config', '--data-dir', serverDir, '--relay-url', relay.url]),
  ) as { serverPin: string };
  console.log(
    await cli(BIN.server, [
      'install-command',
      '--data-dir',
      serverDir,
      '--relay-url',
      relay.url,
      '--secret-path',
      secretFile,
    ]),
  );

  /** One endpoint's agent, as an installer would run it. */
  const agent = (name: string, serverUrl: string, extra: string[] = []) =>
    runProc(BIN.agent, [
      '--server',
      serverUrl,
      '--relay',
      relay.url,
      `--server-id=${serverId}`,
      `--server-pin=${config.serverPin}`,
      '--secret-file',
      secretFile,
      '--state-dir',
      join(dir, name),
      '--log-file',
      join(dir, name, 'agent.log'),
      ...extra,
    ]);

  say('client 1: direct route');
  const one = await agent('client1', server.url);
  process.stdout.write(one.stdout + one.stderr);
  console.log(`exit code ${one.code}`);

  say(
    'client 2: its direct route is silent (accepts, never answers), so it goes through the relay',
  );
  const two = await agent('client2', silent.url, ['--json']);
  console.log(JSON.stringify(JSON.parse(two.stdout), null, 2));
  console.log(`exit code ${two.code}`);

  say('the server sees (both clients run on this one machine, so the second supersedes the first)');
  console.log(await cli(BIN.server, ['clients', 'list', '--data-dir', serverDir]));
  if (one.code !== 0 || two.code !== 0) process.exitCode = 1;
} finally {
  silent.close();
  await server.proc.stop();
  await relay.proc.stop();
  say('stopped the server and the relay');
}
