import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreUnavailable } from './store-api.ts';
import { PgDb } from './store-pg-db.ts';

/** A PostgreSQL message: a type byte, a length and a body. */
function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/**
 * What a PostgreSQL in fast shutdown can send a connection that has just
 * logged in: the log-in completes (AuthenticationOk, ReadyForQuery) and,
 * in the same packet, the session is ended (FATAL 57P01).
 */
function loginThenShutdown(): Buffer {
  const fields = [
    'SFATAL',
    'VFATAL',
    'C57P01',
    'Mterminating connection due to administrator command',
  ];
  const error = Buffer.concat([
    ...fields.map((f) => Buffer.from(`${f}\0`, 'utf8')),
    Buffer.from([0]),
  ]);
  return Buffer.concat([
    message('R', int32(0)),
    message('Z', Buffer.from('I', 'latin1')),
    message('E', error),
  ]);
}

let server: Server | undefined;
let db: PgDb | undefined;
afterEach(async () => {
  await db?.end().catch(() => undefined);
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  db = undefined;
});

async function shuttingDownPostgres(): Promise<string> {
  server = createServer((socket) => {
    // The start-up message arrives first; the answer goes out as one write.
    socket.once('data', () => socket.end(loginThenShutdown()));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return `postgres://tester@127.0.0.1:${port}/db`;
}

describe('the PostgreSQL pool', () => {
  it('survives a connection that PostgreSQL ends in the packet that logs it in', async () => {
    db = new PgDb(await shuttingDownPostgres(), { connectTimeoutMs: 2_000 });
    // The transaction path (a connection handed out, then used) and the one-statement path.
    for (let i = 0; i < 5; i++) {
      const tx = await db
        .transaction(async (c) => c.query('SELECT 1'))
        .then(
          () => new Error('it answered'),
          (e: unknown) => e,
        );
      expect(tx).toBeInstanceOf(StoreUnavailable);
      const one = await db.query('SELECT 1').then(
        () => new Error('it answered'),
        (e: unknown) => e,
      );
      expect(one).toBeInstanceOf(StoreUnavailable);
    }
  });
});
