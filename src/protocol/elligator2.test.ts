import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bytesToBigIntLE, elligator2U, inv0, isSquare } from './elligator2.ts';

const P = (1n << 255n) - 19n;
const randomField = (): bigint => bytesToBigIntLE(randomBytes(32)) % P;

describe('field arithmetic behind Elligator 2', () => {
  it('inverts: a * inv0(a) = 1, and inv0(0) = 0', () => {
    for (let i = 0; i < 200; i++) {
      const a = randomField() || 1n;
      expect((a * inv0(a)) % P).toBe(1n);
    }
    expect(inv0(0n)).toBe(0n);
    expect((5n * inv0(5n + P)) % P).toBe(1n);
  });

  it('tells squares from non-squares (2 is not a square modulo 2^255 - 19)', () => {
    for (let i = 0; i < 200; i++) {
      const x = randomField() || 1n;
      expect(isSquare((x * x) % P)).toBe(true);
      expect(isSquare((2n * x * x) % P)).toBe(false);
    }
    expect(isSquare(0n)).toBe(true);
  });

  it('maps onto the curve: the result u has u^3 + A u^2 + u a square', () => {
    for (let i = 0; i < 100; i++) {
      const u = elligator2U(randomField());
      expect(isSquare((((u * u) % P) * u + 486662n * ((u * u) % P) + u) % P)).toBe(true);
    }
  });
});
