/**
 * Masked input from a terminal, and bounded reads of piped input. Nothing
 * here ever echoes what is typed.
 *
 * Keys come from Node's readline keypress parser (`emitKeypressEvents`):
 * it decodes UTF-8 split across reads and recognises escape sequences
 * (arrows, Home/End, F-keys, any CSI or SS3 sequence), which it reports
 * with no text, so they can never end up in the value.
 */
import type { Readable, Writable } from 'node:stream';
import { UserError } from './errors.ts';

export interface TtyInput extends Readable {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

/** A key as readline's keypress event describes it. */
export interface KeyPress {
  readonly name?: string | undefined;
  readonly ctrl?: boolean | undefined;
  readonly meta?: boolean | undefined;
}

/** What one key press does: the value after it, and whether the entry ends. */
export interface KeyResult {
  readonly value: string;
  readonly end?: 'submit' | 'interrupt' | 'eof';
}

/**
 * Made at the first key press, not when the module loads: a segmenter maps
 * several MiB of ICU data, and most runs never show a prompt.
 */
let graphemes: Intl.Segmenter | null | undefined;

/** Splits text into what a person sees as characters (code points without ICU). */
export function splitGraphemes(text: string): string[] {
  graphemes ??=
    typeof Intl.Segmenter === 'function'
      ? new Intl.Segmenter(undefined, { granularity: 'grapheme' })
      : null;
  return graphemes ? Array.from(graphemes.segment(text), (s) => s.segment) : Array.from(text);
}

/** True for control characters (C0, DEL, C1): never part of a typed secret. */
function isControl(ch: string): boolean {
  const c = ch.codePointAt(0) ?? 0;
  return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

/**
 * The line editing of the masked prompt, as a pure function: `text` is
 * what the key types (undefined for escape sequences), `key` its name.
 * Backspace removes one whole character, Ctrl-U the line, Ctrl-W a word.
 */
export function applyKey(value: string, text: string | undefined, key: KeyPress = {}): KeyResult {
  const { name, ctrl = false, meta = false } = key;
  if (name === 'return' || name === 'enter') return { value, end: 'submit' };
  if (ctrl && name === 'c') return { value, end: 'interrupt' };
  if (ctrl && name === 'd') return value === '' ? { value, end: 'eof' } : { value };
  if (name === 'backspace' && !meta) {
    const chars = splitGraphemes(value);
    chars.pop();
    return { value: chars.join('') };
  }
  if (ctrl && name === 'u') return { value: '' };
  if (ctrl && name === 'w') return { value: value.replace(/\S*\s*$/u, '') };
  if (text === undefined || ctrl || meta) return { value };
  const typed = Array.from(text)
    .filter((ch) => !isControl(ch))
    .join('');
  return { value: value + typed };
}

/**
 * Asks for a value on a terminal, echoing one `*` per character. Enter
 * ends it (an empty value is returned as ''). Ctrl-C rejects with
 * UserError 'interrupted'; Ctrl-D on an empty line, or the terminal
 * closing, with 'secret_missing'. The terminal's mode is always restored.
 */
export function promptMasked(input: TtyInput, output: Writable, question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = '';
    let shown = 0;
    const wasRaw = input.isRaw === true;
    const finish = (err: Error | null): void => {
      input.off('keypress', onKey);
      input.off('end', onEnd);
      input.off('error', onError);
      try {
        input.setRawMode?.(wasRaw);
      } finally {
        input.pause();
        output.write('\n');
        if (err) reject(err);
        else resolve(value);
      }
    };
    const onKey = (text: string | undefined, key: KeyPress | undefined): void => {
      const r = applyKey(value, text, key);
      value = r.value;
      const count = splitGraphemes(value).length;
      if (count > shown) output.write('*'.repeat(count - shown));
      else if (count < shown) output.write('\b \b'.repeat(shown - count));
      shown = count;
      if (r.end === 'submit') finish(null);
      else if (r.end === 'interrupt')
        finish(new UserError('interrupted', 'interrupted at the prompt'));
      else if (r.end === 'eof') finish(noSecret('no secret was entered (Ctrl-D at the prompt)'));
    };
    const onEnd = (): void =>
      finish(noSecret('no secret was entered (the terminal closed at the prompt)'));
    const onError = (err: Error): void => finish(err);
    // Loaded here: only a prompt needs it.
    process.getBuiltinModule('node:readline').emitKeypressEvents(input);
    input.on('keypress', onKey);
    input.once('end', onEnd);
    input.once('error', onError);
    try {
      input.setRawMode?.(true);
    } catch (err) {
      finish(err as Error);
      return;
    }
    output.write(question);
    input.resume();
  });
}

function noSecret(message: string): UserError {
  return new UserError('secret_missing', message);
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
