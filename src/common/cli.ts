/** Shared plumbing for the three command lines: streams in, exit code out. */
import type { Readable, Writable } from 'node:stream';
import { UserError } from './errors.ts';

/** The outside world a command line touches, passed in once. */
export interface CliDeps {
  readonly stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => Date;
}

export function createProcessDeps(): CliDeps {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    now: () => new Date(),
  };
}

/** Runs a command body: a UserError prints its message and hint (exit 2 by default); anything else is a bug (exit 1). */
export async function runGuarded(
  deps: CliDeps,
  program: string,
  body: () => Promise<number>,
  exitOf: (err: UserError) => number = () => 2,
): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UserError) {
      deps.stderr.write(`${program}: ${err.message}\n${err.hint ? `  ${err.hint}\n` : ''}`);
      return exitOf(err);
    }
    const e = err as Error;
    deps.stderr.write(
      `${program}: internal error (a bug): ${e?.message ?? String(err)}\n${e?.stack ?? ''}\n`,
    );
    return 1;
  }
}

/** yargs' failure handler: usage errors become UserError('usage'). */
export function usageFailure(msg: string | undefined, err: Error | undefined): never {
  if (err instanceof UserError) throw err;
  throw new UserError('usage', msg ?? err?.message ?? 'invalid command line', {
    hint: 'see --help',
  });
}
