import type { RouteReport } from './probe.ts';

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
  readonly [extra: string]: unknown;
}
