/**
 * Where a run's time went: spans in milliseconds since `main` (the entry
 * point's first line), and the time from process start to `main`. `--json`
 * reports them as `timings`, the log as the `timings` event.
 */
import { performance } from 'node:perf_hooks';

/** The mark the entry point sets as its first act (src/bin/client-bootstrap.ts, sea-main.ts). */
export const MAIN_MARK = 'client-bootstrap:main';

/**
 * The marks around the single executable's compile of the agent's bundle
 * (src/bin/sea-main.ts): the `load` phase. A run from dist/ has none.
 */
export const LOAD_MARKS = {
  start: 'client-bootstrap:load',
  end: 'client-bootstrap:loaded',
} as const;

/**
 * The mark a re-executed single executable sets (src/bin/huge-pages.ts),
 * its detail `{ beforeMs }`: how long before this process the first one started.
 */
export const REEXEC_MARK = 'client-bootstrap:reexec';

/** One phase: when it started and ended, in ms since main. */
export interface Span {
  readonly startMs: number;
  readonly endMs: number;
}

export type Phase = 'load' | 'config' | 'probes' | 'derivation' | 'handshake' | 'save' | 'exit';

/** The `timings` field of --json. A phase that did not happen is null. */
export interface TimingsReport {
  /** From process start (performance.timeOrigin; the first process's, across a re-exec) to main. */
  readonly processStartToMain: number;
  /**
   * When the single executable re-executed itself (huge pages): the first
   * process's start to this process's, part of processStartToMain; else null.
   */
  readonly reexecMs: number | null;
  /** The single executable compiling the agent's bundle; null in a run from dist/. */
  readonly load: Span | null;
  readonly config: Span | null;
  readonly probes: Span | null;
  readonly derivation: Span | null;
  readonly handshake: Span | null;
  readonly save: Span | null;
  readonly exit: Span | null;
  /** From process start to the moment the report was made. */
  readonly total: number;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/**
 * Records phases against the main mark. A phase that runs more than once
 * (a retried round) keeps its first start and its last end.
 */
export class Timings {
  readonly #main: number;
  /** ms from the first process's start to this one's, across a re-exec; else null. */
  readonly #before: number | null;
  readonly #spans = new Map<Phase, { startMs: number; endMs: number | null }>();

  /** `mainAt`: performance.now() at main; by default the main mark, or now when there is none. */
  constructor(mainAt?: number) {
    this.#main = mainAt ?? markAt(MAIN_MARK) ?? now();
    this.#before = reexecBefore();
    const [loadStart, loadEnd] = [markAt(LOAD_MARKS.start), markAt(LOAD_MARKS.end)];
    if (loadStart !== undefined && loadEnd !== undefined)
      this.#spans.set('load', { startMs: this.since(loadStart), endMs: this.since(loadEnd) });
  }

  /** ms since main. */
  sinceMain(): number {
    return now() - this.#main;
  }

  /** A performance.now() reading as ms since main. */
  since(perfNow: number): number {
    return perfNow - this.#main;
  }

  start(phase: Phase, at = this.sinceMain()): void {
    const s = this.#spans.get(phase);
    if (s) s.endMs = null;
    else this.#spans.set(phase, { startMs: at, endMs: null });
  }

  end(phase: Phase, at = this.sinceMain()): void {
    const s = this.#spans.get(phase);
    if (s) s.endMs = at;
  }

  /** Runs `fn` as one phase (ended whether it succeeds or throws). */
  async span<T>(phase: Phase, fn: () => Promise<T>): Promise<T> {
    this.start(phase);
    try {
      return await fn();
    } finally {
      this.end(phase);
    }
  }

  report(): TimingsReport {
    const at = this.sinceMain();
    const span = (p: Phase): Span | null => {
      const s = this.#spans.get(p);
      // A phase still running (a derivation nobody needed) ends at the report.
      return s ? { startMs: round(s.startMs), endMs: round(s.endMs ?? at) } : null;
    };
    return {
      processStartToMain: round((this.#before ?? 0) + this.#main),
      reexecMs: this.#before === null ? null : round(this.#before),
      load: span('load'),
      config: span('config'),
      probes: span('probes'),
      derivation: span('derivation'),
      handshake: span('handshake'),
      save: span('save'),
      exit: span('exit'),
      total: round((this.#before ?? 0) + this.#main + at),
    };
  }
}

/** The first process's start to this one's, from REEXEC_MARK; null when there was no re-exec. */
function reexecBefore(): number | null {
  const mark = performance.getEntriesByName(REEXEC_MARK, 'mark')[0] as
    { detail?: { beforeMs?: unknown } } | undefined;
  const beforeMs = mark?.detail?.beforeMs;
  return typeof beforeMs === 'number' ? beforeMs : null;
}

/** performance.now() at the first mark of that name. */
function markAt(name: string): number | undefined {
  return performance.getEntriesByName(name, 'mark')[0]?.startTime;
}

function now(): number {
  return performance.now();
}
