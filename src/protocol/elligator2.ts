/**
 * Elligator 2 map to Curve25519 (RFC 9380 section 6.7.1, Montgomery form
 * with A = 486662, B = 1, Z = 2), returning the u-coordinate only, which is
 * all X25519 needs.
 */

const P = (1n << 255n) - 19n;
const A = 486662n;
const Z = 2n;

const MASK_255 = (1n << 255n) - 1n;

function mod(a: bigint): bigint {
  const r = a % P;
  return r < 0n ? r + P : r;
}

/**
 * Reduces a product of two field elements using 2^255 = 19 (mod p): two
 * shift-and-add folds and a final subtraction, much cheaper than BigInt `%`.
 */
function reduce(x: bigint): bigint {
  let r = (x & MASK_255) + 19n * (x >> 255n);
  r = (r & MASK_255) + 19n * (r >> 255n);
  return r >= P ? r - P : r;
}

/** x^(2^k): k squarings. */
function pow2k(x: bigint, k: number): bigint {
  let r = x;
  for (let i = 0; i < k; i++) r = reduce(r * r);
  return r;
}

/**
 * The shared prefix of both exponentiations below: z^(2^250 - 1), plus z^2
 * and z^11, by the addition chain of ref10's fe_invert (254 squarings and
 * 11 multiplications instead of about 500 operations for square-and-multiply).
 */
function chain250(z: bigint): { z2: bigint; z11: bigint; t250: bigint } {
  const z2 = reduce(z * z);
  const z9 = reduce(pow2k(z2, 2) * z);
  const z11 = reduce(z9 * z2);
  const t5 = reduce(reduce(z11 * z11) * z9);
  const t10 = reduce(pow2k(t5, 5) * t5);
  const t20 = reduce(pow2k(t10, 10) * t10);
  const t40 = reduce(pow2k(t20, 20) * t20);
  const t50 = reduce(pow2k(t40, 10) * t10);
  const t100 = reduce(pow2k(t50, 50) * t50);
  const t200 = reduce(pow2k(t100, 100) * t100);
  const t250 = reduce(pow2k(t200, 50) * t50);
  return { z2, z11, t250 };
}

/** Modular inverse with inv0(0) = 0: z^(p-2) = z^(2^255 - 21). */
export function inv0(a: bigint): bigint {
  const z = mod(a);
  if (z === 0n) return 0n;
  const { z11, t250 } = chain250(z);
  return reduce(pow2k(t250, 5) * z11);
}

/** True when `a` is a square in GF(p): Euler's criterion a^((p-1)/2) = a^(2^254 - 10). */
export function isSquare(a: bigint): boolean {
  const z = mod(a);
  if (z === 0n) return true;
  const { z2, t250 } = chain250(z);
  const z4 = reduce(z2 * z2);
  const legendre = reduce(reduce(pow2k(t250, 4) * z4) * z2);
  return legendre === 1n;
}

/** Little-endian bytes to an integer. */
export function bytesToBigIntLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
}

/** An integer below 2^256 to 32 little-endian bytes. */
export function bigIntToBytesLE(n: bigint): Buffer {
  const out = Buffer.alloc(32);
  let v = n;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * RFC 7748 decodeUCoordinate for 255 bits: mask the top bit, read
 * little-endian, reduce modulo p.
 */
export function decodeUCoordinate(bytes: Uint8Array): bigint {
  const copy = Buffer.from(bytes.subarray(0, 32));
  copy[31] = (copy[31] as number) & 0x7f;
  return mod(bytesToBigIntLE(copy));
}

/** map_to_curve_elligator2 for curve25519, u-coordinate of the result. */
export function elligator2U(r: bigint): bigint {
  let t1 = mod(Z * r * r);
  if (t1 === P - 1n) t1 = 0n; // the exceptional case: 1 + Z*u^2 == 0
  const x1 = mod(-A * inv0(t1 + 1n));
  const gx1 = mod(((x1 + A) * x1 + 1n) * x1);
  if (isSquare(gx1)) return x1;
  return mod(-x1 - A);
}
