import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeSecretFile, MAX_SECRET_FILE_BYTES, readSecretStream } from './secret-file.ts';

const S = 'Zürich-Secret-42';
const utf16be = (text: string): Buffer => {
  const le = Buffer.from(text, 'utf16le');
  const be = Buffer.alloc(le.length);
  for (let i = 0; i < le.length; i += 2) {
    be[i] = le[i + 1] ?? 0;
    be[i + 1] = le[i] ?? 0;
  }
  return be;
};
const BOM8 = Buffer.from([0xef, 0xbb, 0xbf]);
const BOM16LE = Buffer.from([0xff, 0xfe]);
const BOM16BE = Buffer.from([0xfe, 0xff]);

describe('decodeSecretFile', () => {
  it.each([
    ['UTF-8', Buffer.from(S)],
    ['UTF-8 with LF', Buffer.from(`${S}\n`)],
    ['UTF-8 with CRLF', Buffer.from(`${S}\r\n`)],
    ['UTF-8 with a BOM (Notepad)', Buffer.concat([BOM8, Buffer.from(`${S}\r\n`)])],
    [
      'UTF-16LE with a BOM (PowerShell >)',
      Buffer.concat([BOM16LE, Buffer.from(`${S}\r\n`, 'utf16le')]),
    ],
    ['UTF-16LE with a BOM, no line break', Buffer.concat([BOM16LE, Buffer.from(S, 'utf16le')])],
    ['UTF-16BE with a BOM', Buffer.concat([BOM16BE, utf16be(`${S}\n`)])],
  ])('reads %s', (_name, bytes) => {
    expect(decodeSecretFile(bytes, 'the secret file f')).toBe(S);
  });

  it.each([
    ['a leading space', Buffer.from(` ${S}\n`), /starts with a space/],
    ['a trailing space', Buffer.from(`${S} \n`), /ends with a space/],
    ['a trailing tab', Buffer.from(`${S}\t`), /ends with a tab/],
    ['two line breaks', Buffer.from(`${S}\n\n`), /ends with a line break/],
    ['CR CR LF', Buffer.from(`${S}\r\r\n`), /ends with a line break/],
    ['a leading line break', Buffer.from(`\n${S}`), /starts with a line break/],
    ['a no-break space', Buffer.from(`${S}\u00a0`), /ends with whitespace \(U\+00A0\)/],
    [
      'UTF-16 spaces',
      Buffer.concat([BOM16LE, Buffer.from(`  ${S}\r\n`, 'utf16le')]),
      /starts with a space/,
    ],
    ['only a line break', Buffer.from('\r\n'), /is empty/],
    ['nothing', Buffer.alloc(0), /is empty/],
    ['a BOM alone', BOM8, /is empty/],
    ['UTF-16 without a BOM', Buffer.from(S, 'utf16le'), /NUL characters/],
    ['invalid UTF-8', Buffer.from([0x41, 0xff, 0x42]), /not valid UTF-8/],
    ['an odd UTF-16 length', Buffer.concat([BOM16LE, Buffer.from('abc')]), /odd length/],
  ])('refuses %s, saying why', (_name, bytes, message) => {
    let error: unknown;
    try {
      decodeSecretFile(bytes, 'the secret file f');
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'usage' });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/^the secret file f /);
  });

  it('never puts the secret into its messages', () => {
    try {
      decodeSecretFile(Buffer.from(` ${S}`), 'the secret file f');
    } catch (err) {
      expect(
        JSON.stringify({ m: (err as Error).message, h: (err as { hint?: string }).hint }),
      ).not.toContain(S);
      return;
    }
    throw new Error('not refused');
  });

  it('refuses a file larger than the limit', () => {
    expect(() => decodeSecretFile(Buffer.alloc(MAX_SECRET_FILE_BYTES + 1, 0x41), 'f')).toThrow(
      /larger than/,
    );
  });
});

describe('readSecretStream', () => {
  it('keeps the bytes as they came, for decoding', async () => {
    const bytes = Buffer.concat([BOM16LE, Buffer.from(`${S}\r\n`, 'utf16le')]);
    expect(
      await readSecretStream(Readable.from([bytes.subarray(0, 5), bytes.subarray(5)])),
    ).toEqual(bytes);
  });
  it('stops past the limit', async () => {
    await expect(
      readSecretStream(Readable.from([Buffer.alloc(MAX_SECRET_FILE_BYTES + 1)])),
    ).rejects.toMatchObject({ code: 'usage' });
  });
});
