/**
 * Runs a packaged agent for another platform on this Linux x64 machine:
 * win-x64 under wine (a fresh prefix per suite, set to Windows 10), linux-arm64
 * under qemu-user, linux-x64 natively for comparison. Wine's output goes to
 * files, never pipes (a pipe crashes wine's console).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../support/procs.ts';

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** The parsed --json object, or {} when stdout was not JSON. */
  readonly json: Record<string, unknown>;
}

export interface Platform {
  readonly target: 'linux-x64' | 'linux-arm64' | 'win-x64';
  /** How the executable is run here: native, qemu or wine. */
  readonly via: string;
  /** A host path as the agent sees it. */
  toAgentPath(hostPath: string): string;
  /** Runs the agent with `args`, no stdin, `env` added to a minimal environment. */
  run(args: string[], env?: Record<string, string>): RunResult;
  stop(): void;
}

function parseJson(stdout: string): Record<string, unknown> {
  try {
    return JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    return {};
  }
}

const builds: string[] = [];

/** Removes what buildTarget wrote (some 100 MB a target). */
export function removeBuilds(): void {
  for (const dir of builds.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Builds one target into a fresh directory with `npm run package` and returns the executable. */
export function buildTarget(target: string, extra: string[] = []): { exe: string; log: string } {
  const outDir = tempDir(`cb-pkg-${target}-`);
  builds.push(outDir);
  const log = execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/tsx/dist/cli.mjs'),
      join(ROOT, 'scripts/package.ts'),
      '--target',
      target,
      '--out-dir',
      outDir,
      ...extra,
    ],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const file = target === 'win-x64' ? 'client-bootstrap-win-x64.exe' : `client-bootstrap-${target}`;
  return { exe: join(outDir, file), log };
}

function timed(fn: () => Omit<RunResult, 'ms' | 'json'>): RunResult {
  const t0 = performance.now();
  const r = fn();
  return { ...r, ms: Math.round(performance.now() - t0), json: parseJson(r.stdout) };
}

export function nativePlatform(exe: string): Platform {
  return {
    target: 'linux-x64',
    via: 'native',
    toAgentPath: (p) => p,
    run: (args, env = {}) =>
      timed(() => {
        const r = spawnSync(exe, args, { env: { PATH: '', ...env }, encoding: 'utf8' });
        return { code: r.status, stdout: r.stdout, stderr: r.stderr };
      }),
    stop: () => undefined,
  };
}

export const QEMU_LIBS = '/usr/aarch64-linux-gnu';

export function qemuPlatform(exe: string): Platform {
  return {
    target: 'linux-arm64',
    via: 'qemu-aarch64-static',
    toAgentPath: (p) => p,
    run: (args, env = {}) =>
      timed(() => {
        const r = spawnSync('/usr/bin/qemu-aarch64-static', ['-L', QEMU_LIBS, exe, ...args], {
          env: { PATH: '', ...env },
          encoding: 'utf8',
          timeout: 120_000,
        });
        return { code: r.status, stdout: r.stdout, stderr: r.stderr };
      }),
    stop: () => undefined,
  };
}

export interface WinePlatform extends Platform {
  /** The prefix's C: drive on the host. */
  readonly driveC: string;
  /** Where the executable was installed, as Windows sees it. */
  readonly exePath: string;
  /** Runs the executable through `cmd /c`, as a deployment tool's command line does. */
  cmd(args: string[], env?: Record<string, string>): RunResult;
  /** Replaces the installed executable. */
  install(exe: string): void;
  /** Runs `cmd /c` with `args` (a batch file, say). */
  shell(args: string[], env?: Record<string, string>): RunResult;
}

export interface WinePrefix {
  readonly env: Record<string, string>;
  /** The prefix's C: drive on the host. */
  readonly driveC: string;
  /** Runs wine with `args`, its stdout and stderr in files. */
  wine(args: string[], env?: Record<string, string>): Omit<RunResult, 'ms' | 'json'>;
  /** Ends this prefix's wineserver (started by the first wine call), and nothing else. */
  stop(): void;
}

/** A fresh wine prefix, set to Windows 10, with no Mono or Gecko dialogs. */
export function winePrefix(): WinePrefix {
  const prefix = tempDir('cb-wine-');
  const env = {
    WINEPREFIX: prefix,
    WINEDEBUG: '-all',
    WINEDLLOVERRIDES: 'mscoree,mshtml=',
    HOME: process.env.HOME ?? '/root',
    PATH: process.env.PATH ?? '/usr/bin:/bin',
  };
  const logs = tempDir('cb-wine-out-');
  let n = 0;
  const boot = (cmd: string, args: string[]): void => {
    // wineboot now and then exits 1 on a loaded machine with the prefix half made; once more then.
    for (let attempt = 1; ; attempt++) {
      const log = join(logs, `${cmd}-${attempt}.log`);
      const fd = openSync(log, 'w');
      const r = spawnSync(cmd, args, { env, stdio: ['ignore', fd, fd], timeout: 300_000 });
      closeSync(fd);
      if (r.status === 0) return;
      if (attempt === 2)
        throw new Error(
          `${cmd} ${args.join(' ')} exited ${r.status}: ${readFileSync(log, 'utf8')}`,
        );
    }
  };
  boot('wineboot', ['-i']);
  boot('winecfg', ['-v', 'win10']);
  return {
    env,
    driveC: join(prefix, 'drive_c'),
    wine(args, extra = {}) {
      n += 1;
      const out = join(logs, `${n}.out`);
      const err = join(logs, `${n}.err`);
      const fo = openSync(out, 'w');
      const fe = openSync(err, 'w');
      try {
        const r = spawnSync('wine', args, {
          env: { ...env, ...extra },
          stdio: ['ignore', fo, fe],
          timeout: 120_000,
        });
        return {
          code: r.status,
          stdout: readFileSync(out, 'utf8'),
          stderr: readFileSync(err, 'utf8'),
        };
      } finally {
        closeSync(fo);
        closeSync(fe);
      }
    },
    stop() {
      spawnSync('wineserver', ['-k'], { env, stdio: 'ignore', timeout: 30_000 });
      // A prefix is some 800 MB.
      rmSync(prefix, { recursive: true, force: true });
      rmSync(logs, { recursive: true, force: true });
    },
  };
}

/**
 * A fresh wine prefix with the executable installed where the MSI puts it,
 * C:\Program Files\ClientBootstrap\client-bootstrap.exe.
 */
export function winePlatform(exe: string): WinePlatform {
  const p = winePrefix();
  const driveC = p.driveC;
  const dir = join(driveC, 'Program Files', 'ClientBootstrap');
  mkdirSync(dir, { recursive: true });
  copyFileSync(exe, join(dir, 'client-bootstrap.exe'));
  const exePath = 'C:\\Program Files\\ClientBootstrap\\client-bootstrap.exe';
  const toAgentPath = (path: string): string =>
    path.startsWith(driveC)
      ? `C:${path.slice(driveC.length).replace(/\//g, '\\')}`
      : `Z:${path.replace(/\//g, '\\')}`;
  return {
    target: 'win-x64',
    via: 'wine',
    driveC,
    exePath,
    toAgentPath,
    run: (args, env = {}) => timed(() => p.wine([exePath, ...args], env)),
    cmd: (args, env = {}) => timed(() => p.wine(['cmd', '/c', exePath, ...args], env)),
    shell: (args, env = {}) => timed(() => p.wine(['cmd', '/c', ...args], env)),
    install: (newExe) => copyFileSync(newExe, join(dir, 'client-bootstrap.exe')),
    stop: () => p.stop(),
  };
}

/** Timings for the report: one JSON file per target in test-artifacts/. */
export function recordTimings(target: string, via: string, rows: Record<string, number>): void {
  const dir = join(ROOT, 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, `platform-times-${target}.json`),
    `${JSON.stringify({ target, via, ms: rows }, null, 2)}\n`,
  );
}
