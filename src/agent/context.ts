/** Everything a command needs, built once per run. */
import type { Readable, Writable } from 'node:stream';
import { UserError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { promptMasked } from '../common/prompt.ts';
import type { TtyInput } from '../common/prompt.ts';
import { Secret } from '../protocol/index.ts';
import type { AgentSettings, SecretSource } from './config.ts';
import type { Deadline } from './deadline.ts';
import type { MachineFacts } from './machine.ts';
import type { Reporter } from './render.ts';
import { decodeSecretFile, readSecretStream } from './secret-file.ts';
import type { Transport } from './transport.ts';

export interface AgentContext {
  readonly settings: AgentSettings;
  readonly log: Logger;
  readonly reporter: Reporter;
  readonly deadline: Deadline;
  readonly transport: Transport;
  readonly now: () => number;
  readonly random: () => number;
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly stdin: Readable & TtyInput;
  readonly stderr: Writable;
  /** True when a person can answer a prompt (stdin is a terminal). */
  readonly canPrompt: boolean;
  readonly readFile: (path: string) => string;
  /** Reads a file's bytes (secret files: their encoding is decided from the bytes). */
  readonly readBytes: (path: string) => Buffer;
  readonly machine: () => Promise<MachineFacts>;
  readonly logFile: string | null;
}

/** Reads a secret given on the command line, environment, file or stdin; null when none was. */
export async function readGivenSecret(
  source: SecretSource,
  ctx: Pick<AgentContext, 'readBytes' | 'stdin'>,
): Promise<Secret | null> {
  switch (source.kind) {
    case 'none':
      return null;
    case 'env':
    case 'flag':
      return Secret.from(source.secret.reveal());
    case 'stdin': {
      const bytes = await readSecretStream(ctx.stdin);
      if (bytes.length === 0)
        throw new UserError('usage', '--secret-file - was given but stdin is empty');
      return Secret.from(decodeSecretFile(bytes, 'the secret on stdin'));
    }
    case 'file': {
      let bytes: Buffer;
      try {
        bytes = ctx.readBytes(source.path);
      } catch (err) {
        throw new UserError(
          'usage',
          `cannot read the secret file ${source.path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
          { cause: err },
        );
      }
      return Secret.from(decodeSecretFile(bytes, `the secret file ${source.path}`));
    }
  }
}

const PROMPT_HINTS: Record<string, string> = {
  interrupted: 'nothing was sent; run the command again when you have the secret',
  secret_missing:
    'run the command again and type the secret, or give it with --secret-file PATH or CLIENT_BOOTSTRAP_SECRET',
};

/**
 * Asks for the secret at a masked prompt, with the deadline clock stopped.
 * An empty Enter asks again; Ctrl-C and Ctrl-D end it (see promptMasked).
 */
export async function promptSecret(ctx: AgentContext, attempt: number): Promise<Secret> {
  const question =
    attempt === 1 ? 'Authorization secret: ' : `Authorization secret (attempt ${attempt} of 3): `;
  for (;;) {
    const text = await ctx.deadline
      .paused(() => promptMasked(ctx.stdin, ctx.stderr, question))
      .catch((err: unknown) => {
        const hint = err instanceof UserError ? PROMPT_HINTS[err.code] : undefined;
        throw hint ? new UserError((err as UserError).code, (err as Error).message, { hint }) : err;
      });
    if (text) return Secret.from(text);
    ctx.stderr.write('  nothing was typed; type the secret and press Enter (Ctrl-D to give up)\n');
  }
}
