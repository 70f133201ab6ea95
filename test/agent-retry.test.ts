/**
 * Transient faults within the deadline, with real processes: a server
 * restart and a relay outage while agents are running end in
 * registrations, not in exit 5, and every client is registered once.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { runAgent } from './support/agent.ts';
import { deploy } from './support/deploy.ts';
import { startRelay, startServer, tempDir } from './support/procs.ts';

const SECRET = 'Retry-Secret-2026';

function secretFile(): string {
  const f = join(tempDir(), 'secret');
  writeFileSync(f, SECRET, { mode: 0o600 });
  return f;
}

async function distinctClients(cli: (a: string[]) => Promise<{ stdout: string }>): Promise<number> {
  const rows = JSON.parse((await cli(['clients', 'list', '--json'])).stdout) as {
    clientId: string;
  }[];
  return new Set(rows.map((r) => r.clientId)).size;
}

describe('retries within the deadline', () => {
  it('a server restart of about 1.5 s with 10 agents running: all register, once each', async () => {
    const d = await deploy([SECRET]);
    const file = secretFile();
    const { port } = new URL(d.server.url);
    let again: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      const runs = Array.from({ length: 10 }, (_, i) =>
        runAgent(
          [
            '--server',
            d.server.url,
            `--server-pin=${d.server.pin}`,
            '--secret-file',
            file,
            '--state-dir',
            join(tempDir(), `state-${i}`),
            '--deadline',
            '60',
          ],
          { timeoutMs: 70_000 },
        ),
      );
      await d.server.proc.stop('SIGKILL');
      await sleep(1_500);
      again = await startServer({ dataDir: d.server.dataDir, listen: `127.0.0.1:${port}` });
      const results = await Promise.all(runs);
      expect(results.map((r) => r.json.code)).toEqual(new Array(10).fill('registered'));
      expect(results.some((r) => Number(r.json.attempts) > 1)).toBe(true);
      expect(await distinctClients((a) => again!.cli(a))).toBe(10);
    } finally {
      await again?.proc.stop();
      await d.stop();
    }
  });

  it('a relay down for 3 s: agents on the relay route wait it out and register', async () => {
    const d = await deploy([SECRET]);
    const file = secretFile();
    const { port } = new URL(d.relay.url);
    let again: Awaited<ReturnType<typeof startRelay>> | undefined;
    try {
      await d.relay.proc.stop('SIGKILL');
      const runs = Array.from({ length: 5 }, (_, i) =>
        runAgent(
          [
            '--relay',
            d.relay.url,
            `--server-id=${d.serverId}`,
            `--server-pin=${d.server.pin}`,
            '--secret-file',
            file,
            '--state-dir',
            join(tempDir(), `state-${i}`),
            '--deadline',
            '60',
          ],
          { timeoutMs: 70_000 },
        ),
      );
      await sleep(3_000);
      again = await startRelay({ dataDir: d.relay.dataDir, listen: `127.0.0.1:${port}` });
      const results = await Promise.all(runs);
      expect(results.map((r) => r.json.code)).toEqual(new Array(5).fill('registered'));
      expect(results.every((r) => Number(r.json.attempts) > 1)).toBe(true);
      expect(await distinctClients((a) => d.server.cli(a))).toBe(5);
    } finally {
      await again?.proc.stop();
      await d.stop();
    }
  });
});
