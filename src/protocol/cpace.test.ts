import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lvCat, prependLen } from './encoding.ts';
import {
  calculateGenerator,
  cpaceShare,
  generatorString,
  intermediateSessionKey,
  transcriptIr,
} from './cpace.ts';
import { scalarMultVfy } from './x25519.ts';

interface Vectors {
  lv_cat: { inputs_utf8: string[]; expected: string }[];
  prepend_len: { input_hex?: string; expected?: string; note?: string }[];
  transcript_ir: {
    ya_utf8: string;
    ada_utf8: string;
    yb_utf8: string;
    adb_utf8: string;
    expected: string;
  }[];
  exchange: Record<string, string>;
  scalar_mult_vfy: { s_hex: string; cases: { u_hex: string; q_hex: string | null }[] };
}

const vectors = JSON.parse(
  readFileSync(
    new URL('../../test/fixtures/cpace-x25519-sha512-draft21.json', import.meta.url),
    'utf8',
  ),
) as Vectors;
const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const ex = vectors.exchange;
const get = (k: string): string => {
  const v = ex[k];
  if (v === undefined) throw new Error(`vector field ${k} missing`);
  return v;
};

describe('CPace string utilities (draft-21 appendix A)', () => {
  it.each(vectors.lv_cat)('lv_cat($inputs_utf8) = $expected', ({ inputs_utf8, expected }) => {
    expect(lvCat(...inputs_utf8).toString('hex')).toBe(expected);
  });

  it.each(vectors.prepend_len.filter((v) => v.expected !== undefined))(
    'prepend_len($input_hex)',
    ({ input_hex, expected }) => {
      expect(prependLen(hex(input_hex ?? '')).toString('hex')).toBe(expected);
    },
  );

  it('uses a one-byte length up to 127 and two bytes from 128', () => {
    expect(prependLen(Buffer.alloc(127)).subarray(0, 1).toString('hex')).toBe('7f');
    expect(prependLen(Buffer.alloc(128)).subarray(0, 2).toString('hex')).toBe('8001');
  });

  it.each(vectors.transcript_ir)('transcript_ir $ya_utf8/$yb_utf8', (v) => {
    expect(
      transcriptIr(Buffer.from(v.ya_utf8), v.ada_utf8, Buffer.from(v.yb_utf8), v.adb_utf8).toString(
        'hex',
      ),
    ).toBe(v.expected);
  });
});

describe('CPACE-X25519-SHA512 exchange (draft-21 B.1)', () => {
  const prs = Buffer.from(get('prs_utf8'));
  const ci = hex(get('ci_hex'));
  const sid = hex(get('sid_hex'));

  it('builds the generator string', () => {
    expect(generatorString(get('dsi_utf8'), prs, ci, sid).toString('hex')).toBe(
      get('generator_string_hex'),
    );
  });

  it('maps it to the generator with Elligator 2', () => {
    expect(calculateGenerator(prs, ci, sid).toString('hex')).toBe(get('generator_hex'));
  });

  it('computes both shares, K, the transcript and the ISK', () => {
    const g = calculateGenerator(prs, ci, sid);
    const ya = cpaceShare(hex(get('ya_scalar_hex')), g);
    const yb = cpaceShare(hex(get('yb_scalar_hex')), g);
    expect(ya?.toString('hex')).toBe(get('Ya_hex'));
    expect(yb?.toString('hex')).toBe(get('Yb_hex'));
    const kA = scalarMultVfy(hex(get('ya_scalar_hex')), hex(get('Yb_hex')));
    const kB = scalarMultVfy(hex(get('yb_scalar_hex')), hex(get('Ya_hex')));
    expect(kA?.toString('hex')).toBe(get('K_hex'));
    expect(kB?.toString('hex')).toBe(get('K_hex'));
    expect(
      transcriptIr(
        hex(get('Ya_hex')),
        get('ada_utf8'),
        hex(get('Yb_hex')),
        get('adb_utf8'),
      ).toString('hex'),
    ).toBe(get('transcript_ir_hex'));
    expect(
      intermediateSessionKey(
        sid,
        hex(get('K_hex')),
        hex(get('Ya_hex')),
        get('ada_utf8'),
        hex(get('Yb_hex')),
        get('adb_utf8'),
      ).toString('hex'),
    ).toBe(get('isk_ir_hex'));
  });
});

describe('scalar_mult_vfy (draft-21 B.1.10)', () => {
  const s = hex(vectors.scalar_mult_vfy.s_hex);
  it('has all twelve published cases', () => {
    expect(vectors.scalar_mult_vfy.cases).toHaveLength(12);
  });
  it.each(vectors.scalar_mult_vfy.cases)('X25519(s, $u_hex) = $q_hex', ({ u_hex, q_hex }) => {
    const q = scalarMultVfy(s, hex(u_hex));
    expect(q === null ? null : q.toString('hex')).toBe(q_hex);
  });
});
