/**
 * Where a benchmarked registration's time went: the medians of the agent's
 * own `--json` timings, next to the parts of its floor.
 */
import type { Span, TimingsReport } from '../src/agent/timings.ts';
import type { Floor, RegistrationRow } from './bench-agent.ts';
import { median } from './bench-lib.ts';

const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const len = (s: Span | null): number => (s ? s.endMs - s.startMs : NaN);

/** Median of one figure over the runs. */
function med(row: RegistrationRow, pick: (t: TimingsReport, wallMs: number) => number): number {
  return median(row.runs.map((r) => pick(r.timings, r.wallMs)).filter(Number.isFinite));
}

/** The breakdown as one line (medians, ms): phases with their place on main's clock. */
export function breakdown(row: RegistrationRow): string {
  const phase = (name: string, pick: (t: TimingsReport) => Span | null): string => {
    const start = med(row, (t) => pick(t)?.startMs ?? NaN);
    return `${name} ${f(med(row, (t) => len(pick(t))))} (at ${f(start)})`;
  };
  const reexec = row.runs.some((r) => r.timings.reexecMs != null)
    ? ` (of which the first process, before it re-executed itself on huge pages, ${f(med(row, (t) => t.reexecMs ?? NaN))})`
    : '';
  return [
    `start to main ${f(med(row, (t) => t.processStartToMain))}${reexec}`,
    ...(row.runs.some((r) => r.timings.load) ? [phase('load', (t) => t.load)] : []),
    phase('config', (t) => t.config),
    phase('probes', (t) => t.probes),
    phase('derivation', (t) => t.derivation),
    phase('handshake', (t) => t.handshake),
    phase('save', (t) => t.save),
    phase('exit', (t) => t.exit),
    `agent total ${f(med(row, (t) => t.total))}`,
    `after the report ${f(med(row, (t, wall) => wall - t.total))}`,
    `derivation overlapping the probes ${f(
      med(row, (t) =>
        t.derivation && t.probes
          ? Math.max(
              0,
              Math.min(t.derivation.endMs, t.probes.endMs) -
                Math.max(t.derivation.startMs, t.probes.startMs),
            )
          : 0,
      ),
    )}`,
  ].join(', ');
}

/** The floor's parts as one line; `measured` (ms) is also put against a floor of one start. */
export function floorParts(floor: Floor, measured: number): string {
  const scrypt = `scrypt N=2^${floor.kdfLog2N} ${f(floor.scrypt)}`;
  const rtt = `3 round trips on a new connection ${f(floor.roundTrips)}`;
  const parts =
    floor.reexecStart !== null
      ? `process start and its re-exec onto huge pages ${f(floor.reexecStart)} (a bare start alone ${f(floor.start)}) + ${scrypt} on huge pages, as the executable runs it, + ${rtt}`
      : `process start ${f(floor.start)} + ${scrypt}${floor.otherWay ? ' on 4 KiB pages' : ''} + ${rtt}`;
  const other = floor.otherWay
    ? floor.reexecStart !== null
      ? `; the other way, one start and scrypt on 4 KiB pages (${f(floor.otherWay.scrypt)}), makes ${f(floor.otherWay.ms)}`
      : `; the other way, a re-exec onto huge pages (${f(floor.otherWay.start)}) and scrypt there (${f(floor.otherWay.scrypt)}), makes ${f(floor.otherWay.ms)}`
    : '';
  const oneStart =
    floor.oneStartMs === null
      ? ''
      : `; with one start and scrypt on huge pages, as if what starts the executable had set glibc's tunable, it would be ${f(floor.oneStartMs)} (${(measured / floor.oneStartMs).toFixed(2)}x)`;
  return `floor ${f(floor.ms)} = ${parts}${other}${oneStart}; the runtime running that scrypt alone peaks at ${f(floor.scryptPeakMiB)} MiB`;
}
