/**
 * Whole-process rows of the benchmark: startup, a registration through
 * each route against its floor, and the fallback to the relay.
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'undici';
import { droppedRoute, silentListener } from '../test/support/blackhole.ts';
import type { Deployment } from '../test/support/deploy.ts';
import { ROOT, tempDir, writeSecretFile } from '../test/support/procs.ts';
import { endpoint, hello } from '../test/support/wire-client.ts';
import type { Hello } from '../src/protocol/index.ts';
import type { Route } from '../test/support/wire-client.ts';
import type { TimingsReport } from '../src/agent/timings.ts';
import { OUR_TUNABLE, thpMode } from '../src/bin/huge-pages.ts';
import { median, quantile } from './bench-lib.ts';

/** The probe timeout the timed agent runs are given (`--probe-timeout`), in seconds. */
export const PROBE_TIMEOUT_S = 3;

export interface Measured {
  ms: number;
  code: number;
  maxRssKiB: number;
  stdout: string;
}

const measureArgs = (argv: string[], env: Record<string, string>): string[] => [
  join(ROOT, 'scripts/measure.py'),
  JSON.stringify(argv),
  JSON.stringify({ PATH: process.env.PATH ?? '', ...env }),
];
const MEASURE_OPTS = { encoding: 'utf8', maxBuffer: 1 << 24, timeout: 180_000 } as const;

/** One process run, timed from spawn to exit, with its peak RSS. */
export function measure(argv: string[], env: Record<string, string> = {}): Measured {
  return JSON.parse(execFileSync('python3', measureArgs(argv, env), MEASURE_OPTS)) as Measured;
}

/** The same, leaving this process's event loop free (for what it serves: a slow link). */
export function measureAsync(argv: string[], env: Record<string, string> = {}): Promise<Measured> {
  return new Promise((resolve, reject) => {
    execFile('python3', measureArgs(argv, env), MEASURE_OPTS, (err, out) => {
      if (err) reject(new Error(`measure.py failed: ${err.message}`, { cause: err }));
      else resolve(JSON.parse(out) as Measured);
    });
  });
}

/**
 * The executable as a deployment finds it: copied into a directory of its
 * own, as an installer, cp or a download writes it. The file the build
 * leaves is written in one call (postject), and ext4 on a recent kernel
 * (6.18 here) keeps such a file in the page cache in large folios, which a
 * fault maps whole into the process: the same bytes then count 13 to 30 MiB
 * more in the peak memory of every run (the --version of a fresh build
 * touches 62 MiB of the file against 30 MiB for a copy of it). A copy
 * (copy_file_range) is cached in small pages, as a download is.
 */
export function installCopy(built: string): string {
  const installed = join(tempDir('cb-bench-installed-'), 'client-bootstrap');
  copyFileSync(built, installed); // the mode goes with it
  return installed;
}

/** `--version` of the executable against a bare start of the runtime it embeds. */
export function benchStartup(
  exe: string,
  runs: number,
  runtime: string,
): { exe: number; exeP95: number; node: number; errors: string[] } {
  const times: number[] = [];
  const node: number[] = [];
  const errors: string[] = [];
  for (let i = 0; i < runs; i++) {
    const m = measure([exe, '--version']);
    if (m.code === 0) times.push(m.ms);
    else errors.push(`--version exited ${m.code}`);
    node.push(measure([runtime, '-e', '0']).ms);
  }
  return { exe: median(times), exeP95: quantile(times, 0.95), node: median(node), errors };
}

