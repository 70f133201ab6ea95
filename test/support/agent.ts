/** Runs the real agent as a deployment tool would. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BIN, ROOT, runProc } from './procs.ts';

export interface AgentRun {
  code: number | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown>;
}

/** Runs client-bootstrap with `--json`, closed stdin unless `input`, no TTY. */
export async function runAgent(
  args: string[],
  opts: { env?: Record<string, string>; input?: string; json?: boolean; timeoutMs?: number } = {},
): Promise<AgentRun> {
  const r = await runProc(BIN.agent, opts.json === false ? args : [...args, '--json'], {
    env: { CLIENT_BOOTSTRAP_LOG_LEVEL: 'debug', ...opts.env },
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
  let json: Record<string, unknown> = {};
  if (opts.json !== false) {
    const lines = r.stdout.trim().split('\n').filter(Boolean);
    if (lines.length !== 1)
      throw new Error(
        `expected exactly one JSON line on stdout, got ${lines.length}:\n${r.stdout}\nstderr: ${r.stderr}`,
      );
    json = JSON.parse(lines[0] as string) as Record<string, unknown>;
  }
  return { ...r, json };
}

/** Runs the agent in a real pseudo-terminal, typing `answers` at its secret prompts. */
export function runAgentInPty(
  args: string[],
  answers: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'python3',
      [
        join(ROOT, 'test/support/pty-run.py'),
        JSON.stringify({ argv: [process.execPath, BIN.agent, ...args], answers, timeout: 40 }),
      ],
      {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', () => {
      try {
        resolve(JSON.parse(out) as { code: number; output: string });
      } catch {
        reject(new Error(`pty-run failed: ${out}\n${err}`));
      }
    });
  });
}
