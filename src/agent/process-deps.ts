/** The real outside world for the agent, built once in the entry. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AgentCliDeps } from './cli.ts';

/** Where client-bootstrap.json is looked for: beside the executable, or beside the entry script under node. */
export function exeDir(): string {
  const isNodeRunner = /^node(\.exe)?$/i.test(process.execPath.split(/[\\/]/).pop() ?? '');
  return dirname(isNodeRunner ? (process.argv[1] ?? process.execPath) : process.execPath);
}

export function createAgentDeps(): AgentCliDeps {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    now: () => performance.timeOrigin + performance.now(),
    random: Math.random,
    readFile: (p) => readFileSync(p, 'utf8'),
    readBytes: (p) => readFileSync(p),
    runCommand: (cmd, args) => {
      // Loaded at first use: a registration on Linux runs no command.
      const { spawnSync } = process.getBuiltinModule('node:child_process');
      const r = spawnSync(cmd, args, {
        encoding: 'utf8',
        windowsHide: true,
        timeout: 30_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? r.error?.message ?? '' };
    },
    exists: (p) => existsSync(p),
    exeDir: exeDir(),
    platform: process.platform,
    isRoot: process.geteuid?.() === 0,
  };
}
