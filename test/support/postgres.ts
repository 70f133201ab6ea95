/**
 * A real PostgreSQL 15 (Debian's) on loopback for the fleet tests: a fresh
 * cluster in a temporary directory, a free port on 127.0.0.1, password
 * (scram-sha-256) authentication over TCP with a random password, the unix
 * socket in the temporary directory, durability off for speed. PostgreSQL
 * refuses to run as root, so as root it runs as the `postgres` user (or
 * `nobody`) in a directory that user owns. Registered for clean-up like
 * every other process the tests start.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { onCleanup, stopChild, trackChild } from './cleanup.ts';
import { freePort } from './fleet.ts';

const BIN_DIR = '/usr/lib/postgresql/15/bin';
const SUPERUSER = 'postgres';

export interface PostgresHandle {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  readonly url: string;
  readonly urlNoPassword: string;
  readonly password: string;
  /** The cluster's data directory (PGDATA). */
  readonly dataDir: string;
  readonly port: number;
  /** Fast shutdown (open sessions are ended); the cluster stays on disk. */
  stop(): Promise<void>;
  /** SIGKILL to the whole server, as a crash would. */
  kill(): void;
  /** SIGSTOP to the whole server: it holds every connection and answers nothing. */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  /** Starts it again on the same port and cluster. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Runs SQL as the superuser; returns the output (unaligned, tuples only). */
  psql(sql: string): Promise<string>;
  /** Creates a database and returns its URL (with the password). */
  createDatabase(name: string): Promise<string>;
  /** What the server printed, every start of it (the last 256 KiB): for failure reports. */
  log(): string;
}

/** The unprivileged account PostgreSQL runs as when we are root. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n');
  for (const name of [SUPERUSER, 'nobody']) {
    const fields = passwd.find((l) => l.startsWith(`${name}:`))?.split(':');
    if (fields) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  // Neither exists: make a system account for it (a minimal CI image).
  const made = spawnSync('useradd', ['--system', '--no-create-home', SUPERUSER]);
  if (made.status !== 0) throw new Error(`useradd ${SUPERUSER} failed: ${String(made.stderr)}`);
  return runAs();
}

/** Runs one of PostgreSQL's programs to completion as `user`. */
function runTool(
  tool: string,
  args: string[],
  user: { uid: number; gid: number } | undefined,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(BIN_DIR, tool), args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      ...(user ?? {}),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
    });
    trackChild(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => void stopChild(child, 'SIGKILL'), 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${tool} exited with ${code}: ${out}`));
    });
  });
}

/**
 * Signals the postmaster and every process it forked: each backend calls
 * setsid(), so the postmaster's process group does not reach them.
 */
function signalCluster(postmaster: number, signal: NodeJS.Signals): void {
  const pids = [postmaster];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The parent pid is the second field after the command (which may hold spaces).
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone meanwhile
    }
  }
}

/** Starts a fresh PostgreSQL 15 cluster on a free loopback port. */
export async function startPostgres(
  opts: { maxConnections?: number } = {},
): Promise<PostgresHandle> {
  const user = runAs();
  // Not under the run's temporary root: that is 0700 and root's, and the
  // server's account must reach its own directory.
  const base = mkdtempSync(join(tmpdir(), 'cb-pg-'));
  const removeNow = (): void => rmSync(base, { recursive: true, force: true });
  const removeBase = onCleanup(removeNow);
  // The last resort of cleanup.ts removes only the run's root; this goes with it.
  process.once('exit', removeNow);
  const dataDir = join(base, 'data');
  const socketDir = join(base, 'sock');
  mkdirSync(socketDir);
  const password = randomBytes(18).toString('base64url');
  const pwFile = join(base, 'pw');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (user) for (const p of [base, socketDir, pwFile]) chownSync(p, user.uid, user.gid);
  await runTool(
    'initdb',
    [
      '-D',
      dataDir,
      '-U',
      SUPERUSER,
      `--pwfile=${pwFile}`,
      '--auth-host=scram-sha-256',
      '--auth-local=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
    ],
    user,
  );
  rmSync(pwFile);
  const port = await freePort();
  const settings = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: socketDir,
    max_connections: String(opts.maxConnections ?? 100),
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    shared_buffers: '32MB',
    password_encryption: 'scram-sha-256',
  };
  const args = [
    '-D',
    dataDir,
    ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  ];

  let child: ChildProcess | undefined;
  let fullLog = '';
  /** Resolves once the server killed by kill() has exited. */
  let killed: Promise<void> | undefined;
  const launch = async (): Promise<void> => {
    const proc = spawn(join(BIN_DIR, 'postgres'), args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      ...(user ?? {}),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
    });
    trackChild(proc);
    child = proc;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`postgres did not become ready in 30 s:\n${log}`));
      }, 30_000);
      const onData = (d: Buffer): void => {
        log += d.toString();
        fullLog = (fullLog + d.toString()).slice(-256 * 1024);
        // The postmaster says so once it accepts connections (after any crash recovery).
        if (/ready to accept connections/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      proc.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`postgres exited (${sig ?? code}) before it was ready:\n${log}`));
      });
    });
  };
  const isRunning = (): boolean =>
    child !== undefined && child.exitCode === null && child.signalCode === null;

  const url = (db: string): string =>
    `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;
  const hasPsql = existsSync(join(BIN_DIR, 'psql'));

  const handle: PostgresHandle = {
    url: url('postgres'),
    urlNoPassword: `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`,
    password,
    dataDir,
    port,
    async stop() {
      // SIGINT is the fast shutdown: SIGTERM would wait for every pool to disconnect.
      if (child && isRunning()) await stopChild(child, 'SIGINT', 15_000);
    },
    kill() {
      const dying = child;
      if (dying?.pid === undefined || !isRunning()) return;
      killed = new Promise((resolve) => dying.once('exit', () => resolve()));
      process.kill(-dying.pid, 'SIGKILL');
    },
    freeze() {
      if (child?.pid !== undefined && isRunning()) signalCluster(child.pid, 'SIGSTOP');
    },
    thaw() {
      if (child?.pid !== undefined && isRunning()) signalCluster(child.pid, 'SIGCONT');
    },
    async start() {
      if (killed) await killed;
      killed = undefined;
      if (isRunning()) return;
      await launch();
    },
    async restart() {
      await handle.stop();
      await handle.start();
    },
    async psql(sql) {
      if (hasPsql) {
        // Over the unix socket, where the superuser is trusted: no password on a command line.
        return runTool(
          'psql',
          [
            '-X',
            '-q',
            '-A',
            '-t',
            '-v',
            'ON_ERROR_STOP=1',
            '-h',
            socketDir,
            '-p',
            String(port),
            '-U',
            SUPERUSER,
            '-d',
            'postgres',
            '-c',
            sql,
          ],
          user,
        ).then((out) => out.trimEnd());
      }
      const client = new pg.Client({ connectionString: url('postgres') });
      await client.connect();
      try {
        // Several statements give several results.
        const results: pg.QueryResult<Record<string, unknown>>[] = [
          await client.query<Record<string, unknown>>(sql),
        ].flat();
        return results
          .flatMap((r) => r.rows.map((row) => Object.values(row).map(String).join('|')))
          .join('\n');
      } finally {
        await client.end();
      }
    },
    log: () => fullLog,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      await handle.psql(`CREATE DATABASE ${name}`);
      return url(name);
    },
  };
  await launch();
  onCleanup(async () => {
    await handle.stop();
    await removeBase();
  });
  return handle;
}
