/**
 * What the person or the deployment tool reads. Three renderers: a
 * terminal (short live lines, marks, colour where the terminal takes it),
 * plain lines (logs of deployment tools: no marks, no colour, no escape
 * bytes), and JSON (exactly one object on stdout at the end). Only this
 * file writes to stdout and stderr.
 */
import type { Writable } from 'node:stream';
import type { Outcome } from './outcome.ts';
import type { RouteReport } from './probe.ts';
import { ASCII_MARKS, terminalStyle } from './terminal-style.ts';
import type { TerminalFacts, TerminalStyle } from './terminal-style.ts';

export interface Reporter {
  /** A progress line (suppressed by --quiet and --json). */
  progress(text: string): void;
  /**
   * A long step (key derivation, a wait before retrying). On a terminal one
   * line with the seconds elapsed, updated in place and cleared by the
   * returned `done()`; in plain mode one line at the start.
   */
  activity(text: string): () => void;
  /** A warning (stderr; suppressed by --quiet). */
  warn(text: string): void;
  /** One route's report. */
  route(report: RouteReport): void;
  /** The final result. */
  finish(outcome: Outcome): void;
}

export type RenderMode = 'tty' | 'plain' | 'json';

type Out = Writable & { isTTY?: boolean };

const PLAIN: TerminalStyle = { color: { stdout: false, stderr: false }, marks: ASCII_MARKS };

/** SGR codes: green, red, dim, yellow, each with its own reset. */
const SGR = { ok: [32, 39], fail: [31, 39], dim: [2, 22], warn: [33, 39] } as const;

function describeRoute(r: RouteReport): string {
  const label = r.name === 'direct' ? 'server' : 'relay ';
  if (r.reachable) {
    return `${label} ${r.url}: reachable in ${r.latencyMs ?? '?'} ms, seen as ${r.seenAs ?? '?'}, ${r.secretRequired ? 'secret required' : 'no secret required'}`;
  }
  if (r.errorCode === 'abandoned')
    return `${label} ${r.url}: not needed (${r.error ?? 'another route won'})`;
  return `${label} ${r.url}: not usable: ${r.error ?? 'unknown'}`;
}

export interface ReporterOptions {
  /** How the terminal is asked what it can show (cli.ts passes its deps). */
  readonly terminal?: TerminalFacts;
  /** A fixed style (tests); otherwise learned from `terminal`. */
  readonly style?: TerminalStyle;
  readonly now?: () => number;
}

export function createReporter(
  mode: RenderMode,
  quiet: boolean,
  stdout: Out,
  stderr: Out,
  opts: ReporterOptions = {},
): Reporter {
  const tty = mode === 'tty';
  // Learned on first use: a reporter made only for a usage error asks the console nothing.
  let learned: TerminalStyle | undefined;
  const style = (): TerminalStyle =>
    (learned ??= !tty
      ? PLAIN
      : (opts.style ??
        (opts.terminal
          ? terminalStyle(opts.terminal, { stdout: !!stdout.isTTY, stderr: !!stderr.isTTY })
          : PLAIN)));
  const now = opts.now ?? Date.now;
  const paint = (on: boolean, sgr: readonly [number, number], s: string): string =>
    on ? `\u001b[${sgr[0]}m${s}\u001b[${sgr[1]}m` : s;
  const out = (sgr: readonly [number, number], s: string): string =>
    paint(style().color.stdout, sgr, s);
  const err = (sgr: readonly [number, number], s: string): string =>
    paint(style().color.stderr, sgr, s);
  const mark = (ok: boolean, paintWith: typeof out): string =>
    tty
      ? `${ok ? paintWith(SGR.ok, style().marks.ok) : paintWith(SGR.fail, style().marks.fail)} `
      : '';
  // The live activity line, ended before anything else is written.
  let live: (() => void) | undefined;
  const line = (s: string): void => {
    live?.();
    stdout.write(`${s}\n`);
  };
  const errLine = (s: string): void => {
    live?.();
    stderr.write(`${s}\n`);
  };
  const silent = mode === 'json' || quiet;
  return {
    progress(text) {
      if (!silent) line(tty ? out(SGR.dim, `${style().marks.busy} ${text}`) : text);
    },
    activity(text) {
      if (silent) return () => undefined;
      if (!tty) {
        line(text);
        return () => undefined;
      }
      live?.();
      const start = now();
      let width = 0;
      const draw = (): void => {
        const s = `${style().marks.busy} ${text} (${Math.floor((now() - start) / 1000)} s)`;
        width = s.length;
        stdout.write(`\r${out(SGR.dim, s)}`);
      };
      draw();
      const timer = setInterval(draw, 1000);
      timer.unref?.();
      const done = (): void => {
        if (live !== done) return;
        live = undefined;
        clearInterval(timer);
        stdout.write(`\r${' '.repeat(width)}\r`);
      };
      live = done;
      return done;
    },
    warn(text) {
      if (!quiet) errLine(`${tty ? err(SGR.warn, 'warning:') : 'warning:'} ${text}`);
    },
    route(r) {
      if (!silent)
        line(
          `${r.errorCode === 'abandoned' ? (tty ? '- ' : '') : mark(r.reachable, out)}${describeRoute(r)}`,
        );
    },
    finish(o) {
      if (mode === 'json') {
        const { hint: _hint, ...rest } = o;
        line(JSON.stringify(o.hint ? { ...rest, hint: o.hint } : rest));
        return;
      }
      if (o.ok) {
        if (!quiet) line(`${mark(true, out)}${o.message}`);
        return;
      }
      errLine(`${mark(false, err)}error: ${o.message}`);
      if (o.hint) stderr.write(`  what to do: ${o.hint}\n`);
      if (o.logFile) stderr.write(`  log: ${o.logFile}\n`);
    },
  };
}