/** A floor and its parts (medians, ms). */
export interface Floor {
  readonly ms: number;
  /** A bare start of the runtime (to its exit). */
  readonly start: number;
  /**
   * When the floor's way has scrypt on huge pages: a bare start of the
   * runtime that re-executes itself once with glibc's tunable (what any
   * program started without the tunable pays to have them; see
   * hugePagesEnv), the floor's start then. Else null: one start.
   */
  readonly reexecStart: number | null;
  /** scrypt as the floor's way runs it. */
  readonly scrypt: number;
  /**
   * Where the executable put its scrypt on huge pages, the other way: scrypt
   * on 4 KiB pages after one start, or, when that way is the floor, on huge
   * pages after the re-exec; else null.
   */
  readonly otherWay: {
    readonly start: number;
    readonly scrypt: number;
    readonly ms: number;
  } | null;
  /**
   * Where scrypt can be on huge pages: the floor with one start and scrypt
   * there, as if what starts the executable had set glibc's tunable.
   */
  readonly oneStartMs: number | null;
  readonly roundTrips: number;
  readonly kdfLog2N: number;
  /** Peak RSS of the runtime running the floor's scrypt and nothing else (MiB). */
  readonly scryptPeakMiB: number;
}

/** One scrypt of a floor sample: its time (ms) and its process's peak memory (MiB). */
interface ScryptRun {
  readonly ms: number;
  readonly peakMiB: number;
}

/** One sample of a floor: its parts as measured; scrypt also on huge pages where it can be. */
interface FloorSample {
  /** The route's hello: the server id and KDF parameters the scrypt used. */
  readonly hello: Hello;
  readonly roundTrips: number;
  /** The floor's scrypt on huge pages, where hugePagesEnv can put it there. */
  readonly huge: ScryptRun | null;
  /** Elsewhere the floor's scrypt as the runtime runs it. */
  readonly small: ScryptRun | null;
}

/** The floor's start, sampled once: see startSample. */
interface StartSample {
  readonly start: number;
  readonly reexecStart: number | null;
}

/**
 * A bare start of the runtime the executable embeds (`node -e 0`, spawned
 * and timed as the agent is) and, where scrypt can be on huge pages, the
 * same start re-executing itself once with glibc's tunable.
 */
function startSample(runtime: string, hugeEnv: Record<string, string> | undefined): StartSample {
  const m = measure([runtime, '-e', '0']);
  if (m.code !== 0) throw new Error(`floor: ${runtime} -e 0 exited ${m.code}`);
  if (!hugeEnv) return { start: m.ms, reexecStart: null };
  const r = measure([runtime, '-e', REEXEC_SCRIPT], { CB_FLOOR_ENV: JSON.stringify(hugeEnv) });
  // Where it cannot (execve refused), the floor keeps one start and 4 KiB pages.
  return { start: m.ms, reexecStart: r.code === 0 && r.stdout === 'again' ? r.ms : null };
}

/**
 * The rest of the floor of a whole registration on one route, sampled
 * once: scrypt at the parameters the server announces there, in a fresh
 * process of the runtime the executable embeds (its own OpenSSL, its first
 * touch of scrypt's 128 MiB), and three bare round trips (hello) on that
 * same route, on a new connection, so the relay's floor includes the relay
 * and a slow link's floor its delay and the round trip of TCP's handshake.
 */
async function floorSample(
  route: Route,
  secret: string,
  runtime: string,
  hugeEnv: Record<string, string> | undefined,
): Promise<FloorSample> {
  const h = await hello(route);
  const huge = hugeEnv ? scryptRun(runtime, secret, h, hugeEnv) : null;
  const small = hugeEnv ? null : scryptRun(runtime, secret, h, {});
  const url = new URL(endpoint(route, 'hello'));
  // On a connection of their own, as the agent's are: its TCP handshake is
  // part of the floor (a round trip on the slow link, nothing on loopback).
  const client = new Client(url.origin);
  const t0 = performance.now();
  try {
    for (let j = 0; j < 3; j++) {
      const res = await client.request({ path: url.pathname, method: 'GET' });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200)
        throw new Error(`floor: ${route.kind} hello answered ${res.statusCode}`);
    }
  } finally {
    await client.close();
  }
  return {
    hello: h,
    small,
    huge,
    roundTrips: performance.now() - t0,
  };
}

