import { describe, expect, it } from 'vitest';
import { RelayQueues } from './queue.ts';
import type { RelayItem, ReplyPayload } from './queue.ts';

const item = (id: string): RelayItem => ({ id, kind: 'hello', body: '', source: '127.0.0.1' });
const limits = { maxItems: 100, maxBytes: 1 << 20, maxPerServer: 3 };

describe('the relay queues', () => {
  it('holds at most maxPerServer for one server while another still gets room', () => {
    const q = new RelayQueues(limits, () => 0);
    const done: (ReplyPayload | null)[] = [];
    for (let i = 0; i < 3; i++)
      expect(q.submit('A', item(`a${i}`), (r) => done.push(r))).toBe(true);
    expect(q.submit('A', item('a3'), () => undefined)).toBe(false);
    expect(q.submit('B', item('b0'), () => undefined)).toBe(true);
    // A reply frees A's room again.
    q.poll('A', 10, () => undefined);
    expect(q.reply('A', 'a0', { status: 200, body: '{}' })).toBe(true);
    expect(q.submit('A', item('a4'), () => undefined)).toBe(true);
  });

  it('tells active (a poll waits or ended lately) from queued', () => {
    let now = 0;
    const q = new RelayQueues(limits, () => now);
    expect(q.isActive('A', 1000)).toBe(false);
    const withdraw = q.poll('A', 10, () => undefined);
    expect(q.hasPoller('A')).toBe(true);
    expect(q.tunnels).toBe(1);
    withdraw();
    now = 500;
    expect(q.hasPoller('A')).toBe(false);
    expect(q.isActive('A', 1000)).toBe(true);
    q.submit('A', item('x'), () => undefined);
    expect(q.isQueued('A', 'x')).toBe(true);
    now = 2000;
    expect(q.isActive('A', 1000)).toBe(false);
  });

  it('evicts a removed server: its polls end empty and its requests fail now', () => {
    const q = new RelayQueues(limits, () => 0);
    const polled: unknown[][] = [];
    q.poll('A', 10, (items) => polled.push(items));
    const answers: (ReplyPayload | null)[] = [];
    q.submit('A', item('a0'), (r) => answers.push(r)); // handed to the waiting poll
    q.poll('A', 10, (items) => polled.push(items)); // a second poll waits
    q.submit('B', item('b0'), () => undefined);
    const gone = { status: 404, body: '{"error":{"code":"unknown_server"}}' };
    expect(q.evict((id) => id !== 'A', gone)).toEqual(['A']);
    expect(polled).toEqual([[item('a0')], []]);
    expect(answers).toEqual([gone]);
    expect(q.held.items).toBe(1);
  });
});
