/**
 * Keys of the check API (`consent api-key create|list|revoke`). A key is 32
 * random bytes, shown once at creation; the store keeps only its SHA-256 (a
 * hash of a high-entropy key needs no salt or slow hash: it cannot be guessed).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { invalid } from './errors.js';

export interface ApiKey {
  id: number;
  name: string;
  createdAt: string;
  /** When it was revoked; null: in force. */
  revokedAt: string | null;
}

/** An active key as the server checks it: its id and the SHA-256 (hex) of the key. */
export interface ApiKeyHash {
  id: number;
  keyHash: string;
}

export const API_KEY_PREFIX = 'ck_';

/** A new key: `ck_` + 43 base64url characters (256 bits). */
export function newApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The active key `presented` is, or null: every hash compared in constant time (no early exit on the first match either). */
export function matchApiKey(presented: string, active: readonly ApiKeyHash[]): ApiKeyHash | null {
  const h = Buffer.from(hashApiKey(presented), 'hex');
  let found: ApiKeyHash | null = null;
  for (const k of active) {
    const other = Buffer.from(k.keyHash, 'hex');
    if (other.length === h.length && timingSafeEqual(other, h) && found === null) found = k;
  }
  return found;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export function checkApiKeyName(name: string): string {
  if (!NAME_RE.test(name)) throw invalid(`"${name.slice(0, 80)}" is not a valid API key name.`, 'Use 1 to 64 letters, digits, dots, hyphens or underscores, e.g. --name mailer-prod.');
  return name;
}

export interface ApiKeyRepository {
  /** Stores a key by its hash; a `conflict` error when an active key has this name. */
  create(name: string, keyHash: string, at: string): Promise<ApiKey>;
  /** Every key, revoked ones included, by id. */
  list(): Promise<ApiKey[]>;
  /** Revokes the active key of this id or name; `not-found` when none. */
  revoke(ref: { id: number } | { name: string }, at: string): Promise<ApiKey>;
  /** The active keys' hashes (the server caches them for at most 5 s). */
  active(): Promise<ApiKeyHash[]>;
}
