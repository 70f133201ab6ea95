/**
 * What the person or the deployment tool reads. Three renderers: a
 * terminal (short live lines), plain lines (logs of deployment tools), and
 * JSON (exactly one object on stdout at the end). Only this file writes
 * to stdout and stderr.
 */
import type { Writable } from 'node:stream';
import type { Outcome } from './outcome.ts';
import type { RouteReport } from './probe.ts';

export interface Reporter {
  /** A progress line (suppressed by --quiet and --json). */
  progress(text: string): void;
  /** A warning (stderr; suppressed by --quiet). */
  warn(text: string): void;
  /** One route's report. */
  route(report: RouteReport): void;
  /** The final result. */
  finish(outcome: Outcome): void;
}

export type RenderMode = 'tty' | 'plain' | 'json';

function describeRoute(r: RouteReport): string {
  const label = r.name === 'direct' ? 'server' : 'relay ';
  if (r.reachable) {
    return `${label} ${r.url}: reachable in ${r.latencyMs ?? '?'} ms, seen as ${r.seenAs ?? '?'}, ${r.secretRequired ? 'secret required' : 'no secret required'}`;
  }
  if (r.errorCode === 'abandoned')
    return `${label} ${r.url}: not needed (${r.error ?? 'another route won'})`;
  return `${label} ${r.url}: not usable: ${r.error ?? 'unknown'}`;
}

export function createReporter(
  mode: RenderMode,
  quiet: boolean,
  stdout: Writable,
  stderr: Writable,
): Reporter {
  const tty = mode === 'tty';
  const mark = (ok: boolean): string => (tty ? (ok ? '\u2713 ' : '\u2717 ') : '');
  const line = (s: string): void => void stdout.write(`${s}\n`);
  return {
    progress(text) {
      if (mode !== 'json' && !quiet) line(tty ? `\u2026 ${text}` : text);
    },
    warn(text) {
      if (!quiet) stderr.write(`warning: ${text}\n`);
    },
    route(r) {
      if (mode !== 'json' && !quiet)
        line(
          `${r.errorCode === 'abandoned' ? (tty ? '- ' : '') : mark(r.reachable)}${describeRoute(r)}`,
        );
    },
    finish(o) {
      if (mode === 'json') {
        const { hint: _hint, ...rest } = o;
        line(JSON.stringify(o.hint ? { ...rest, hint: o.hint } : rest));
        return;
      }
      if (o.ok) {
        if (!quiet) line(`${mark(true)}${o.message}`);
        return;
      }
      stderr.write(`${mark(false)}error: ${o.message}\n`);
      if (o.hint) stderr.write(`  what to do: ${o.hint}\n`);
      if (o.logFile) stderr.write(`  log: ${o.logFile}\n`);
    },
  };
}
