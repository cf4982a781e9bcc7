/** `ledger digest`, `ledger keygen`, and the digest half of `ledger verify --digest`. */
import { chmod } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  checkDigestBlock,
  checkSignature,
  keyFingerprint,
  makeDigest,
  parseDigest,
  readPrivateKey,
  readPublicKey,
  signDigest,
  type LedgerDigest,
  type SignatureCheck,
} from '../../../consent/digest.js';
import { ConsentError, conflict, invalid, notFound } from '../../../consent/errors.js';
import type { ConsentStore } from '../../../consent/store.js';
import type { CommandContext } from '../../context.js';
import { writeOutputFile } from '../../output-file.js';

/** The digest of the store's chain head now, signed when a key is given. */
export async function currentDigest(ctx: CommandContext, store: ConsentStore, signKey?: string): Promise<LedgerDigest> {
  // The key is read (and checked) before the store: a bad key never costs a read.
  const key = signKey === undefined ? null : readPrivateKey(await ctx.readInput(signKey), signKey);
  const head = await store.digests.head();
  if (!head) throw notFound('The ledger is empty: there is no block to anchor yet.', 'Record a change first; a digest names the last block of the chain.');
  const digest = makeDigest(head, store.location, ctx.nowIso());
  return key ? signDigest(digest, key) : digest;
}

export async function runDigest(ctx: CommandContext, o: { json?: boolean; signKey?: string; out?: string }): Promise<void> {
  const digest = await currentDigest(ctx, await ctx.store(), o.signKey);
  const text = JSON.stringify(digest, null, 2) + '\n';
  if (o.out) {
    await writeOutputFile(ctx, o.out, (f) => f.write(text));
    ctx.notice(`Wrote the digest of block ${digest.blockId} (${digest.events} events)${digest.signature ? ', signed' : ''} to ${o.out}: keep it outside the store.`);
    if (o.json) ctx.json(digest);
    return;
  }
  if (o.json) return ctx.json(digest);
  ctx.print(text);
}

export async function runKeygen(ctx: CommandContext, o: { out: string; json?: boolean }): Promise<void> {
  const { generateKeyPairSync } = await import('node:crypto');
  const { existsSync, statSync } = await import('node:fs');
  const dir = resolve(ctx.deps.cwd, o.out);
  if (!existsSync(dir)) throw notFound(`No folder ${o.out}.`, 'Create it first (a folder only you can read).');
  if (!statSync(dir).isDirectory()) throw invalid(`${o.out} is not a folder.`);
  const privatePath = join(o.out, 'ledger-digest-key.pem');
  const publicPath = join(o.out, 'ledger-digest-key.pub.pem');
  for (const p of [privatePath, publicPath]) {
    if (existsSync(resolve(ctx.deps.cwd, p))) throw conflict(`${p} already exists: a key is never overwritten.`, 'Choose another folder, or remove the old key yourself.');
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await writeOutputFile(ctx, publicPath, (f) => f.write(publicKey.export({ type: 'spki', format: 'pem' }) as string));
  await writeOutputFile(ctx, privatePath, async (f) => {
    await chmod(f.tempPath, 0o600); // before the secret is written: never readable by others, not even for a moment
    await f.write(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  });
  const result = { privateKey: privatePath, publicKey: publicPath, publicKeyFingerprint: keyFingerprint(publicKey) };
  if (o.json) return ctx.json(result);
  ctx.print(
    `Wrote ${privatePath} (private: sign with \`consent ledger digest --sign-key ${privatePath}\`, keep it off the store's machine if you can) and ${publicPath} (give it to whoever checks the digests). Fingerprint: ${result.publicKeyFingerprint}`,
  );
}

export interface DigestCheck {
  file: string;
  blockId: number;
  hash: string;
  events: number;
  at: string;
  signature: SignatureCheck;
}

/**
 * Every digest file against the store's chain (which the caller has just
 * verified): the first that fails is an integrity error naming the file.
 */
export async function checkDigests(ctx: CommandContext, store: ConsentStore, files: readonly string[], publicKeyFile?: string): Promise<DigestCheck[]> {
  const publicKey = publicKeyFile === undefined ? null : readPublicKey(await ctx.readInput(publicKeyFile), publicKeyFile);
  const parsed: { file: string; digest: LedgerDigest }[] = [];
  for (const file of files) {
    const digest = parseDigest(await ctx.readInput(file));
    if ('problem' in digest) {
      if (digest.damaged) throw refused(file, digest.problem, null);
      throw invalid(`${file} is not a ledger digest: ${digest.problem}.`, 'Give files written by `consent ledger digest`.');
    }
    parsed.push({ file, digest });
  }
  const head = await store.digests.head();
  const out: DigestCheck[] = [];
  for (const { file, digest } of parsed) {
    const signature = checkSignature(digest, publicKey);
    if (typeof signature !== 'string') throw refused(file, signature.problem, digest);
    const problem = checkDigestBlock(digest, await store.digests.block(digest.blockId), head);
    if (problem) throw refused(file, problem, digest);
    out.push({ file, blockId: digest.blockId, hash: digest.hash, events: digest.events, at: digest.at, signature });
  }
  return out;
}

function refused(file: string, problem: string, digest: LedgerDigest | null): ConsentError {
  return new ConsentError(
    'integrity',
    `The digest ${file} does not hold: ${problem}.`,
    'A digest kept outside the store is the reference: investigate who wrote to the store (or who altered the digest), and restore from a backup that matches it.',
    { details: { file, blockId: digest?.blockId ?? null, hash: digest?.hash ?? null, events: digest?.events ?? null, problem } },
  );
}
