/**
 * The leak detector: every form in which a secret (or the PRS derived from
 * it) could travel or be stored, at every byte alignment, searched in
 * files, in program output and in the reassembled TCP streams of a packet
 * capture. Its own test (test/leak-detector.test.ts) plants each form and
 * must find it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface Needle {
  /** What was encoded: `secret`, `PRS`, ... */
  readonly what: string;
  /** How: `base64url@1` is base64url with the value starting 1 byte into a 3-byte group. */
  readonly form: string;
  readonly bytes: Buffer;
}

export interface Finding {
  readonly where: string;
  readonly what: string;
  readonly form: string;
  readonly offset: number;
}

const B64_ALIGNMENTS = [0, 1, 2] as const;

/**
 * The base64 text that encodes `value` wherever it sits: the characters
 * that depend on `value`'s bits alone when it starts `align` bytes into a
 * 3-byte group. A substring of the padded and of the unpadded encoding
 * whatever precedes or follows the value.
 */
export function base64Core(value: Buffer, align: number, url: boolean): string {
  const text = Buffer.concat([Buffer.alloc(align), value]).toString(url ? 'base64url' : 'base64');
  const from = Math.ceil((8 * align) / 6);
  const to = Math.floor((8 * (align + value.length)) / 6);
  return text.slice(from, to);
}

function percentEncodeAll(value: Buffer, upper: boolean): string {
  const hex = value.toString('hex');
  const out = hex.replace(/../g, '%$&');
  return upper ? out.toUpperCase() : out;
}

function utf16be(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  const be = Buffer.alloc(le.length);
  for (let i = 0; i + 1 < le.length; i += 2) {
    be[i] = le[i + 1] as number;
    be[i + 1] = le[i] as number;
  }
  return be;
}

/** Every form of one value: raw, hex (both cases), base64 and base64url at each alignment, URL-encoded. */
export function formsOf(what: string, value: Buffer): Needle[] {
  const latin1 = value.toString('latin1');
  const forms: [string, Buffer][] = [
    ['raw', value],
    ['hex', Buffer.from(value.toString('hex'))],
    ['HEX', Buffer.from(value.toString('hex').toUpperCase())],
    ['url-encoded', Buffer.from(encodeURIComponent(latin1))],
    ['form-encoded', Buffer.from(new URLSearchParams({ x: latin1 }).toString().slice(2))],
    ['percent-every-byte', Buffer.from(percentEncodeAll(value, false))],
    ['PERCENT-EVERY-BYTE', Buffer.from(percentEncodeAll(value, true))],
    ...B64_ALIGNMENTS.flatMap((a): [string, Buffer][] => [
      [`base64@${a}`, Buffer.from(base64Core(value, a, false))],
      [`base64url@${a}`, Buffer.from(base64Core(value, a, true))],
    ]),
  ];
  const seen = new Set<string>();
  return forms
    .filter(([, b]) => {
      const key = b.toString('latin1');
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .map(([form, bytes]) => ({ what, form, bytes }));
}

/** Every form of a secret typed as text: its UTF-8 bytes and its UTF-16LE and UTF-16BE bytes. */
export function secretNeedles(secret: string, what = 'secret'): Needle[] {
  return [
    ...formsOf(what, Buffer.from(secret, 'utf8')),
    ...formsOf(`${what} (UTF-16LE)`, Buffer.from(secret, 'utf16le')),
    ...formsOf(`${what} (UTF-16BE)`, utf16be(secret)),
  ];
}

/** Every needle found in `haystack`. */
export function scanBytes(where: string, haystack: Buffer, needles: readonly Needle[]): Finding[] {
  const found: Finding[] = [];
  for (const n of needles) {
    const offset = haystack.indexOf(n.bytes);
    if (offset >= 0) found.push({ where, what: n.what, form: n.form, offset });
  }
  return found;
}

/** Every regular file below `dir`. */
export function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) return filesBelow(p);
    return st.isFile() ? [p] : [];
  });
}

/** Scans every file below each directory; returns the findings and how many files were read. */
export function scanFiles(
  dirs: readonly string[],
  needles: readonly Needle[],
  skip: (file: string) => boolean = () => false,
): { findings: Finding[]; files: number } {
  let files = 0;
  const findings = dirs.flatMap((dir) =>
    filesBelow(dir)
      .filter((f) => !skip(f))
      .flatMap((f) => {
        files += 1;
        return scanBytes(f, readFileSync(f), needles);
      }),
  );
  return { findings, files };
}

/** A short report of findings for an assertion message. */
export function describeFindings(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.what} as ${f.form} in ${f.where} at ${f.offset}`).join('\n');
}
