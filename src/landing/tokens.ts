import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { invalid } from '../consent/errors.js';
import { fixedLengthHmacSha256 } from './hmac-sha256.js';
import type { SigningKeyRecord } from './repository.js';

/**
 * Signed link tokens. Binary layout, then base64url (66 characters):
 *   [0]      format version (1)
 *   [1..4]   key id, uint32 big-endian
 *   [5..12]  profile id, uint64 big-endian
 *   [13..16] expiry, Unix seconds uint32 big-endian (0 = never)
 *   [17..48] HMAC-SHA256(key, "consent-link-v1\0" + slug + "\0" + bytes 0..16)
 * The slug is signed but not carried: a token for one page fails on another.
 * Nothing about the person but their id is in it (never the email).
 */
const FORMAT = 1;
const HEAD = 17;
const MAC = 32;
const BYTES = HEAD + MAC;
const TOKEN_CHARS = Math.ceil((BYTES * 4) / 3);
const BASE64URL_RE = /^[A-Za-z0-9_-]+$/;
const DOMAIN = 'consent-link-v1\0';

export const MIN_EXPIRY_DAYS = 30;

export interface SigningKey {
  id: number;
  secret: Buffer;
  retired: boolean;
}

/** The keys of a store, with the secret source resolved (CONSENT_SECRET overrides the stored ones). */
export class Keyring {
  private readonly byId = new Map<number, SigningKey>();
  constructor(readonly keys: readonly SigningKey[]) {
    for (const k of keys) this.byId.set(k.id, k);
  }
  /** The newest key that is not retired: the one that signs. */
  current(): SigningKey {
    let best: SigningKey | undefined;
    for (const k of this.keys) if (!k.retired && (!best || k.id > best.id)) best = k;
    if (!best) throw invalid('No signing key is active.', 'Run `consent keys rotate` to make one.');
    return best;
  }
  get(id: number): SigningKey | undefined {
    return this.byId.get(id);
  }
}

/**
 * With CONSENT_SECRET set, each key's secret is derived from it and the key
 * id (so rotation still works), and the secrets kept in the store are unused.
 */
export function keyringFrom(records: readonly SigningKeyRecord[], env: Record<string, string | undefined> = {}): Keyring {
  const master = env.CONSENT_SECRET;
  if (master !== undefined && master !== '' && master.length < 32) {
    throw invalid('CONSENT_SECRET is too short: use at least 32 characters (e.g. `openssl rand -base64 32`).');
  }
  return new Keyring(
    records.map((r) => ({
      id: r.id,
      retired: r.retiredAt !== null,
      secret: master ? createHmac('sha256', master).update(`consent-link-key:${r.id}`).digest() : r.secret,
    })),
  );
}

export interface TokenClaims {
  profileId: number;
  slug: string;
  /** Unix seconds; absent or 0 = never expires. */
  expiresAt?: number;
}

export function signToken(key: Pick<SigningKey, 'id' | 'secret'>, claims: TokenClaims): string {
  return tokenSigner(key, claims.slug)(claims.profileId, claims.expiresAt ?? 0);
}

/**
 * Signs many tokens for one page with one key: `(profileId, expiresAt = 0) => token`.
 * See tokenBytesSigner.
 */
export function tokenSigner(key: { readonly id: number; readonly secret: Uint8Array }, slug: string): (profileId: number, expiresAt?: number) => string {
  const signInto = tokenBytesSigner(key, slug);
  const token = Buffer.alloc(BYTES);
  return (profileId, exp = 0) => {
    signInto(profileId, exp, token, 0);
    return token.toString('base64url');
  };
}

/** A token's length in bytes (before base64url) and in characters (after). */
export const TOKEN_BYTES = BYTES;
export { TOKEN_CHARS };

/**
 * Signs many tokens for one page with one key, as bytes (before base64url):
 * `(profileId, expiresAt, out, offset)` writes the TOKEN_BYTES bytes at
 * `out[offset]`. The signed message (domain, slug, token head) sits in one
 * reused buffer and the key's HMAC pads are hashed once (hmac-sha256.ts):
 * about two SHA-256 compressions per token. tokenVerifier checks the same
 * bytes with node:crypto.
 */
export function tokenBytesSigner(
  key: { readonly id: number; readonly secret: Uint8Array },
  slug: string,
): (profileId: number, expiresAt: number, out: Uint8Array, offset: number) => void {
  const prefix = Buffer.from(`${DOMAIN}${slug}\0`, 'utf8');
  const mac = fixedLengthHmacSha256(key.secret, prefix.length + HEAD);
  const message = Buffer.from(mac.message.buffer, mac.message.byteOffset, mac.message.length);
  prefix.copy(message);
  const head = message.subarray(prefix.length);
  head[0] = FORMAT;
  head.writeUInt32BE(key.id, 1);
  return (profileId, exp, out, offset) => {
    if (!Number.isSafeInteger(profileId) || profileId < 1) throw invalid(`Cannot sign for profile id ${profileId}.`);
    if (!Number.isInteger(exp) || exp < 0 || exp > 0xffffffff) throw invalid(`Invalid expiry ${exp}.`);
    // The uint64 id as two uint32 halves (same bytes as writeBigUInt64BE, without a BigInt per token).
    head.writeUInt32BE(Math.floor(profileId / 0x100000000), 5);
    head.writeUInt32BE(profileId >>> 0, 9);
    head.writeUInt32BE(exp, 13);
    out.set(head, offset);
    mac.digestInto(out, offset + HEAD);
  };
}

