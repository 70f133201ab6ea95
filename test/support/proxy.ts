/** A real HTTP proxy (tinyproxy) on loopback; its output proves traffic went through it. */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startCommand, tempDir } from './procs.ts';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

/** Starts tinyproxy; with `basicAuth` it answers 407 to any request without those credentials. */
export async function startTinyproxy(
  opts: { basicAuth?: { user: string; password: string } } = {},
): Promise<{
  url: string;
  port: number;
  log(): string;
  stop(): Promise<void>;
}> {
  const port = await freePort();
  const conf = join(tempDir('cb-proxy-'), 'tinyproxy.conf');
  writeFileSync(
    conf,
    [
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 30',
      'Allow 127.0.0.1',
      'LogLevel Connect',
      'MaxClients 50',
      'DisableViaHeader Yes',
      ...(opts.basicAuth ? [`BasicAuth ${opts.basicAuth.user} ${opts.basicAuth.password}`] : []),
    ].join('\n') + '\n',
  );
  const proc = startCommand('tinyproxy', ['-d', '-c', conf]);
  await proc.waitFor(/done sending stored logs/);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    log: () => proc.stdout + proc.stderr,
    stop: async () => void (await proc.stop()),
  };
}