/** scrypt at the parameters of hello `h` in a fresh process of the runtime, with `env` added. */
function scryptRun(
  runtime: string,
  secret: string,
  h: Hello,
  env: Record<string, string>,
): ScryptRun {
  const run = measure([runtime, '-e', SCRYPT_SCRIPT], {
    CB_FLOOR_SECRET: secret,
    CB_FLOOR_SALT: h.serverId,
    CB_FLOOR_KDF: JSON.stringify(h.kdf),
    ...env,
  });
  if (run.code !== 0 || !Number.isFinite(Number(run.stdout)))
    throw new Error('floor: the scrypt run printed no time');
  return { ms: Number(run.stdout), peakMiB: run.maxRssKiB / 1024 };
}

/**
 * Where the floor's scrypt is on huge pages, the same scrypt on glibc's
 * default 4 KiB pages `n` times, for the notes (benchRegistration says why
 * these run after the registrations).
 */
function smallPageScrypts(
  runtime: string,
  secret: string,
  h: Hello | undefined,
  n: number,
  hugeEnv: Record<string, string> | undefined,
): ScryptRun[] {
  if (!hugeEnv || !h) return [];
  return Array.from({ length: n }, () => scryptRun(runtime, secret, h, {}));
}

/**
 * The environment that puts the floor's scrypt on transparent huge pages
 * the way the executable may put its own there (src/bin/huge-pages.ts:
 * glibc's malloc told so, where the kernel leaves huge pages to programs
 * that ask); undefined where that cannot be. Whether the floor uses it
 * follows what the executable's runs did (their `reexecMs`): the floor is
 * the least the same work takes on this machine.
 */
function hugePagesEnv(): Record<string, string> | undefined {
  return thpMode() === 'madvise' ? { GLIBC_TUNABLES: OUR_TUNABLE } : undefined;
}

/**
 * A bare start that re-executes itself once with `CB_FLOOR_ENV` added (the
 * tunable), as src/bin/huge-pages.ts does; the second image says so and ends.
 */
const REEXEC_SCRIPT = `
process.execve(process.execPath, [process.execPath, '-e', "process.stdout.write('again')"], {
  ...process.env, ...JSON.parse(process.env.CB_FLOOR_ENV),
});
`;

/**
 * scrypt as the agent runs it (the secret's UTF-8 of its NFC form, the
 * server id's 16 bytes as salt, a 32-byte key), timed inside the process.
 */
const SCRYPT_SCRIPT = `
const { scrypt } = require('node:crypto');
const { N, r, p } = JSON.parse(process.env.CB_FLOOR_KDF);
const secret = Buffer.from(process.env.CB_FLOOR_SECRET.normalize('NFC'), 'utf8');
const salt = Buffer.from(process.env.CB_FLOOR_SALT, 'base64url');
const t0 = performance.now();
scrypt(secret, salt, 32, { N, r, p, maxmem: 256 * N * r }, (err) => {
  if (err) throw err;
  process.stdout.write(String(performance.now() - t0));
});
`;

/**
 * The floor from the samples' medians: where the executable's runs
 * re-executed themselves onto huge pages (`huge`) and the samples have
 * them, the least of the two ways this machine can run the work (a start
 * and its re-exec then scrypt on huge pages, or one start then scrypt on
 * 4 KiB pages); else one start and scrypt as the runtime runs it.
 */
