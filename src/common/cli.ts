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

/**
 * yargs reads a token starting with "-" as an option even where a value is
 * due, so "--server-id -Dx3..." (one server id in 64 begins with "-") or
 * "--secret-file -" lost their values. Neither command line has short
 * options, so a lone-dash token right after an option in `takesValue` is
 * that option's value: it is joined as "--name=token". Tokens after "--"
 * and options already written "--name=value" are left alone.
 */
export function joinDashValues(argv: readonly string[], takesValue: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (
      a.startsWith('--') &&
      takesValue.has(a.slice(2)) &&
      next?.startsWith('-') &&
      !next.startsWith('--')
    ) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}
