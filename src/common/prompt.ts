/**
 * Masked input from a terminal, and bounded reads of piped input. Nothing
 * here ever echoes what is typed.
 */
import type { Readable, Writable } from 'node:stream';
import { UserError } from './errors.ts';

export interface TtyInput extends Readable {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

/**
 * Asks for a value on a terminal, echoing `*` for each character. Enter
 * ends it; Ctrl-C or Ctrl-D on an empty line cancels (UserError 'cancelled').
 */
export function promptMasked(input: TtyInput, output: Writable, question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = '';
    const wasRaw = (input as { isRaw?: boolean }).isRaw === true;
    input.setRawMode?.(true);
    input.resume();
    output.write(question);
    const done = (err: Error | null): void => {
      input.off('data', onData);
      input.setRawMode?.(wasRaw);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003' || (ch === '\u0004' && value.length === 0)) {
          return done(new UserError('cancelled', 'input was cancelled'));
        }
        if (ch === '\u007f' || ch === '\b') {
          if (value.length > 0) {
            value = [...value].slice(0, -1).join('');
            output.write('\b \b');
          }
          continue;
        }
        if (ch < ' ') continue;
        value += ch;
        output.write('*');
      }
    };
    input.on('data', onData);
  });
}

/** Reads all of a stream, refusing more than `limit` bytes. */
export async function readAllLimited(
  input: Readable,
  limit: number,
  what: string,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > limit) throw new UserError('too_large', `${what} is larger than ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