function floorOf(
  samples: FloorSample[],
  starts: StartSample[],
  smallRuns: ScryptRun[],
  huge: boolean,
): Floor {
  const hugeRuns = samples.flatMap((x) => (x.huge ? [x.huge] : []));
  const small = [...samples.flatMap((x) => (x.small ? [x.small] : [])), ...smallRuns];
  const reexecs = starts.flatMap((x) => (x.reexecStart === null ? [] : [x.reexecStart]));
  const start = median(starts.map((x) => x.start));
  const roundTrips = median(samples.map((x) => x.roundTrips));
  const base = { start, roundTrips, kdfLog2N: Math.log2(samples[0]?.hello.kdf.N ?? NaN) };
  const smallWay = {
    start,
    scrypt: median(small.map((x) => x.ms)),
    peakMiB: median(small.map((x) => x.peakMiB)),
  };
  const useHuge =
    huge && hugeRuns.length === samples.length && reexecs.length > 0 && small.length > 0;
  if (!useHuge)
    return {
      ...base,
      ms: start + smallWay.scrypt + roundTrips,
      reexecStart: null,
      scrypt: smallWay.scrypt,
      otherWay: null,
      oneStartMs: null,
      scryptPeakMiB: smallWay.peakMiB,
    };
  const hugeWay = {
    start: median(reexecs),
    scrypt: median(hugeRuns.map((x) => x.ms)),
    peakMiB: median(hugeRuns.map((x) => x.peakMiB)),
  };
  const cost = (w: { start: number; scrypt: number }): number => w.start + w.scrypt + roundTrips;
  const [way, other] = cost(hugeWay) <= cost(smallWay) ? [hugeWay, smallWay] : [smallWay, hugeWay];
  return {
    ...base,
    ms: cost(way),
    reexecStart: way === hugeWay ? hugeWay.start : null,
    scrypt: way.scrypt,
    otherWay: { start: other.start, scrypt: other.scrypt, ms: cost(other) },
    oneStartMs: start + hugeWay.scrypt + roundTrips,
    scryptPeakMiB: way.peakMiB,
  };
}

export interface RegistrationRow {
  median: number;
  p95: number;
  peakMiB: number;
  errors: string[];
  /** Each successful run: its wall time and the agent's own --json timings. */
  runs: { wallMs: number; timings: TimingsReport }[];
  /** The floor, sampled once before each registration (the machine's pace drifts). */
  floor: Floor;
}

/** What went wrong in a failed agent run, from its --json line. */
function failureOf(m: Measured): string {
  try {
    const j = JSON.parse(m.stdout) as { code?: string; message?: string };
    return `exit ${m.code} ${j.code ?? ''}: ${(j.message ?? '').slice(0, 120)}`;
  } catch {
    return `exit ${m.code}: ${m.stdout.slice(0, 120)}`;
  }
}

/**
 * A registration's command line with a fresh state directory: on one route
 * (`--route`), or with `direct` as the server's URL and the agent choosing.
 */
function registrationArgs(d: Deployment, route: Route | string, secretFile: string): string[] {
  const pinned = typeof route === 'string' ? [] : ['--route', route.kind];
  const direct =
    typeof route === 'string' ? route : route.kind === 'direct' ? route.url : d.server.url;
  return [
    '--server',
    direct,
    '--relay',
    d.relay.url,
    `--server-id=${d.serverId}`,
    `--server-pin=${d.server.pin}`,
    ...pinned,
    '--probe-timeout',
    String(PROBE_TIMEOUT_S),
    '--secret-file',
    secretFile,
    '--state-dir',
    join(tempDir('cb-bench-'), 's'),
    '--json',
  ];
}

/**
 * The peak memory (MiB) of a few registrations by `exe` where the build
 * left it (see installCopy), for the notes: the highest of `runs`.
 */
export async function peakAsBuiltMiB(
  exe: string,
  d: Deployment,
  secret: string,
  route: Route,
  runs: number,
): Promise<number> {
  const secretFile = writeSecretFile(join(tempDir('cb-bench-'), 'secret'), secret);
  let peak = 0;
  for (let i = 0; i < runs; i++) {
    const m = await measureAsync([exe, ...registrationArgs(d, route, secretFile)]);
    if (m.code !== 0) throw new Error(`as built: ${failureOf(m)}`);
    peak = Math.max(peak, m.maxRssKiB / 1024);
  }
  return peak;
}

/**
 * Registrations by the executable on one route, each right after a sample
 * of its floor's scrypt and round trips; then the floor's starts, and
 * scrypt on 4 KiB pages for the notes. `route.url` replaces the direct URL
 * (a slow link).
 *
 * The order is for this VM's memory: it hands free memory back to its host
 * (virtio-balloon free page reporting), and a process that gets such pages
 * pays a fault on the host at its first touch of each (a bare scrypt takes
 * about 250 ms back to back, about 480 after a pause of two seconds). The
 * kernel's per-CPU free lists keep the huge pages a process just freed, and
 * other processes' small pages push them out. So each timed scrypt (the
 * floor's, and the agent's inside its registration) comes right after the
 * other has freed its huge pages, with nothing between them but loopback
 * round trips, and the processes that free only small pages (bare starts,
 * scrypt on 4 KiB pages) run after the registrations. With a 4 KiB-page
 * scrypt right before each registration, the direct row's derivation took
 * 461 to 496 ms (medians of four runs), without it 321 and 365; with the
 * floor's starts right before the floor's scrypt, that scrypt took 442 ms
 * against the agent's 292. Where the executable did not re-execute itself,
 * the floor's 4 KiB-page scrypt is from the runs after the registrations.
 */
