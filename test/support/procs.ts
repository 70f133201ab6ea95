/** Spawns the real executables for integration and end-to-end tests. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopChild, tempDir, trackChild } from './cleanup.ts';

export { tempDir } from './cleanup.ts';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const BIN = {
  server: join(ROOT, 'dist/lib/bin/bootstrap-server.js'),
  relay: join(ROOT, 'dist/lib/bin/bootstrap-relay.js'),
  agent: join(ROOT, 'dist/lib/bin/client-bootstrap.js'),
};

/** Writes a file that holds a secret: readable by its owner only (0600). */
export function writeSecretFile(path: string, content: string): string {
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

export interface Proc {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  /**
   * Resolves when `pattern` has appeared on stdout or stderr; rejects when
   * the process could not start, exits first, or `timeoutMs` passes.
   */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Stops the process and its group (SIGKILL after a grace period); resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * The agent's environment in a test: a log file of its own unless the run
 * names one (a flag, the variable or --config), since as root the default is
 * /var/log/client-bootstrap, which is the machine's, not a test run's. So
 * these runs always log, `check` and `status` too, and a logFile in a
 * client-bootstrap.json found beside the program is overridden.
 */
export function agentEnv(
  args: readonly string[],
  env: Record<string, string> = {},
): Record<string, string> {
  const named =
    ['CLIENT_BOOTSTRAP_LOG_FILE', 'CLIENT_BOOTSTRAP_CONFIG'].some((k) => k in env) ||
    args.some((a) => a.startsWith('--log-file') || a.startsWith('--config'));
  return named ? env : { CLIENT_BOOTSTRAP_LOG_FILE: join(tempDir(), 'agent.log'), ...env };
}

/** Starts one of our executables under node and collects its output. */
export function startProc(bin: string, args: string[], env: Record<string, string> = {}): Proc {
  return startCommand(
    process.execPath,
    [bin, ...args],
    bin === BIN.agent ? agentEnv(args, env) : env,
  );
}

/**
 * Starts any long-running program in a process group of its own, registered
 * for clean-up, and collects its output.
 */
export function startCommand(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Proc {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  trackChild(child);
  let failure: Error | undefined;
  const waiters = new Set<() => void>();
  const proc: Proc = {
    child,
    stdout: '',
    stderr: '',
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const done = (): void => {
          waiters.delete(check);
          clearTimeout(timer);
        };
        const check = (): boolean => {
          const m = pattern.exec(proc.stdout) ?? pattern.exec(proc.stderr);
          if (m) {
            done();
            resolve(m);
            return true;
          }
          if (failure) {
            done();
            reject(
              new Error(
                `${command} ${failure.message} before ${pattern} appeared\nstdout: ${proc.stdout}\nstderr: ${proc.stderr}`,
                { cause: failure },
              ),
            );
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `timed out waiting for ${pattern}\nstdout: ${proc.stdout}\nstderr: ${proc.stderr}`,
            ),
          );
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    stop(signal = 'SIGTERM') {
      return stopChild(child, signal);
    },
  };
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };
  child.on('error', (err) => {
    failure = new Error(`could not start: ${err.message}`, { cause: err });
    notify();
  });
  child.on('exit', (code, sig) => {
    failure ??= new Error(`exited (${sig ?? code})`);
    // Output still buffered in the pipes is read before waiters give up.
    setImmediate(notify);
  });
  child.stdout?.on('data', (d: Buffer) => {
    proc.stdout += d.toString();
    notify();
  });
  child.stderr?.on('data', (d: Buffer) => {
    proc.stderr += d.toString();
    notify();
  });
  return proc;
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to completion (registered for clean-up; killed after
 * `timeoutMs`). Rejects when it cannot start or does not finish in time.
 */
export function runCommand(
  command: string,
  args: string[],
  opts: { input?: string; env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    trackChild(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      void stopChild(child, 'SIGKILL');
      reject(
        new Error(
          `${command} ${args.join(' ')} did not finish in ${opts.timeoutMs ?? 30_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${command} could not start: ${err.message}`, { cause: err }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs one of our executables under node to completion. */
export function runProc(
  bin: string,
  args: string[],
  opts: { input?: string; env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<Finished> {
  const env = bin === BIN.agent ? agentEnv(args, opts.env) : opts.env;
  return runCommand(process.execPath, [bin, ...args], { ...opts, ...(env ? { env } : {}) });
}
export interface ServerHandle {
  readonly proc: Proc;
  readonly url: string;
  readonly adminUrl: string;
  readonly dataDir: string;
  readonly serverId: string;
  readonly pin: string;
  readonly adminToken: string;
  cli(
    args: string[],
    input?: string,
  ): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** The scrypt cost tests use for their servers: the client's minimum. */
export const TEST_KDF_LOG_N = '14';

export async function startServer(
  opts: { dataDir?: string; args?: string[]; listen?: string } = {},
): Promise<ServerHandle> {
  const dataDir = opts.dataDir ?? join(tempDir(), 'server');
  const proc = startProc(BIN.server, [
    'start',
    '--data-dir',
    dataDir,
    '--listen',
    opts.listen ?? '127.0.0.1:0',
    '--kdf-log-n',
    TEST_KDF_LOG_N,
    ...(opts.args ?? []),
  ]);
  const [, url] = await proc.waitFor(/listening on (\S+)/);
  const [, adminUrl] = await proc.waitFor(/admin on (\S+)/);
  const cli = (args: string[], input?: string) =>
    runProc(BIN.server, [...args, '--data-dir', dataDir], input === undefined ? {} : { input });
  const show = JSON.parse((await cli(['auth', 'show', '--json'])).stdout) as {
    serverId: string;
    pin: string;
  };
  const token = await adminTokenOf(dataDir);
  return {
    proc,
    url: url as string,
    adminUrl: adminUrl as string,
    dataDir,
    serverId: show.serverId,
    pin: show.pin,
    adminToken: token,
    cli,
  };
}

/** A new admin API token, made as an administrator would (only its hash is stored). */
async function adminTokenOf(dataDir: string): Promise<string> {
  const r = await runProc(BIN.server, ['admin-token', '--data-dir', dataDir, '--label', 'tests']);
  if (r.code !== 0) throw new Error(`admin-token failed: ${r.stderr}`);
  return r.stdout.trim();
}

export interface RelayHandle {
  readonly proc: Proc;
  readonly url: string;
  readonly dataDir: string;
  addServer(serverId: string): Promise<string>;
}

export async function startRelay(
  opts: { dataDir?: string; listen?: string; args?: string[] } = {},
): Promise<RelayHandle> {
  const dataDir = opts.dataDir ?? join(tempDir(), 'relay');
  const proc = startProc(BIN.relay, [
    'start',
    '--data-dir',
    dataDir,
    '--listen',
    opts.listen ?? '127.0.0.1:0',
    ...(opts.args ?? []),
  ]);
  const [, url] = await proc.waitFor(/listening on (\S+)/);
  return {
    proc,
    url: url as string,
    dataDir,
    async addServer(serverId) {
      const r = await runProc(BIN.relay, [
        'add-server',
        '--data-dir',
        dataDir,
        `--server-id=${serverId}`,
      ]);
      if (r.code !== 0) throw new Error(r.stderr);
      const token = r.stdout.trim().split('\n').at(-1) as string;
      const file = join(dataDir, '..', `token-${serverId}`);
      writeFileSync(file, `${token}\n`, { mode: 0o600 });
      return file;
    },
  };
}
