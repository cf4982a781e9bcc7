/**
 * HMAC-SHA256 (RFC 2104, FIPS 180-4) of many messages of one fixed length
 * under one key, for signing a million link tokens.
 *
 * node:crypto's `createHmac` costs a native call and an OpenSSL context per
 * message, and hashes the key's padded blocks again each time: several
 * microseconds for a 40-byte message. Here the key's inner and outer padded
 * blocks are hashed once (their "midstates"), and the message is written in
 * place into a buffer that already holds its SHA-256 padding, so each MAC is
 * the message's block(s) plus one outer block: 2 compressions for a slug of
 * up to 26 characters. SHA-256 has no data-dependent branch or table lookup,
 * so this is as constant-time as the native one. The tests check it against
 * node:crypto, and tokens are verified with node:crypto (tokens.ts).
 */
import { createHash } from 'node:crypto';

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
const BLOCK = 64;
const W = new Int32Array(64);

/** One SHA-256 compression of the 64 bytes of `buf` at `off` into `st` (8 words). */
function compress(st: Int32Array, buf: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++, off += 4) W[i] = (buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!;
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!;
    const w2 = W[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = st[0]!, b = st[1]!, c = st[2]!, d = st[3]!, e = st[4]!, f = st[5]!, g = st[6]!, h = st[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  st[0] = (st[0]! + a) | 0;
  st[1] = (st[1]! + b) | 0;
  st[2] = (st[2]! + c) | 0;
  st[3] = (st[3]! + d) | 0;
  st[4] = (st[4]! + e) | 0;
  st[5] = (st[5]! + f) | 0;
  st[6] = (st[6]! + g) | 0;
  st[7] = (st[7]! + h) | 0;
}

/** `st` as 32 big-endian bytes at `out[off]`. */
function store(st: Int32Array, out: Uint8Array, off: number): void {
  for (let i = 0; i < 8; i++, off += 4) {
    const v = st[i]!;
    out[off] = v >>> 24;
    out[off + 1] = v >>> 16;
    out[off + 2] = v >>> 8;
    out[off + 3] = v;
  }
}

/** SHA-256 padding after a message ending at `messageEnd`: 0x80, then (`buf` being zeros) the 64-bit big-endian bit length of `totalLength` bytes. */
function padInto(buf: Uint8Array, messageEnd: number, totalLength: number): void {
  buf[messageEnd] = 0x80;
  const bits = totalLength * 8;
  const end = buf.length;
  buf[end - 5] = Math.floor(bits / 2 ** 32);
  buf[end - 4] = bits >>> 24;
  buf[end - 3] = bits >>> 16;
  buf[end - 2] = bits >>> 8;
  buf[end - 1] = bits;
}

export interface FixedLengthHmac {
  /** The message to sign, `length` bytes: write it in place before each `digestInto`. */
  readonly message: Uint8Array;
  /** HMAC-SHA256(key, message): 32 bytes written at `out[offset]`. */
  digestInto(out: Uint8Array, offset: number): void;
}

/** HMAC-SHA256 under `key` of messages of exactly `length` bytes, written into `message`. */
export function fixedLengthHmacSha256(key: Uint8Array, length: number): FixedLengthHmac {
  const k = new Uint8Array(BLOCK);
  k.set(key.length > BLOCK ? createHash('sha256').update(key).digest() : key);
  const pad = new Uint8Array(BLOCK);
  const inner0 = new Int32Array(IV);
  const outer0 = new Int32Array(IV);
  for (let i = 0; i < BLOCK; i++) pad[i] = k[i]! ^ 0x36;
  compress(inner0, pad, 0);
  for (let i = 0; i < BLOCK; i++) pad[i] = k[i]! ^ 0x5c;
  compress(outer0, pad, 0);
  k.fill(0);
  pad.fill(0);

  // The message, then 0x80, zeros and the 64-bit bit length of ipad block + message.
  const innerBlocks = Math.ceil((length + 9) / BLOCK);
  const inner = new Uint8Array(innerBlocks * BLOCK);
  padInto(inner, length, BLOCK + length);
  // The outer message: the inner hash (32 bytes), padded for opad block + 32 bytes.
  const outer = new Uint8Array(BLOCK);
  padInto(outer, 32, BLOCK + 32);
  const st = new Int32Array(8);
  return {
    message: inner.subarray(0, length),
    digestInto(out, offset) {
      st.set(inner0);
      for (let b = 0; b < innerBlocks; b++) compress(st, inner, b * BLOCK);
      store(st, outer, 0);
      st.set(outer0);
      compress(st, outer, 0);
      store(st, out, offset);
    },
  };
}