export async function benchRegistration(
  exe: string,
  d: Deployment,
  secret: string,
  route: Route,
  runs: number,
  runtime: string,
): Promise<RegistrationRow> {
  const secretFile = writeSecretFile(join(tempDir('cb-bench-'), 'secret'), secret);
  const samples: Measured[] = [];
  const floors: FloorSample[] = [];
  const hugeEnv = hugePagesEnv();
  // What ran before (another row's starts) freed small pages last: one sample untimed.
  await floorSample(route, secret, runtime, hugeEnv);
  for (let i = 0; i < runs; i++) {
    floors.push(await floorSample(route, secret, runtime, hugeEnv));
    samples.push(await measureAsync([exe, ...registrationArgs(d, route, secretFile)]));
  }
  const starts = Array.from({ length: runs }, () => startSample(runtime, hugeEnv));
  const smallRuns = smallPageScrypts(runtime, secret, floors[0]?.hello, runs, hugeEnv);
  const ok = samples.filter((s) => s.code === 0);
  // An executable from before --json had timings gives no parts.
  const timed = ok.flatMap((s) => {
    const { timings } = JSON.parse(s.stdout) as { timings?: TimingsReport };
    return timings ? [{ wallMs: s.ms, timings }] : [];
  });
  return {
    median: median(ok.map((s) => s.ms)),
    p95: quantile(
      ok.map((s) => s.ms),
      0.95,
    ),
    peakMiB: Math.max(...samples.map((s) => s.maxRssKiB)) / 1024,
    errors: samples.filter((s) => s.code !== 0).map(failureOf),
    runs: timed,
    floor: floorOf(
      floors,
      starts,
      smallRuns,
      timed.some((r) => r.timings.reexecMs != null),
    ),
  };
}

export interface FallbackRow {
  median: number;
  p95: number;
  errors: string[];
}

/**
 * Time to a registration through the relay while direct is silent in each
 * way: packets dropped (iptables) or a listener that never answers.
 */
export async function benchFallback(
  exe: string,
  d: Deployment,
  secret: string,
  runs: number,
): Promise<{ dropped: FallbackRow; silent: FallbackRow; probeTimeoutMs: number }> {
  const secretFile = writeSecretFile(join(tempDir('cb-bench-'), 'secret'), secret);
  const run = (direct: string): FallbackRow => {
    const times: number[] = [];
    const errors: string[] = [];
    for (let i = 0; i < runs; i++) {
      const m = measure([exe, ...registrationArgs(d, direct, secretFile)]);
      let route: string | undefined;
      try {
        route = (JSON.parse(m.stdout) as { route?: string }).route;
      } catch {
        // reported below
      }
      if (m.code === 0 && route === 'relay') times.push(m.ms);
      else errors.push(route && m.code === 0 ? `took the ${route} route` : failureOf(m));
    }
    return { median: median(times), p95: quantile(times, 0.95), errors };
  };
  let dropped: FallbackRow;
  try {
    const route = droppedRoute();
    try {
      dropped = run(route.url);
    } finally {
      route.remove();
    }
  } catch (err) {
    dropped = {
      median: NaN,
      p95: NaN,
      errors: [`not measured: ${(err as Error).message.split('\n')[0] ?? ''}`],
    };
  }
  const silent = await silentListener();
  try {
    return { dropped, silent: run(silent.url), probeTimeoutMs: PROBE_TIMEOUT_S * 1000 };
  } finally {
    silent.close();
  }
}
