/**
 * Anchoring the chain outside the store (#15), on both stores: `ledger
 * digest` (signed or not), `ledger verify --digest`: a signed digest checked,
 * a forged or altered one refused, a wrong public key refused, and a digest
 * of a store whose chain was later rewritten (recomputed hashes and all)
 * refused, each with exit 6 naming the file.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalEvent, BlockHasher, GENESIS_HASH } from '../src/consent/ledger.js';
import { rawSql, tamper } from './helpers/raw-store.js';
import { BACKENDS, FIXED_NOW, runCli, runJson, tempDir, tempStore } from './helpers/run-cli.js';

async function ok(db: string, argv: string[]) {
  const r = await runCli(['--db', db, ...argv]);
  expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

const verify = (db: string, ...argv: string[]) => runCli(['--db', db, 'ledger', 'verify', ...argv]);
const errorOf = (stderr: string) => JSON.parse(stderr.trim().split('\n').at(-1)!).error as { exitCode: number; message: string };

/** Rewrites event 1's reason and recomputes every block's hash after it: what someone who can write the store can do. */
async function rewriteChain(db: string): Promise<void> {
  const blocks = await rawSql(db, 'SELECT id, first_event_id, last_event_id FROM ledger_blocks ORDER BY id');
  await tamper(db, "UPDATE ledger_events SET reason = 'rewritten' WHERE id = 1");
  const events = await rawSql(db, 'SELECT * FROM ledger_events ORDER BY id');
  let prev = GENESIS_HASH;
  for (const b of blocks) {
    const h = new BlockHasher(prev);
    for (const e of events.filter((e: any) => Number(e.id) >= Number(b.first_event_id) && Number(e.id) <= Number(b.last_event_id))) {
      h.add(
        canonicalEvent({
          id: Number(e.id), profileId: e.profile_id === null ? null : Number(e.profile_id), channel: e.channel, action: e.action, source: e.source,
          actor: e.actor, reason: e.reason, evidenceJson: e.evidence, occurredAt: e.occurred_at, service: e.service, addressKey: e.address_key,
        }),
      );
    }
    const hash = h.digest();
    await tamper(db, `UPDATE ledger_blocks SET prev_hash = '${prev}-x', hash = '${hash}' WHERE id = ${b.id}`);
    prev = hash;
  }
  // prev_hash is UNIQUE on PostgreSQL: set the right values once no two rows can collide.
  let p = GENESIS_HASH;
  for (const b of await rawSql(db, 'SELECT id, hash FROM ledger_blocks ORDER BY id')) {
    await tamper(db, `UPDATE ledger_blocks SET prev_hash = '${p}' WHERE id = ${b.id}`);
    p = b.hash;
  }
}

