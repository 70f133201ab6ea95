/**
 * Whole-process rows of the benchmark: startup, a registration through
 * each route against its floor, and the fallback to the relay.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Secret, derivePrs, fromB64u } from '../src/protocol/index.ts';
import { droppedRoute, silentListener } from '../test/support/blackhole.ts';
import type { Deployment } from '../test/support/deploy.ts';
import { ROOT, tempDir } from '../test/support/procs.ts';
import { hello } from '../test/support/wire-client.ts';
import { median, quantile } from './bench-lib.ts';

export const EXE = join(ROOT, 'dist/client-bootstrap-linux-x64');

export interface Measured {
  ms: number;
  code: number;
  maxRssKiB: number;
  stdout: string;
}

/** One process run, timed from spawn to exit, with its peak RSS. */
export function measure(argv: string[], env: Record<string, string> = {}): Measured {
  const out = execFileSync(
    'python3',
    [
      join(ROOT, 'scripts/measure.py'),
      JSON.stringify(argv),
      JSON.stringify({ PATH: process.env.PATH ?? '', ...env }),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  return JSON.parse(out) as Measured;
}

export function benchStartup(runs: number): { exe: number; node: number } {
  const exe: number[] = [];
  const node: number[] = [];
  for (let i = 0; i < runs; i++) {
    exe.push(measure([EXE, '--version']).ms);
    node.push(measure([process.execPath, '-e', '0']).ms);
  }
  return { exe: median(exe), node: median(node) };
}

/** The floor of a registration: scrypt at the server's parameters plus three bare round trips. */
export async function benchFloor(d: Deployment, secret: string, runs: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const h = await hello(d.routes.direct);
    const t0 = performance.now();
    await derivePrs(Secret.from(secret), fromB64u(h.serverId, 'serverId', 16), h.kdf);
    for (let j = 0; j < 3; j++) await (await fetch(`${d.server.url}/v1/hello`)).arrayBuffer();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

export interface RegistrationRow {
  median: number;
  p95: number;
  peakMiB: number;
  failures: number;
}

export function benchRegistration(
  d: Deployment,
  secret: string,
  route: 'direct' | 'relay',
  runs: number,
): RegistrationRow {
  const secretFile = join(tempDir('cb-bench-'), 'secret');
  writeFileSync(secretFile, secret);
  const samples: Measured[] = [];
  for (let i = 0; i < runs; i++) {
    const args = [
      '--server',
      d.server.url,
      '--relay',
      d.relay.url,
      `--server-id=${d.serverId}`,
      `--server-pin=${d.server.pin}`,
      '--route',
      route,
      '--secret-file',
      secretFile,
      '--state-dir',
      join(tempDir('cb-bench-'), 's'),
      '--json',
    ];
    samples.push(measure([EXE, ...args]));
  }
  const ok = samples.filter((s) => s.code === 0);
  return {
    median: median(ok.map((s) => s.ms)),
    p95: quantile(
      ok.map((s) => s.ms),
      0.95,
    ),
    peakMiB: Math.max(...samples.map((s) => s.maxRssKiB)) / 1024,
    failures: samples.length - ok.length,
  };
}

/** Time to a registration through the relay while direct is silent in each way. */
export async function benchFallback(
  d: Deployment,
  secret: string,
  runs: number,
): Promise<{ dropped: number; silent: number; probeTimeoutMs: number }> {
  const secretFile = join(tempDir('cb-bench-'), 'secret');
  writeFileSync(secretFile, secret);
  const run = (direct: string): number[] =>
    Array.from({ length: runs }, () => {
      const m = measure([
        EXE,
        '--server',
        direct,
        '--relay',
        d.relay.url,
        `--server-id=${d.serverId}`,
        `--server-pin=${d.server.pin}`,
        '--secret-file',
        secretFile,
        '--state-dir',
        join(tempDir('cb-bench-'), 's'),
        '--json',
      ]);
      const json = JSON.parse(m.stdout) as { route?: string };
      if (m.code !== 0 || json.route !== 'relay')
        throw new Error(`fallback run failed: ${m.stdout}`);
      return m.ms;
    });
  let dropped = NaN;
  try {
    const route = droppedRoute();
    try {
      dropped = median(run(route.url));
    } finally {
      route.remove();
    }
  } catch (err) {
    console.error(
      `fallback (dropped packets) skipped: ${(err as Error).message.split('\n')[0] ?? ''}`,
    );
  }
  const silent = await silentListener();
  try {
    return { dropped, silent: median(run(silent.url)), probeTimeoutMs: 3000 };
  } finally {
    silent.close();
  }
}
