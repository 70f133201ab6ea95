import type { UserError } from '../common/errors.ts';
import { defaultHint, exitCodeFor } from './exit-codes.ts';
import type { RouteReport } from './probe.ts';
import type { TimingsReport } from './timings.ts';

/** The result of a command, as every renderer shows it; `--json` prints it. */
export interface Outcome {
  readonly ok: boolean;
  readonly exitCode: number;
  readonly code: string;
  readonly clientId: string | null;
  readonly serverId: string | null;
  readonly route: 'direct' | 'relay' | null;
  readonly routes: readonly RouteReport[];
  readonly durationMs: number;
  readonly message: string;
  readonly hint?: string;
  readonly logFile: string | null;
  /** Where the time went (ms); every command run by execute() reports it. */
  readonly timings?: TimingsReport;
  readonly [extra: string]: unknown;
}

/** What an Outcome needs of the run: its clock and its log file. */
export interface OutcomeClock {
  readonly now: () => number;
  readonly logFile: string | null;
}

/** Builds an Outcome; failures get their exit code from the one table. */
export function outcomeOf(
  ctx: OutcomeClock,
  t0: number,
  fields: Partial<Outcome> & { ok: boolean; code: string; message: string },
): Outcome {
  const {
    ok,
    code,
    message,
    clientId,
    serverId,
    route,
    routes,
    hint,
    logFile: _l,
    exitCode: _e,
    durationMs: _d,
    ...extra
  } = fields;
  const exitCode = ok ? 0 : exitCodeFor(code);
  // Every failure says what to do (the README promises `hint` on failures).
  const why = hint ?? (ok ? undefined : defaultHint(exitCode));
  return {
    ok,
    exitCode,
    code,
    clientId: clientId ?? null,
    serverId: serverId ?? null,
    route: route ?? null,
    routes: routes ?? [],
    durationMs: Math.round(ctx.now() - t0),
    message,
    logFile: ctx.logFile,
    ...(why ? { hint: why } : {}),
    ...extra,
  };
}

/** The Outcome of an expected failure, with its hint. */
export function failureOf(
  ctx: OutcomeClock,
  t0: number,
  err: UserError,
  fields: Partial<Outcome> = {},
): Outcome {
  return outcomeOf(ctx, t0, {
    ...fields,
    ok: false,
    code: err.code,
    message: err.message,
    ...(err.hint ? { hint: err.hint } : {}),
  });
}