describe.each(BACKENDS)('ledger digests on %s', (backend) => {
  it('a signed digest is checked; an altered or forged one, a wrong public key, an unsigned one where a key is required are refused (exit 6 naming the file)', async () => {
    const db = await tempStore(backend);
    const dir = tempDir();
    await ok(db, ['profile', 'add', '--email', 'ann@x.io']);
    await ok(db, ['profile', 'optout', 'ann@x.io', '--channel', 'sms', '--reason', 'asked']);
    expect((await runCli(['--db', db, 'ledger', 'keygen', '--out', dir])).code).toBe(0);
    const key = join(dir, 'ledger-digest-key.pem');
    const pub = join(dir, 'ledger-digest-key.pub.pem');
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect((await runCli(['--db', db, 'ledger', 'keygen', '--out', dir])).code).toBe(4); // never overwritten

    // The digest: SQL Server's fields, ours named in camelCase, the head block of the chain.
    const d1 = join(dir, 'd1.json');
    const w = await ok(db, ['ledger', 'digest', '--sign-key', key, '--out', d1]);
    expect(w.stdout).toBe('');
    expect(w.stderr).not.toContain('PRIVATE');
    const digest = JSON.parse(readFileSync(d1, 'utf8'));
    const [block] = await rawSql(db, 'SELECT id, hash, created_at FROM ledger_blocks ORDER BY id DESC LIMIT 1');
    expect(digest).toEqual({
      format: 'consent-ledger-digest/1',
      database: backend === 'sqlite' ? db : expect.stringContaining('postgres'),
      blockId: 1,
      hash: block.hash,
      events: 1,
      lastCommitTime: block.created_at,
      at: FIXED_NOW.toISOString(),
      signature: { algorithm: 'ed25519', publicKeyFingerprint: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), value: expect.any(String) },
    });
    // Unsigned, on stdout.
    const unsigned = await runJson(db, ['ledger', 'digest', '--json']);
    expect(unsigned).toEqual({ ...digest, signature: undefined });

    // More changes: the old digest is a prefix of the chain and still holds.
    await ok(db, ['profile', 'optout', 'ann@x.io', '--channel', 'email']);
    const d2 = join(dir, 'd2.json');
    writeFileSync(d2, JSON.stringify(unsigned));
    const checked = await runJson(db, ['ledger', 'verify', '--digest', d1, '--public-key', pub, '--json']);
    expect(checked).toMatchObject({ ok: true, events: 2, digests: [{ file: d1, blockId: 1, events: 1, signature: 'valid' }] });
    // Without the key: checked as a prefix, the signature said to be unchecked.
    const noKey = await verify(db, '--digest', d1, d2);
    expect(noKey.code).toBe(0);
    expect(noKey.stderr).toMatch(/d1\.json is signed, but no --public-key was given: the signature was not checked/);
    expect(noKey.stdout).toMatch(/d2\.json holds: .*; unsigned\./);

    // Altered after signing (another block, another hash made up), a forged signature, a wrong key, no signature where one is required.
    const altered = join(dir, 'altered.json');
    writeFileSync(altered, JSON.stringify({ ...digest, at: '2025-01-01T00:00:00.000Z' }));
    const forged = join(dir, 'forged.json');
    const other = generateKeyPairSync('ed25519');
    const { signDigest } = await import('../src/consent/digest.js');
    const byOther = signDigest({ ...digest, signature: undefined }, other.privateKey);
    writeFileSync(forged, JSON.stringify({ ...byOther, signature: { ...byOther.signature, publicKeyFingerprint: digest.signature.publicKeyFingerprint } }));
    const otherPub = join(dir, 'other.pub.pem');
    writeFileSync(otherPub, other.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    for (const [file, keyFile, message] of [
      [altered, pub, /altered.json does not hold: its signature does not match its content/],
      [forged, pub, /forged.json does not hold: its signature does not match its content/],
      [d1, otherPub, /d1.json does not hold: it was signed by another key/],
      [d2, pub, /d2.json does not hold: it is not signed, but a --public-key was given/],
    ] as const) {
      const r = await verify(db, '--digest', file, '--public-key', keyFile, '--json');
      expect(r.code, file).toBe(6);
      expect(r.stdout).toBe('');
      expect(errorOf(r.stderr).message).toMatch(message);
    }
    // A damaged digest (the hash cut short) is refused as such; a file that is no digest is a usage error; a private key as --public-key too.
    const damaged = join(dir, 'damaged.json');
    writeFileSync(damaged, JSON.stringify({ ...unsigned, hash: unsigned.hash.slice(1) }));
    expect((await verify(db, '--digest', damaged)).code).toBe(6);
    const notDigest = join(dir, 'x.json');
    writeFileSync(notDigest, '{"a":1}');
    expect((await verify(db, '--digest', notDigest)).code).toBe(2);
    const priv = await verify(db, '--digest', d1, '--public-key', key);
    expect(priv.code).toBe(2);
    expect(priv.stderr).not.toMatch(/BEGIN/);
    // A block beyond the chain (a store rolled back, or another store).
    const ahead = join(dir, 'ahead.json');
    writeFileSync(ahead, JSON.stringify({ ...unsigned, blockId: 99, events: 99 }));
    expect(errorOf((await verify(db, '--digest', ahead, '--json')).stderr)).toMatchObject({ exitCode: 6, message: expect.stringMatching(/ahead.json .*block 99 is not in the ledger/) });
  });

  it('an unsigned digest of a store whose chain is later rewritten (hashes recomputed, so the chain itself verifies) is refused', async () => {
    const db = await tempStore(backend);
    const dir = tempDir();
    await ok(db, ['profile', 'add', '--email', 'ann@x.io']);
    await ok(db, ['profile', 'optout', 'ann@x.io', '--channel', 'sms', '--reason', 'asked']);
    await ok(db, ['profile', 'optout', 'ann@x.io', '--channel', 'fax']);
    const d = join(dir, 'd.json');
    await ok(db, ['ledger', 'digest', '--out', d]);
    expect((await verify(db, '--digest', d)).code).toBe(0);

    await rewriteChain(db);
    // The rewrite is invisible to the chain check alone...
    expect(await runJson(db, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true });
    // ...but not to the digest kept elsewhere.
    const r = await verify(db, '--digest', d, '--json');
    expect(r.code).toBe(6);
    expect(errorOf(r.stderr).message).toMatch(/d.json does not hold: block 2 now has the hash [0-9a-f]{64}, not the digest's [0-9a-f]{64}: the chain was rewritten/);
  });

  it('audience verify and prove refuse (exit 6) a manifest whose ledger head is no longer in the chain: rewritten with recomputed hashes, or cut short', async () => {
    const db = await tempStore(backend);
    const dir = tempDir();
    for (const p of ['ann', 'bob']) await ok(db, ['profile', 'add', '--email', `${p}@x.io`]);
    await ok(db, ['profile', 'optout', 'bob@x.io', '--channel', 'email', '--reason', 'asked']);
    const manifest = join(dir, 'send.json');
    await ok(db, ['profile', 'export', '--reachable', 'email', '--out', join(dir, 'send.csv'), '--manifest', manifest]);
    expect((await runCli(['--db', db, 'audience', 'verify', manifest])).code).toBe(0);
    const m = JSON.parse(readFileSync(manifest, 'utf8'));

    await rewriteChain(db);
    expect(await runJson(db, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true }); // the chain alone looks fine
    for (const argv of [['audience', 'verify', manifest], ['audience', 'prove', manifest, 'ann@x.io']]) {
      const r = await runCli(['--db', db, ...argv]);
      expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(6);
      expect(r.stderr).toMatch(/not in this store's chain/);
      expect(r.stdout).toBe('');
    }
    // A head past the end of the chain (a store cut short, or another one).
    const beyond = join(dir, 'beyond.json');
    writeFileSync(beyond, JSON.stringify({ ...m, ledger: { ...m.ledger, blockId: m.ledger.blockId + 5, eventId: m.ledger.eventId + 5 } }));
    const r = await runCli(['--db', db, 'audience', 'verify', beyond]);
    expect(r.code, r.stderr).toBe(6);
  });

  it('an empty ledger has nothing to anchor (exit 3); a bad --sign-key is refused before anything is read', async () => {
    const db = await tempStore(backend);
    const dir = tempDir();
    await ok(db, ['store', 'init']);
    expect((await runCli(['--db', db, 'ledger', 'digest'])).code).toBe(3);
    const bad = join(dir, 'bad.pem');
    writeFileSync(bad, 'not a key');
    const r = await runCli(['--db', db, 'ledger', 'digest', '--sign-key', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad.pem is not a PEM private key/);
  });
});
