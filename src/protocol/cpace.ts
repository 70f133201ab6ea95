/**
 * CPACE-X25519-SHA512 as draft-irtf-cfrg-cpace-21: generator derivation,
 * shares, the shared point and the intermediate session key.
 */
import { createHash } from 'node:crypto';
import { lvCat, prependLen } from './encoding.ts';
import { bigIntToBytesLE, decodeUCoordinate, elligator2U } from './elligator2.ts';
import { scalarMultVfy } from './x25519.ts';

export const CPACE_DSI = 'CPace255';
/** SHA-512 input block size in bytes (s_in_bytes). */
const HASH_BLOCK_BYTES = 128;
const FIELD_BYTES = 32;

function sha512(data: Uint8Array): Buffer {
  return createHash('sha512').update(data).digest();
}

/** generator_string(DSI, PRS, CI, sid, s_in_bytes) with zero padding. */
export function generatorString(
  dsi: Uint8Array | string,
  prs: Uint8Array,
  ci: Uint8Array,
  sid: Uint8Array,
): Buffer {
  const dsiBytes = typeof dsi === 'string' ? Buffer.from(dsi, 'utf8') : dsi;
  const zpad = Math.max(
    0,
    HASH_BLOCK_BYTES - 1 - prependLen(prs).length - prependLen(dsiBytes).length,
  );
  return lvCat(dsiBytes, prs, Buffer.alloc(zpad), ci, sid);
}

/** calculate_generator: hash the generator string and map it with Elligator 2. */
export function calculateGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Buffer {
  const hash = sha512(generatorString(CPACE_DSI, prs, ci, sid)).subarray(0, FIELD_BYTES);
  return bigIntToBytesLE(elligator2U(decodeUCoordinate(hash)));
}

/** transcript_ir(Ya, ADa, Yb, ADb) for the initiator-responder setting. */
export function transcriptIr(
  ya: Uint8Array,
  ada: Uint8Array | string,
  yb: Uint8Array,
  adb: Uint8Array | string,
): Buffer {
  return Buffer.concat([lvCat(ya, ada), lvCat(yb, adb)]);
}

/** ISK = H(lv_cat(DSI || "_ISK", sid, K) || transcript_ir(...)). */
export function intermediateSessionKey(
  sid: Uint8Array,
  k: Uint8Array,
  ya: Uint8Array,
  ada: Uint8Array | string,
  yb: Uint8Array,
  adb: Uint8Array | string,
): Buffer {
  return sha512(Buffer.concat([lvCat(`${CPACE_DSI}_ISK`, sid, k), transcriptIr(ya, ada, yb, adb)]));
}

/** A CPace share Y = X25519(y, G); null only for a degenerate generator. */
export function cpaceShare(scalar: Uint8Array, generator: Uint8Array): Buffer | null {
  return scalarMultVfy(scalar, generator);
}
