/**
 * A slow and lossy link (100 ms each way on every chunk, 10% of packets
 * to the server dropped at random, a 1 s probe timeout): every run registers within its
 * deadline, retrying what the link loses, and the store agrees with the
 * agents.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAgent } from '../support/agent.ts';
import { startServer, tempDir, writeSecretFile } from '../support/procs.ts';
import { slowLink } from '../support/slow-link.ts';
import { storedClientIds } from '../support/store-counts.ts';

const SECRET = 'Lossy-Link-Secret-1';

describe('a slow, lossy link', () => {
  it('20 runs, 5 at a time, all register, each once', async () => {
    const server = await startServer();
    try {
      expect((await server.cli(['auth', 'secret', 'add'], `${SECRET}\n`)).code).toBe(0);
      const link = await slowLink(server.url, { delayMs: 100, dropPercent: 10 });
      const secret = writeSecretFile(join(tempDir(), 'secret'), SECRET);
      const dirs = Array.from({ length: 20 }, (_, i) => join(tempDir(), `state-${i}`));
      const results: { code: number | null; attempts: number }[] = [];
      for (let i = 0; i < dirs.length; i += 5) {
        const batch = await Promise.all(
          dirs
            .slice(i, i + 5)
            .map((stateDir) =>
              runAgent(
                [
                  '--server',
                  link.url,
                  `--server-pin=${server.pin}`,
                  '--secret-file',
                  secret,
                  '--state-dir',
                  stateDir,
                  '--deadline',
                  '90',
                ],
                { timeoutMs: 100_000 },
              ),
            ),
        );
        results.push(...batch.map((r) => ({ code: r.code, attempts: Number(r.json.attempts) })));
      }
      expect(results.map((r) => r.code)).toEqual(new Array(20).fill(0));
      const saved = dirs.map(
        (d) =>
          (
            JSON.parse(readFileSync(join(d, 'state.json'), 'utf8')) as {
              registration: { clientId: string };
            }
          ).registration.clientId,
      );
      expect(storedClientIds(server.dataDir).sort()).toEqual([...saved].sort());
      const retried = results.filter((r) => r.attempts > 1).length;
      console.log(
        `lossy link (${link.lossy ? '10% drop' : 'no drop: not root'}, 100 ms each way): 20 of 20 registered, ${retried} needed more than one attempt`,
      );
    } finally {
      await server.proc.stop();
    }
  });
});
