/** Runs the real agent as a deployment tool would. */
import { join } from 'node:path';
import { BIN, ROOT, agentEnv, runCommand, runProc } from './procs.ts';

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
    // No early key derivation by default: the tests' servers use a cheaper
    // KDF, so it would be discarded in every run. A file sets CB_TEST_EARLY_KEY=1
    // (the leak test) or passes CLIENT_BOOTSTRAP_EARLY_KEY (agent-timings) to keep it.
    env: {
      CLIENT_BOOTSTRAP_LOG_LEVEL: 'debug',
      CLIENT_BOOTSTRAP_EARLY_KEY: process.env.CB_TEST_EARLY_KEY ?? '0',
      ...opts.env,
    },
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

/**
 * Runs the agent in a real pseudo-terminal, typing `answers` at its secret
 * prompts. Rejects when python3 is missing, when the helper fails, or after
 * `timeoutMs` (the helper itself gives the agent 40 s).
 */
export async function runAgentInPty(
  args: string[],
  answers: string[],
  env: Record<string, string> = {},
  opts: { timeoutMs?: number; python?: string } = {},
): Promise<{ code: number; output: string }> {
  const r = await runCommand(
    opts.python ?? 'python3',
    [
      join(ROOT, 'test/support/pty-run.py'),
      JSON.stringify({ argv: [process.execPath, BIN.agent, ...args], answers, timeout: 40 }),
    ],
    { env: agentEnv(args, env), timeoutMs: opts.timeoutMs ?? 50_000 },
  );
  try {
    return JSON.parse(r.stdout) as { code: number; output: string };
  } catch (err) {
    throw new Error(`pty-run failed (exit ${r.code}): ${r.stdout}\n${r.stderr}`, { cause: err });
  }
}
