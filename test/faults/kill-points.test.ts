/**
 * The fault suite (`npm run test:faults`): the server, the relay and the
 * agent killed with SIGKILL at chosen points of a registration, each
 * followed by what a deployment would do next (the agent retrying, or
 * being run again), then the server's store and the agent's state compared:
 * nothing lost, nothing registered twice.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { deploy } from '../support/deploy.ts';
import { intercept } from '../support/intercept.ts';
import type { Hooks, Step } from '../support/intercept.ts';
import {
  BIN,
  startProc,
  startRelay,
  startServer,
  tempDir,
  writeSecretFile,
} from '../support/procs.ts';
import type { Proc, ServerHandle } from '../support/procs.ts';
import { storedClientIds } from '../support/store-counts.ts';

const SECRET = 'Fault-Suite-Secret-1';

interface AgentRun {
  proc: Proc;
  done: Promise<{ code: number | null; json: Record<string, unknown> | null }>;
}

function startAgent(args: string[]): AgentRun {
  const proc = startProc(BIN.agent, [...args, '--json', '--deadline', '60']);
  const done = new Promise<{ code: number | null; json: Record<string, unknown> | null }>(
    (resolve) => {
      proc.child.once('exit', (code) => {
        let json: Record<string, unknown> | null = null;
        try {
          json = JSON.parse(proc.stdout.trim()) as Record<string, unknown>;
        } catch {
          json = null; // killed before it printed
        }
        resolve({ code, json });
      });
    },
  );
  return { proc, done };
}

function savedClientId(stateDir: string): string | null {
  try {
    const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as {
      registration: { clientId: string } | null;
    };
    return state.registration?.clientId ?? null;
  } catch {
    return null;
  }
}

/** Calls `act` the first time `step` is reached at `when`, then lets everything through. */
function once(
  when: 'beforeUpstream' | 'beforeAnswer',
  step: Step,
  act: () => Promise<void | 'drop'>,
): Hooks {
  let done = false;
  const hook = async (s: Step): Promise<void | 'drop'> => {
    if (done || s !== step) return;
    done = true;
    return act();
  };
  return when === 'beforeUpstream' ? { beforeUpstream: hook } : { beforeAnswer: hook };
}

async function directServer(): Promise<ServerHandle> {
  const server = await startServer();
  expect((await server.cli(['auth', 'secret', 'add'], `${SECRET}\n`)).code).toBe(0);
  return server;
}

/** Kills the server and starts it again on the same port after `downMs`. */
async function bounce(server: ServerHandle, downMs: number): Promise<ServerHandle> {
  const { port } = new URL(server.url);
  await server.proc.stop('SIGKILL');
  await sleep(downMs);
  return startServer({ dataDir: server.dataDir, listen: `127.0.0.1:${port}` });
}

describe('the server killed at a chosen point', () => {
  it.each([
    ['after M1 arrived, before it was answered', 'beforeUpstream', 'start'],
    ['after M2 was sent, before M3 arrived', 'beforeUpstream', 'finish'],
    ['after it stored the client, before M4 reached the agent', 'beforeAnswer', 'finish'],
  ] as const)('%s: the agent retries and is registered exactly once', async (_what, when, step) => {
    let server = await directServer();
    const restarted: Promise<ServerHandle>[] = [];
    const proxy = await intercept(
      server.url,
      once(when, step, async () => {
        restarted.push(bounce(server, 1_000));
        await restarted[0];
        return 'drop';
      }),
    );
    const stateDir = join(tempDir(), 'state');
    const secret = writeSecretFile(join(tempDir(), 'secret'), SECRET);
    const run = startAgent([
      '--server',
      proxy.url,
      `--server-pin=${server.pin}`,
      '--secret-file',
      secret,
      '--state-dir',
      stateDir,
    ]);
    const { code, json } = await run.done;
    server = await restarted[0]!;
    try {
      expect(code, JSON.stringify(json)).toBe(0);
      expect(json).toMatchObject({ code: 'registered' });
      expect(Number(json?.attempts)).toBeGreaterThan(1);
      const stored = storedClientIds(server.dataDir);
      expect(stored).toEqual([savedClientId(stateDir)]);
    } finally {
      await proxy.close();
      await server.proc.stop();
    }
  });
});

describe('the agent killed at a chosen point, then run again', () => {
  it.each([
    ['after M1 was sent', 'beforeUpstream', 'start'],
    ['after the server stored it, before it saved its state', 'beforeAnswer', 'finish'],
  ] as const)('%s: the second run is registered exactly once', async (_what, when, step) => {
    const server = await directServer();
    const stateDir = join(tempDir(), 'state');
    const secret = writeSecretFile(join(tempDir(), 'secret'), SECRET);
    const args = (url: string): string[] => [
      '--server',
      url,
      `--server-pin=${server.pin}`,
      '--secret-file',
      secret,
      '--state-dir',
      stateDir,
    ];
    let first: AgentRun | undefined;
    const proxy = await intercept(
      server.url,
      once(when, step, async () => {
        await first?.proc.stop('SIGKILL');
        return 'drop';
      }),
    );
    try {
      first = startAgent(args(proxy.url));
      const killed = await first.done;
      expect(killed.json).toBeNull();
      expect(savedClientId(stateDir)).toBeNull();
      const again = await startAgent(args(proxy.url)).done;
      expect(again.json).toMatchObject({ ok: true, code: 'registered' });
      const stored = storedClientIds(server.dataDir);
      expect(stored).toEqual([savedClientId(stateDir)]);
    } finally {
      await proxy.close();
      await server.proc.stop();
    }
  });
});

describe('the relay killed at a chosen point', () => {
  it('after M2 went through it: the agent waits for it and is registered exactly once', async () => {
    const d = await deploy([SECRET]);
    const { port } = new URL(d.relay.url);
    let relayAgain: Awaited<ReturnType<typeof startRelay>> | undefined;
    const proxy = await intercept(
      d.relay.url,
      once('beforeUpstream', 'finish', async () => {
        await d.relay.proc.stop('SIGKILL');
        await sleep(1_000);
        relayAgain = await startRelay({ dataDir: d.relay.dataDir, listen: `127.0.0.1:${port}` });
        return 'drop';
      }),
    );
    const stateDir = join(tempDir(), 'state');
    try {
      const { json } = await startAgent([
        '--relay',
        proxy.url,
        `--server-id=${d.serverId}`,
        `--server-pin=${d.server.pin}`,
        '--secret-file',
        writeSecretFile(join(tempDir(), 'secret'), SECRET),
        '--state-dir',
        stateDir,
      ]).done;
      expect(json).toMatchObject({ ok: true, code: 'registered', route: 'relay' });
      expect(storedClientIds(d.server.dataDir)).toEqual([savedClientId(stateDir)]);
    } finally {
      await proxy.close();
      await relayAgain?.proc.stop();
      await d.stop();
    }
  });
});
