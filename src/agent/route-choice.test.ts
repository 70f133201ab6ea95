import { describe, expect, it } from 'vitest';
import { decideRoute } from './route-choice.ts';
import type { ProbeState } from './route-choice.ts';

describe('decideRoute', () => {
  it.each<[ProbeState, ProbeState, boolean, string, string?]>([
    ['ok', 'pending', false, 'take', 'direct'],
    ['ok', 'ok', false, 'take', 'direct'],
    ['ok', 'failed', false, 'take', 'direct'],
    ['ok', 'absent', false, 'take', 'direct'],
    ['pending', 'ok', false, 'start-grace'],
    ['pending', 'ok', true, 'take', 'relay'],
    ['failed', 'ok', false, 'take', 'relay'],
    ['absent', 'ok', false, 'take', 'relay'],
    ['pending', 'pending', false, 'wait'],
    ['failed', 'pending', false, 'wait'],
    ['pending', 'failed', false, 'wait'],
    ['failed', 'failed', false, 'none'],
    ['absent', 'failed', false, 'none'],
    ['failed', 'absent', true, 'none'],
  ])('direct %s, relay %s, grace over %s -> %s %s', (direct, relay, grace, kind, route) => {
    const d = decideRoute(direct, relay, grace);
    expect(d.kind).toBe(kind);
    if (route) expect(d).toMatchObject({ route });
  });
});
