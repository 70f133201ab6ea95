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

/** An option's name as declared: yargs also accepts "--serverId" for "--server-id". */
export function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * yargs reads a word starting with "-" as options even where a value is
 * due, so "--server-id -Dx3..." (one server id in 64 made before ids were
 * redrawn begins with "-") lost its value. Neither command line has short
 * options, so a word starting with one "-" right after an option in
 * `takesValue` (named in either case) is that option's value: it is joined
 * as "--name=word". A lone "-" is joined only for the options in `stdin`,
 * where it means standard input; after any other it is a usage error,
 * rather than name a file called "-". Words starting with "--", options already
 * written "--name=value" and everything after "--" are left alone.
 */
export function joinDashValues(
  argv: readonly string[],
  takesValue: ReadonlySet<string>,
  stdin: ReadonlySet<string> = new Set(),
): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    const name = a.startsWith('--') ? kebabCase(a.slice(2)) : '';
    if (next === '-' && takesValue.has(name) && !stdin.has(name))
      throw new UserError('usage', `${a} cannot be "-"`, {
        hint: stdin.size
          ? `"-" (standard input) is for ${[...stdin].map((o) => `--${o}`).join(', ')} only`
          : 'nothing here reads standard input',
      });
    const joins =
      takesValue.has(name) && next !== undefined && next.startsWith('-') && !next.startsWith('--');
    if (joins) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}
