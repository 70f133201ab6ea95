/**
 * Turns the bytes of a secret file (or of stdin for `--secret-file -`) into
 * the secret, the way Windows tools save text: Notepad writes UTF-8 with a
 * byte-order mark, PowerShell's `>` writes UTF-16LE with one. A line break at
 * the end is an artefact of saving and is dropped; any other whitespace at
 * either end is refused rather than guessed at, before anything is sent, so
 * a mangled file costs no wrong attempt against the server's rate limit.
 */
import type { Readable } from 'node:stream';
import { UserError } from '../common/errors.ts';

/** The most a secret file may hold: 4096 characters of UTF-16 and a BOM. */
export const MAX_SECRET_FILE_BYTES = 8194;

type Encoding = 'utf-8' | 'utf-16le' | 'utf-16be';

function detect(bytes: Buffer): { encoding: Encoding; body: Buffer } {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    return { encoding: 'utf-8', body: bytes.subarray(3) };
  if (bytes[0] === 0xff && bytes[1] === 0xfe)
    return { encoding: 'utf-16le', body: bytes.subarray(2) };
  if (bytes[0] === 0xfe && bytes[1] === 0xff)
    return { encoding: 'utf-16be', body: bytes.subarray(2) };
  return { encoding: 'utf-8', body: bytes };
}

function describeEdge(ch: string): string {
  if (ch === '\n' || ch === '\r') return 'a line break';
  if (ch === '\t') return 'a tab';
  if (ch === ' ') return 'a space';
  return `whitespace (U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')})`;
}

/**
 * Decodes a secret file's bytes. `what` names the source in messages
 * ("the secret file C:\secret.txt"). Throws UserError('usage') for a file
 * that is empty, not text, or has whitespace around the secret.
 */
export function decodeSecretFile(bytes: Buffer, what: string): string {
  if (bytes.length > MAX_SECRET_FILE_BYTES)
    throw new UserError('usage', `${what} is larger than ${MAX_SECRET_FILE_BYTES} bytes`);
  const { encoding, body } = detect(bytes);
  if (encoding !== 'utf-8' && body.length % 2 !== 0)
    throw new UserError('usage', `${what} is not valid ${encoding.toUpperCase()} (odd length)`);
  if (encoding === 'utf-8' && body.includes(0))
    throw new UserError(
      'usage',
      `${what} holds NUL characters: UTF-16 without a byte-order mark?`,
      {
        hint: 'save it as UTF-8, or as UTF-16 with a byte-order mark (PowerShell: Set-Content -Encoding utf8)',
      },
    );
  let text: string;
  try {
    text = new TextDecoder(encoding, { fatal: true, ignoreBOM: true }).decode(body);
  } catch (err) {
    throw new UserError('usage', `${what} is not valid ${encoding.toUpperCase()} text`, {
      cause: err,
      hint: 'save it as UTF-8 (with or without a byte-order mark) or as UTF-16 with a byte-order mark',
    });
  }
  if (text.endsWith('\r\n')) text = text.slice(0, -2);
  else if (text.endsWith('\n')) text = text.slice(0, -1);
  if (text.length === 0) throw new UserError('usage', `${what} is empty`);
  const first = text[0] ?? '';
  const last = text[text.length - 1] ?? '';
  if (/\s/u.test(first) || /\s/u.test(last)) {
    const where = /\s/u.test(first)
      ? `starts with ${describeEdge(first)}`
      : `ends with ${describeEdge(last)} (after dropping one final line break)`;
    throw new UserError(
      'usage',
      `${what} ${where}; secrets never begin or end with whitespace, so nothing was sent`,
      {
        hint: 'remove the whitespace around the secret in the file; one line break at the end is fine',
      },
    );
  }
  return text;
}

/** Reads all of `input` as bytes, refusing more than the secret file limit. */
export async function readSecretStream(input: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > MAX_SECRET_FILE_BYTES)
      throw new UserError(
        'usage',
        `the secret on stdin is larger than ${MAX_SECRET_FILE_BYTES} bytes`,
      );
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
