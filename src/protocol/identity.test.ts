import { describe, expect, it } from 'vitest';
import { createServerIdentity } from './identity.ts';

describe('createServerIdentity', () => {
  it('never makes an id that begins with "-" (it would read as an option on a command line)', () => {
    // Without the redraw, 2000 ids hold one beginning with "-" with probability 1 - (63/64)^2000.
    const ids = Array.from({ length: 2000 }, () => createServerIdentity().serverId);
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });
});
