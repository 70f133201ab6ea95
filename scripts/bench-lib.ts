/** Helpers shared by the benchmark rows: statistics, peak memory, process setup. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, runProc, startRelay, startServer, tempDir } from '../test/support/procs.ts';
import type { RelayHandle, ServerHandle } from '../test/support/procs.ts';

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

/** Peak resident memory (VmHWM) of a process, in MiB. */
export function peakMemMiB(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export interface Deployment {
  readonly server: ServerHandle;
  readonly relay: RelayHandle;
  readonly serverId: string;
  stop(): Promise<void>;
}

/** A server (with `secrets` active) and a relay on loopback, tunnel up. */
export async function deploy(
  secrets: readonly string[],
  opts: { relayArgs?: string[]; kdfLogN?: string } = {},
): Promise<Deployment> {
  const relay = await startRelay({ args: opts.relayArgs ?? [] });
  const dataDir = join(tempDir('cb-bench-'), 'server');
  const kdf = ['--kdf-log-n', opts.kdfLogN ?? '14'];
  for (const s of secrets) {
    const r = await runProc(BIN.server, ['auth', 'secret', 'add', '--data-dir', dataDir, ...kdf], {
      input: s,
    });
    if (r.code !== 0) throw new Error(r.stderr);
  }
  if (secrets.length === 0)
    await runProc(BIN.server, ['auth', 'show', '--data-dir', dataDir, ...kdf]);
  const show = JSON.parse(
    (await runProc(BIN.server, ['auth', 'show', '--json', '--data-dir', dataDir])).stdout,
  ) as { serverId: string };
  const tokenFile = await relay.addServer(show.serverId);
  const server = await startServer({
    dataDir,
    args: ['--relay', relay.url, '--relay-token-file', tokenFile, '--log-level', 'warn'],
  });
  await server.proc.waitFor(/tunnel\.up/);
  return {
    server,
    relay,
    serverId: show.serverId,
    async stop() {
      await server.proc.stop();
      await relay.proc.stop();
    },
  };
}

export function printTable(title: string, rows: string[][]): void {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  console.log(`\n${title}`);
  for (const [n, r] of rows.entries()) {
    console.log(
      r
        .map((c, i) => c.padEnd(widths[i] as number))
        .join('  ')
        .trimEnd(),
    );
    if (n === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}
