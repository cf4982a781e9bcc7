/**
 * Ledger digests: the chain's head written down somewhere the store's writer
 * cannot reach (a write-once bucket, a mail to the DPO, a commit in another
 * repository). Whoever can write the store can recompute a whole chain; they
 * cannot change a digest kept elsewhere, and `ledger verify --digest` then
 * shows the rewrite.
 *
 * The shape follows SQL Server's ledger digest (sys.sp_generate_database_ledger_digest):
 *   database_name                → database (the store's location, password masked)
 *   block_id                     → blockId (ledger_blocks.id of the last block)
 *   hash                         → hash (that block's SHA-256, lower-case hex, no 0x)
 *   last_transaction_commit_time → lastCommitTime (the block's created_at)
 *   digest_time                  → at (when the digest was made)
 * plus `events`, the number of events the chain holds up to and including
 * that block (ids are 1…n without a gap in a chain that verifies, so it is the
 * block's last event id), and an optional ed25519 signature.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { invalid } from './errors.js';

export const DIGEST_FORMAT = 'consent-ledger-digest/1';

/** A block of the chain as a digest names it. */
export interface LedgerBlockInfo {
  blockId: number;
  hash: string;
  /** Events in the chain up to and including this block. */
  events: number;
  /** When the block was written (its transaction's time). */
  committedAt: string;
}

/**
 * The chain's blocks as digests need them; both stores implement it
 * (ConsentStore.digests). Reads only.
 */
export interface LedgerDigestRepository {
  /** The last block, or null when the ledger is empty. */
  head(): Promise<LedgerBlockInfo | null>;
  /** The block with this id, or null when there is none. */
  block(blockId: number): Promise<LedgerBlockInfo | null>;
}

export interface DigestSignature {
  algorithm: 'ed25519';
  /** `sha256:` + hex SHA-256 of the public key's DER (SubjectPublicKeyInfo). */
  publicKeyFingerprint: string;
  /** Base64 ed25519 signature of canonicalDigest(digest). */
  value: string;
}

export interface LedgerDigest {
  format: typeof DIGEST_FORMAT;
  database: string;
  blockId: number;
  hash: string;
  events: number;
  lastCommitTime: string;
  at: string;
  signature?: DigestSignature;
}

export function makeDigest(head: LedgerBlockInfo, database: string, at: string): LedgerDigest {
  return { format: DIGEST_FORMAT, database, blockId: head.blockId, hash: head.hash, events: head.events, lastCommitTime: head.committedAt, at };
}

/**
 * The exact bytes signed: an array in a fixed order (as canonicalEvent), so
 * that key order or whitespace in the file never changes what is checked.
 */
export function canonicalDigest(d: Omit<LedgerDigest, 'signature'>): string {
  return JSON.stringify([d.format, d.database, d.blockId, d.hash, d.events, d.lastCommitTime, d.at]);
}

export function keyFingerprint(publicKey: KeyObject): string {
  return 'sha256:' + createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** An ed25519 private key from PEM text; `shown` names the file in the error. */
export function readPrivateKey(pem: string, shown: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw invalid(`${shown} is not a PEM private key.`, 'Make one with `consent ledger keygen --out <dir>` or `openssl genpkey -algorithm ed25519 -out ledger-key.pem`.');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw invalid(`${shown} is a ${key.asymmetricKeyType ?? 'non-asymmetric'} key, not an ed25519 one.`, 'Digests are signed with ed25519: `openssl genpkey -algorithm ed25519`.');
  }
  return key;
}

