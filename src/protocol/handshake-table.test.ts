import { describe, expect, it } from 'vitest';
import { HandshakeTable, isGuess } from './handshake-table.ts';
import type { PendingHandshake } from './pending.ts';

let next = 0;
function pending(expiresAt: number, withShares: boolean): PendingHandshake {
  next += 1;
  return {
    hsId: `hs${next}`,
    expiresAt,
    th: Buffer.alloc(64),
    seenAs: 'internet',
    secretRequired: withShares,
    candidates: withShares ? [{ secretId: 's1', keys: {} as never }] : [],
    openKeys: null,
  };
}

describe('the open-handshake table', () => {
  it('counts open handshakes and guesses per source', () => {
    const t = new HandshakeTable(10);
    t.add(pending(100, true), 0, 'a');
    t.add(pending(100, false), 0, 'a');
    t.add(pending(100, true), 0, 'b');
    expect(t.openFor('a')).toEqual({ open: 2, guesses: 1 });
    expect(t.openFor('b')).toEqual({ open: 1, guesses: 1 });
    expect(t.openFor('c')).toEqual({ open: 0, guesses: 0 });
  });

  it('hands back what expired, so an unfinished guess is never forgotten', () => {
    const t = new HandshakeTable(10);
    const old = pending(50, true);
    t.add(old, 0, 'a');
    t.add(pending(150, true), 0, 'a');
    const expired = t.prune(100);
    expect(expired.map((e) => [e.pending.hsId, e.source, isGuess(e.pending)])).toEqual([
      [old.hsId, 'a', true],
    ]);
    expect(t.openFor('a')).toEqual({ open: 1, guesses: 1 });
  });

  it('says whether a removed handshake had expired, and takes each once', () => {
    const t = new HandshakeTable(10);
    const p = pending(50, true);
    t.add(p, 0, 'a');
    const r = t.remove(p.hsId, 60);
    expect(r.found && r.expired).toBe(true);
    expect(t.remove(p.hsId, 60).found).toBe(false);
    expect(t.openFor('a').open).toBe(0);
  });

  it('gives the expired handshakes it prunes to make room to the caller', () => {
    const t = new HandshakeTable(1);
    t.add(pending(50, true), 0, 'a');
    const seen: string[] = [];
    expect(t.add(pending(200, false), 100, 'b', (e) => seen.push(e.source))).toBe(true);
    expect(seen).toEqual(['a']);
    expect(t.add(pending(300, false), 100, 'b')).toBe(false);
  });
});
