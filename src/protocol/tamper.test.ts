import { describe, expect, it } from 'vitest';
import { makeSecrets, runExchange } from '../../test/support/exchange.ts';
import type { Tamper } from '../../test/support/exchange.ts';
import { createServerIdentity, parseM1, parseM2, parseM3, parseM4 } from './index.ts';

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

/**
 * The fields each parser accepts (messages.ts: the lists given to
 * expectShape), required and optional. A test below checks these lists
 * against the parsers themselves, so they cannot drift.
 */
const SCHEMA: Record<Stage, { required: string[]; optional: string[] }> = {
  m1: { required: ['v', 'serverId', 'sid', 'cEph'], optional: ['Ya'] },
  m2: {
    required: ['v', 'hsId', 'serverKey', 'sEph', 'seenAs', 'secretRequired', 'shares', 'sig'],
    optional: [],
  },
  m3: { required: ['v', 'hsId', 'tagA', 'iv', 'ct'], optional: ['share'] },
  m4: { required: ['v', 'iv', 'ct'], optional: [] },
};
const SHARE_FIELDS = ['Yb', 'tagB'];
const PARSERS: Record<Stage, (v: unknown) => unknown> = {
  m1: parseM1,
  m2: parseM2,
  m3: parseM3,
  m4: parseM4,
};

const isB64u = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]+$/.test(v);

/** Cases for one field, chosen by the type of its value: every field gets removal plus a change. */
function casesFor(
  stage: Stage,
  path: string,
  value: unknown,
  at: (m: Wire) => Wire,
  key: string,
): Case[] {
  const cases: Case[] = [
    { stage, field: path, pos: 'removed', apply: (m) => void delete at(m)[key] },
  ];
  // Changes are made to the value in transit (each exchange is fresh: new keys, new share order).
  const change = (pos: string, to: (current: unknown) => unknown): Case => ({
    stage,
    field: path,
    pos,
    apply: (m) => void (at(m)[key] = to(at(m)[key])),
  });
  if (key === 'v') {
    cases.push(
      change('version 2', () => 2),
      change('version 0', () => 0),
      change('as a string', () => '1'),
    );
  } else if (typeof value === 'boolean') {
    cases.push(change('negated', (b) => !b));
  } else if (typeof value === 'number') {
    cases.push(
      change('plus one', (n) => (n as number) + 1),
      change('minus one', (n) => (n as number) - 1),
    );
  } else if (key === 'seenAs') {
    cases.push(change('the other value', (x) => (x === 'intranet' ? 'internet' : 'intranet')));
  } else if (isB64u(value)) {
    const len = Buffer.from(value, 'base64url').length;
    cases.push(
      ...positions(len).map((pos) => ({
        stage,
        field: path,
        pos,
        apply: (m: Wire) => flipByte(at(m), key, pos),
      })),
    );
  } else if (Array.isArray(value)) {
    const list = (m: Wire): unknown[] => at(m)[key] as unknown[];
    cases.push(
      { stage, field: path, pos: 'order', apply: (m) => void list(m).reverse() },
      { stage, field: path, pos: 'dropped', apply: (m) => void list(m).pop() },
      { stage, field: path, pos: 'duplicated', apply: (m) => void list(m).push(list(m)[0]) },
    );
  } else {
    throw new Error(`no tamper rule for ${stage} ${path}`);
  }
  return cases;
}

/** Every field of a message as it travelled, walked from the message itself, shares included. */
function generateCases(stage: Stage, message: Wire): Case[] {
  return Object.entries(message).flatMap(([key, value]) => {
    const own = casesFor(stage, key, value, (m) => m, key);
    if (key !== 'shares') return own;
    return [
      ...own,
      ...(value as Wire[]).flatMap((share, i) =>
        Object.entries(share).flatMap(([k, v]) =>
          casesFor(stage, `shares[${i}].${k}`, v, (m) => (m.shares as Wire[])[i] as Wire, k),
        ),
      ),
    ];
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
  const messages = clean.m as unknown as Record<Stage, Wire>;
  const stages: Stage[] = ['m1', 'm2', 'm3', 'm4'];
  const cases: Case[] = stages.flatMap((stage) => generateCases(stage, messages[stage]));

  const receiver: Record<Stage, string[]> = {
    m1: ['server-m1', 'client-m2'],
    m2: ['client-m2'],
    m3: ['server-m3'],
    m4: ['client-m4'],
  };

  it.each(stages)('the field list of %s is what its parser accepts and requires', (stage) => {
    const { required, optional } = SCHEMA[stage];
    const parse = PARSERS[stage];
    // The exchange used every field, optional ones included (the client held a secret).
    expect(Object.keys(messages[stage]).sort()).toEqual([...required, ...optional].sort());
    expect(() => parse({ ...messages[stage] })).not.toThrow();
    for (const key of required) {
      const without = { ...messages[stage] };
      delete without[key];
      expect(() => parse(without), `${stage} without ${key}`).toThrow(new RegExp(`lacks ${key}`));
    }
    for (const key of optional) {
      const without = { ...messages[stage] };
      delete without[key];
      expect(() => parse(without), `${stage} without optional ${key}`).not.toThrow();
    }
    expect(() => parse({ ...messages[stage], extra: 1 })).toThrow(/unexpected field/);
    if (stage === 'm2')
      for (const share of messages.m2.shares as Wire[])
        expect(Object.keys(share).sort()).toEqual([...SHARE_FIELDS].sort());
  });

  it('covers every field of M1, M2, M3 and M4, every share and every v', () => {
    const covered = new Set(cases.map((c) => `${c.stage}.${c.field.replace(/\[\d+\]/, '[]')}`));
    const expected = stages.flatMap((stage) => [
      ...[...SCHEMA[stage].required, ...SCHEMA[stage].optional].map((f) => `${stage}.${f}`),
      ...(stage === 'm2' ? SHARE_FIELDS.map((f) => `m2.shares[].${f}`) : []),
    ]);
    expect([...covered].sort()).toEqual(expected.sort());
    // Each of the three shares is altered, and each message's v is, in four ways.
    for (const i of [0, 1, 2])
      expect(cases.some((c) => c.field === `shares[${i}].tagB`)).toBe(true);
    for (const stage of stages)
      expect(cases.filter((c) => c.stage === stage && c.field === 'v')).toHaveLength(4);
    expect(cases.filter((c) => c.stage === 'm2' && c.field === 'secretRequired')).toHaveLength(2);
  });

  it.each(cases)('$stage $field at $pos makes the exchange fail', ({ stage, apply }) => {
    const out = runExchange({ ...base, tamper: { [stage]: apply } });
    expect(out.ok).toBe(false);
    if (!out.ok) expect(receiver[stage]).toContain(out.failedAt);
  });
});
