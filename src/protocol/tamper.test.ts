import { describe, expect, it } from 'vitest';
import { makeSecrets, runExchange } from '../../test/support/exchange.ts';
import type { Tamper } from '../../test/support/exchange.ts';
import { createServerIdentity } from './index.ts';

type Wire = Record<string, unknown>;
type Stage = keyof Tamper;

/** Flips the bits of one byte of a base64url field, keeping it well-formed. */
function flipByte(obj: Wire, key: string, pos: number): void {
  const bytes = Buffer.from(obj[key] as string, 'base64url');
  const i = pos % bytes.length;
  bytes[i] = (bytes[i] as number) ^ 0x5a;
  obj[key] = bytes.toString('base64url');
}

/** Byte positions to try in a field of `len` bytes: all of a short one, a spread of a long one. */
function positions(len: number): number[] {
  if (len <= 64) return Array.from({ length: len }, (_, i) => i);
  return Array.from({ length: 40 }, (_, i) => Math.floor((i * (len - 1)) / 39));
}

interface Case {
  stage: Stage;
  field: string;
  pos: number | string;
  apply: (m: Wire) => void;
}

function binaryCases(
  stage: Stage,
  sample: Wire,
  fields: string[],
  at: (m: Wire) => Wire = (m) => m,
  label = '',
): Case[] {
  return fields.flatMap((field) => {
    const len = Buffer.from(at(sample)[field] as string, 'base64url').length;
    return positions(len).map((pos) => ({
      stage,
      field: label + field,
      pos,
      apply: (m: Wire) => flipByte(at(m), field, pos),
    }));
  });
}

describe('a message altered in transit', async () => {
  const identity = createServerIdentity();
  const secrets = await makeSecrets(identity, [
    'First-Secret-1',
    'Second-Secret-2',
    'Third-Secret-3',
  ]);
  const held = secrets[1]!;
  const base = {
    identity,
    secrets,
    secretRequired: true,
    clientPrs: held.prs,
    trust: { allowTofu: false },
  };
  const clean = runExchange(base);
  if (!clean.ok) throw new Error('the untouched exchange must succeed');
  const { m1, m2, m3, m4 } = clean.m as unknown as Record<Stage, Wire>;
  const shareAt = (i: number) => (m: Wire) => (m.shares as Wire[])[i] as Wire;

  const cases: Case[] = [
    ...binaryCases('m1', m1, ['serverId', 'sid', 'cEph', 'Ya']),
    ...binaryCases('m2', m2, ['hsId', 'serverKey', 'sEph', 'sig']),
    ...[0, 1, 2].flatMap((i) => binaryCases('m2', m2, ['Yb', 'tagB'], shareAt(i), `shares[${i}].`)),
    ...binaryCases('m3', m3, ['hsId', 'tagA', 'iv', 'ct']),
    ...binaryCases('m4', m4, ['iv', 'ct']),
    {
      stage: 'm2',
      field: 'seenAs',
      pos: 'value',
      apply: (m) => void (m.seenAs = m.seenAs === 'intranet' ? 'internet' : 'intranet'),
    },
    {
      stage: 'm2',
      field: 'shares',
      pos: 'order',
      apply: (m) => void (m.shares as Wire[]).reverse(),
    },
    { stage: 'm2', field: 'shares', pos: 'dropped', apply: (m) => void (m.shares as Wire[]).pop() },
    {
      stage: 'm3',
      field: 'share',
      pos: 'value',
      apply: (m) => void (m.share = ((m.share as number) + 1) % 3),
    },
    { stage: 'm3', field: 'share', pos: 'removed', apply: (m) => void delete m.share },
  ];

  const receiver: Record<Stage, string[]> = {
    m1: ['server-m1', 'client-m2'],
    m2: ['client-m2'],
    m3: ['server-m3'],
    m4: ['client-m4'],
  };

  it('covers every field of M1, M2, M3 and M4', () => {
    expect(cases.length).toBeGreaterThan(500);
  });

  it.each(cases)('$stage $field at $pos makes the exchange fail', ({ stage, apply }) => {
    const out = runExchange({ ...base, tamper: { [stage]: apply } });
    expect(out.ok).toBe(false);
    if (!out.ok) expect(receiver[stage]).toContain(out.failedAt);
  });
});
