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

function powMod(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = reduce(result * b);
    b = reduce(b * b);
    e >>= 1n;
  }
  return result;
}

/** Modular inverse with inv0(0) = 0, by Fermat. */
function inv0(a: bigint): bigint {
  return a === 0n ? 0n : powMod(a, P - 2n);
}

/** True when `a` is a square in GF(p) (zero counts as a square). */
function isSquare(a: bigint): boolean {
  const legendre = powMod(a, (P - 1n) / 2n);
  return legendre === 0n || legendre === 1n;
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