export type TokenFailure = 'malformed' | 'unknown-key' | 'retired-key' | 'bad-signature' | 'expired';

export type TokenCheck =
  | { ok: true; profileId: number; keyId: number; expiresAt: number | null }
  | { ok: false; reason: TokenFailure };

/**
 * Checks a token for a page. Never throws: any odd input (not a string,
 * empty, wrong length, not base64url) is `malformed`. The MAC comparison is
 * constant-time. `nowSeconds` is Unix seconds.
 */
export function verifyToken(keyring: Keyring, token: unknown, slug: string, nowSeconds: number): TokenCheck {
  let bySlug = verifiers.get(keyring);
  if (!bySlug) verifiers.set(keyring, (bySlug = new Map()));
  let verify = bySlug.get(slug);
  if (!verify) {
    if (bySlug.size >= 1000) bySlug.clear();
    bySlug.set(slug, (verify = tokenVerifier(keyring, slug)));
  }
  return verify(token, nowSeconds);
}

/** verifyToken's verifiers, per keyring (gone with it) and slug. */
const verifiers = new WeakMap<Keyring, Map<string, ReturnType<typeof tokenVerifier>>>();

/** The last base64url character of a canonical token: 49 bytes leave its low 4 bits unused, so they must be 0. */
const CANONICAL_LAST = new Set(['A', 'Q', 'g', 'w']);

/**
 * verifyToken for many tokens of one page under one keyring (the server's
 * hot path): the signed message's prefix and the key objects are made once,
 * and each check is one HMAC over one reused buffer.
 */
export function tokenVerifier(keyring: Keyring, slug: string): (token: unknown, nowSeconds: number) => TokenCheck {
  const prefix = Buffer.from(`${DOMAIN}${slug}\0`, 'utf8');
  const message = Buffer.alloc(prefix.length + HEAD);
  prefix.copy(message);
  const buf = Buffer.alloc(BYTES);
  const keyObjects = new Map<number, KeyObject>();
  for (const k of keyring.keys) keyObjects.set(k.id, createSecretKey(k.secret));
  return (token, nowSeconds) => {
    try {
      if (typeof token !== 'string' || token.length !== TOKEN_CHARS || !BASE64URL_RE.test(token) || !CANONICAL_LAST.has(token[TOKEN_CHARS - 1]!)) {
        return { ok: false, reason: 'malformed' };
      }
      if (buf.write(token, 'base64url') !== BYTES || buf[0] !== FORMAT) return { ok: false, reason: 'malformed' };
      const keyId = buf.readUInt32BE(1);
      const key = keyring.get(keyId);
      if (!key) return { ok: false, reason: 'unknown-key' };
      buf.copy(message, prefix.length, 0, HEAD);
      const expected = createHmac('sha256', keyObjects.get(keyId)!).update(message).digest();
      if (!timingSafeEqual(buf.subarray(HEAD), expected)) return { ok: false, reason: 'bad-signature' };
      // Only after the signature holds do we say anything about the key's state or the expiry.
      if (key.retired) return { ok: false, reason: 'retired-key' };
      const exp = buf.readUInt32BE(13);
      if (exp !== 0 && nowSeconds >= exp) return { ok: false, reason: 'expired' };
      const profileId = Number(buf.readBigUInt64BE(5));
      if (!Number.isSafeInteger(profileId) || profileId < 1) return { ok: false, reason: 'malformed' };
      return { ok: true, profileId, keyId, expiresAt: exp === 0 ? null : exp };
    } catch {
      return { ok: false, reason: 'malformed' };
    }
  };
}

/**
 * `--expires-in`: `<n>d`, `<n>w` or `<n>y` (365 days); under 30 days is
 * refused, since a link in a mail must keep working long after it is sent.
 * Returns seconds.
 */
export function parseExpiresIn(raw: string): number {
  const m = /^(\d{1,6})\s*([dwy])$/.exec(raw.trim().toLowerCase());
  if (!m) throw invalid(`Invalid --expires-in "${raw}".`, 'Use days, weeks or years, e.g. 90d, 13w, 1y (at least 30d).');
  const days = Number(m[1]) * (m[2] === 'd' ? 1 : m[2] === 'w' ? 7 : 365);
  if (days < MIN_EXPIRY_DAYS) {
    throw invalid(`--expires-in ${raw} is under ${MIN_EXPIRY_DAYS} days.`, 'Links must keep working: use at least 30d, or leave it out (no expiry).');
  }
  return days * 86400;
}
