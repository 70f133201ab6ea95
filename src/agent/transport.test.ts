/**
 * The transport's connections: one is reused from one request to the next,
 * and a request that hangs does not hold up another to the same origin (a
 * relay behind the same gateway as the server).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransport } from './transport.ts';

let origin = '';
let connections = 0;
const server = createServer((req, res) => {
  if (req.url === '/hang') return; // never answers
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"ok":true}');
});
server.on('connection', () => connections++);
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const never = new AbortController().signal;

describe('the transport', () => {
  it('sends requests that follow one another on one connection, even in the turn the reply was read', async () => {
    const t = createTransport({ connectTimeoutMs: 5000 });
    const before = connections;
    for (let i = 0; i < 4; i++) {
      const r = await t.send('POST', `${origin}/ok`, { i }, { signal: never, timeoutMs: 5000 });
      expect(r.status).toBe(200);
    }
    expect(connections - before).toBe(1);
    await t.close();
  });

  it('answers a request to an origin where another request hangs', async () => {
    const t = createTransport({ connectTimeoutMs: 5000 });
    const hung = t.send('GET', `${origin}/hang`, undefined, { signal: never, timeoutMs: 3000 });
    hung.catch(() => undefined);
    const r = await t.send('GET', `${origin}/ok`, undefined, { signal: never, timeoutMs: 2000 });
    expect(r.status).toBe(200);
    await expect(hung).rejects.toMatchObject({ kind: 'timeout' });
    await t.close();
  });
});