/** An ed25519 public key from PEM text (a private key's PEM is refused: it must not travel to verifiers). */
export function readPublicKey(pem: string, shown: string): KeyObject {
  if (/PRIVATE KEY/.test(pem)) {
    throw invalid(`${shown} holds a private key: give the public key.`, 'Extract it with `openssl pkey -in ledger-key.pem -pubout -out ledger-key.pub.pem`.');
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw invalid(`${shown} is not a PEM public key.`, 'Give the public key of the key that signed the digests (`openssl pkey -in ledger-key.pem -pubout`).');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw invalid(`${shown} is a ${key.asymmetricKeyType} key, not an ed25519 one.`);
  return key;
}

export function signDigest(d: LedgerDigest, privateKey: KeyObject): LedgerDigest {
  const { signature: _, ...unsigned } = d;
  const value = sign(null, Buffer.from(canonicalDigest(unsigned), 'utf8'), privateKey).toString('base64');
  return { ...unsigned, signature: { algorithm: 'ed25519', publicKeyFingerprint: keyFingerprint(createPublicKey(privateKey)), value } };
}

/**
 * A digest file's text as a digest, or a sentence saying why it is none:
 * `damaged` when it says it is a digest (its format) but a field is not what
 * a digest holds (an altered digest, refused as such), else it is some other
 * file. Only the shape is checked here; whether it holds is checkDigestBlock's
 * and checkSignature's work.
 */
export function parseDigest(text: string): LedgerDigest | { problem: string; damaged: boolean } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { problem: 'it is not JSON', damaged: false };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { problem: 'it is not a JSON object', damaged: false };
  const o = v as Record<string, unknown>;
  if (o.format !== DIGEST_FORMAT) return { problem: `its format is not "${DIGEST_FORMAT}"`, damaged: false };
  const damaged = (problem: string) => ({ problem, damaged: true });
  const isInt = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  for (const k of ['blockId', 'events'] as const) if (!isInt(o[k])) return damaged(`its ${k} is not a whole number`);
  for (const k of ['database', 'hash', 'lastCommitTime', 'at'] as const) if (typeof o[k] !== 'string') return damaged(`its ${k} is not a string`);
  if (!/^[0-9a-f]{64}$/.test(o.hash as string)) return damaged('its hash is not 64 lower-case hex digits');
  if (o.signature !== undefined) {
    const s = o.signature as Record<string, unknown> | null;
    if (typeof s !== 'object' || s === null || s.algorithm !== 'ed25519' || typeof s.value !== 'string' || typeof s.publicKeyFingerprint !== 'string') {
      return damaged('its signature is not an ed25519 signature object { algorithm, publicKeyFingerprint, value }');
    }
  }
  return o as unknown as LedgerDigest;
}

export type SignatureCheck =
  /** Signed by the given key, and the digest is as signed. */
  | 'valid'
  /** Signed, but no public key was given to check it with. */
  | 'unchecked'
  /** Not signed (and no key was asked for). */
  | 'unsigned';

/**
 * The signature against `publicKey` (null: none given): a SignatureCheck, or
 * a problem sentence (signed by another key, altered since it was signed,
 * unsigned though a key was given).
 */
export function checkSignature(d: LedgerDigest, publicKey: KeyObject | null): SignatureCheck | { problem: string } {
  if (!d.signature) return publicKey ? { problem: 'it is not signed, but a --public-key was given: a signature was expected' } : 'unsigned';
  if (!publicKey) return 'unchecked';
  if (d.signature.publicKeyFingerprint !== keyFingerprint(publicKey)) {
    return { problem: `it was signed by another key (${d.signature.publicKeyFingerprint}), not by the --public-key given (${keyFingerprint(publicKey)})` };
  }
  const { signature, ...unsigned } = d;
  let ok = false;
  try {
    ok = verify(null, Buffer.from(canonicalDigest(unsigned), 'utf8'), publicKey, Buffer.from(signature.value, 'base64'));
  } catch {
    ok = false;
  }
  return ok ? 'valid' : { problem: 'its signature does not match its content (the digest was altered after it was signed, or the signature forged)' };
}

/**
 * Whether the digest names a block of this chain: the block must exist with
 * the digest's hash and event count (so the digest's chain is a prefix of
 * this one). Null when it holds, else why not.
 */
export function checkDigestBlock(d: LedgerDigest, block: LedgerBlockInfo | null, head: LedgerBlockInfo | null): string | null {
  if (!block) {
    return `its block ${d.blockId} is not in the ledger (the chain now ends at block ${head?.blockId ?? 0}): the store was rolled back, replaced, or is not the one the digest was made of`;
  }
  if (block.hash !== d.hash) return `block ${d.blockId} now has the hash ${block.hash}, not the digest's ${d.hash}: the chain was rewritten since the digest was made`;
  if (block.events !== d.events) return `the chain holds ${block.events} events up to block ${d.blockId}, not the digest's ${d.events}: the chain was rewritten since the digest was made`;
  return null;
}
