import { describe, expect, it } from 'vitest';
import { describeUrl, isConnectionError, sqlLiteral } from './store-pg-db.ts';

const withCode = (code: string, message = 'failed'): Error =>
  Object.assign(new Error(message), { code });

describe('isConnectionError', () => {
  it.each([
    ['refused', withCode('ECONNREFUSED'), true],
    ['reset', withCode('ECONNRESET'), true],
    ['unknown host', withCode('ENOTFOUND'), true],
    ['connection failure (class 08)', withCode('08006'), true],
    ['admin shutdown', withCode('57P01'), true],
    ['starting up', withCode('57P03'), true],
    ['too many connections', withCode('53300'), true],
    ['pool exhausted', new Error('timeout exceeded when trying to connect'), true],
    ['connection ended under a query', new Error('Connection terminated unexpectedly'), true],
    ['no answer within query_timeout', new Error('Query read timeout'), true],
    ['refused on every address', new AggregateError([withCode('ECONNREFUSED')], ''), true],
    ['unique violation', withCode('23505'), false],
    ['syntax error', withCode('42601'), false],
    ['statement timeout', withCode('57014'), false],
    ['wrong password', withCode('28P01'), false],
    ['not an error', 'ECONNREFUSED', false],
  ])('%s -> %s', (_, err, expected) => {
    expect(isConnectionError(err)).toBe(expected);
  });
});

describe('describeUrl', () => {
  it.each([
    ['postgres://u:p%40ss@db:5432/cb', 'postgres://u@db:5432/cb', 'p@ss'],
    [
      'postgresql://db/cb?password=sec&sslmode=require',
      'postgresql://db/cb?sslmode=require',
      'sec',
    ],
    ['postgres://db/cb', 'postgres://db/cb', ''],
  ])('%s', (url, location, password) => {
    expect(describeUrl(url)).toEqual({ location, password });
  });

  it('refuses what is not a postgres URL without repeating it', () => {
    for (const url of ['host=db password=hunter2', 'mysql://u:hunter2@db/x'])
      expect(() => describeUrl(url)).toThrow(
        expect.objectContaining({
          code: 'store_url_invalid',
          message: expect.not.stringContaining('hunter2') as unknown,
        }) as Error,
      );
  });
});

describe('sqlLiteral', () => {
  it.each([
    ["it's", "'it''s'"],
    ['back\\slash', " E'back\\\\slash'"],
    [1.5, '1.5'],
    [-3, '-3'],
    [true, 'TRUE'],
    [null, 'NULL'],
  ])('%s -> %s', (v, text) => {
    expect(sqlLiteral(v)).toBe(text);
  });

  it('refuses a number SQL cannot read back', () => {
    expect(() => sqlLiteral(Number.NaN)).toThrow();
    expect(() => sqlLiteral(Infinity)).toThrow();
  });
});
