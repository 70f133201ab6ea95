/**
 * A relay fleet on loopback: nats-server with JetStream in a temporary
 * directory, N relay instances in fleet mode, and nginx round-robin in
 * front of them (Debian's nats-server and nginx).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN, runProc, startCommand, startProc, startServer, tempDir } from './procs.ts';
import type { Proc, ServerHandle } from './procs.ts';
import { runAgent } from './agent.ts';
import type { AgentRun } from './agent.ts';

/** Debian puts both in /usr/sbin, which an unprivileged user's PATH may lack. */
const sbin = (name: string): string =>
  existsSync(`/usr/sbin/${name}`) ? `/usr/sbin/${name}` : name;

/** A loopback port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on the port. */
export async function untilListening(port: number, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = tcpConnect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await sleep(50);
  }
}

export interface NatsHandle {
  readonly url: string;
  /** The monitoring endpoint (`/varz` has the message and byte counts). */
  readonly monitorUrl: string;
  proc: Proc;
  /** Stops it (the JetStream store stays on disk). */
  stop(): Promise<void>;
  /** Starts it again on the same port and store. */
  start(): Promise<void>;
}

export async function startNats(): Promise<NatsHandle> {
  const dir = tempDir('cb-nats-');
  const port = await freePort();
  const monitor = await freePort();
  const launch = async (): Promise<Proc> => {
    const proc = startCommand(sbin('nats-server'), [
      '-js',
      '-m',
      String(monitor),
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '-sd',
      join(dir, 'js'),
    ]);
    await proc.waitFor(/Server is ready/);
    return proc;
  };
  const handle: NatsHandle = {
    url: `nats://127.0.0.1:${port}`,
    monitorUrl: `http://127.0.0.1:${monitor}`,
    proc: await launch(),
    async stop() {
      await handle.proc.stop();
    },
    async start() {
      handle.proc = await launch();
    },
  };
  return handle;
}

export interface FleetRelay {
  readonly proc: Proc;
  readonly url: string;
  readonly port: number;
  readonly instance: string;
  readonly dataDir: string;
}

/** One relay instance in fleet mode, trusting nginx on loopback for the client's address. */
export async function startFleetRelay(nats: string, args: string[] = []): Promise<FleetRelay> {
  const port = await freePort();
  const dataDir = join(tempDir('cb-relay-'), 'relay');
  const proc = startProc(BIN.relay, [
    'start',
    '--data-dir',
    dataDir,
    '--listen',
    `127.0.0.1:${port}`,
    '--nats',
    nats,
    '--trust-proxy',
    '127.0.0.1',
    ...args,
  ]);
  const [, url, instance] = await proc.waitFor(/listening on (\S+) \(fleet instance (\S+)\)/);
  return { proc, url: url as string, port, instance: instance as string, dataDir };
}

/** `add-server` against the fleet's bucket; returns the token file. */
export async function addFleetServer(nats: string, serverId: string): Promise<string> {
  const r = await runProc(BIN.relay, ['add-server', '--nats', nats, `--server-id=${serverId}`]);
  if (r.code !== 0) throw new Error(`add-server failed: ${r.stderr}`);
  const token = r.stdout.trim().split('\n').at(-1) as string;
  const file = join(tempDir('cb-token-'), 'token');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return file;
}

export interface NginxHandle {
  readonly url: string;
  readonly proc: Proc;
}

/** nginx round-robin over `ports`, passing the client's address in X-Forwarded-For. */
export async function startNginx(ports: readonly number[]): Promise<NginxHandle> {
  const dir = tempDir('cb-nginx-');
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const conf = `${asRoot ? 'user root;\n' : ''}worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 16000; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream relays {
${ports.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://relays;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_read_timeout 90s;
      proxy_connect_timeout 2s;
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const proc = startCommand(sbin('nginx'), ['-p', dir, '-c', join(dir, 'nginx.conf')]);
  await untilListening(port);
  return { url: `http://127.0.0.1:${port}`, proc };
}

export interface FleetServer {
  readonly server: ServerHandle;
  /** The tunnel token, as the relay issued it. */
  readonly token: string;
}

/**
 * A server with one secret, registered in the fleet's bucket, its tunnel to
 * `tunnelTo` (one instance, or the load balancer), up.
 */
export async function startFleetServer(
  nats: string,
  tunnelTo: string,
  secret: string,
): Promise<FleetServer> {
  const dataDir = join(tempDir('cb-fleet-'), 'server');
  const add = await runProc(
    BIN.server,
    ['auth', 'secret', 'add', '--data-dir', dataDir, '--kdf-log-n', '14'],
    { input: secret },
  );
  if (add.code !== 0) throw new Error(`auth secret add failed: ${add.stderr}`);
  const show = await runProc(BIN.server, ['auth', 'show', '--json', '--data-dir', dataDir]);
  const { serverId } = JSON.parse(show.stdout) as { serverId: string };
  const tokenFile = await addFleetServer(nats, serverId);
  const server = await startServer({
    dataDir,
    args: ['--relay', tunnelTo, '--relay-token-file', tokenFile],
  });
  await server.proc.waitFor(/tunnel\.up/);
  return { server, token: readFileSync(tokenFile, 'utf8').trim() };
}

/** The agent registering through `relay` (one instance or the balancer), relay route only. */
export function registerViaRelay(
  relay: string,
  server: ServerHandle,
  secretFile: string,
  deadline = '30',
): Promise<AgentRun> {
  return runAgent([
    'register',
    '--relay',
    relay,
    '--server-id',
    server.serverId,
    '--server-pin',
    server.pin,
    '--route',
    'relay',
    '--secret-file',
    secretFile,
    '--state-dir',
    join(tempDir(), 'state'),
    '--deadline',
    deadline,
  ]);
}
