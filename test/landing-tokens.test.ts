import { describe, expect, it } from 'vitest';
import { openStore } from '../src/store/index.js';
import { checkToken, loadKeyring } from '../src/landing/operations.js';
import { Keyring, parseExpiresIn, signToken, tokenVerifier, verifyToken } from '../src/landing/tokens.js';
import { BACKENDS, FIXED_NOW, runCli, runJson, tempDir, tempStore } from './helpers/run-cli.js';

const key = (id: number, fill: number, retired = false) => ({ id, secret: Buffer.alloc(32, fill), retired });
const NOW = 1_800_000_000;

describe('tokens (pure)', () => {
  const ring = new Keyring([key(1, 1), key(2, 2)]);
  const good = signToken(ring.current(), { profileId: 42, slug: 'news' });

  it('signs with the newest active key and verifies', () => {
    expect(ring.current().id).toBe(2);
    expect(good).toMatch(/^[A-Za-z0-9_-]{66}$/);
    expect(verifyToken(ring, good, 'news', NOW)).toEqual({ ok: true, profileId: 42, keyId: 2, expiresAt: null });
  });

  it('refuses a token for another page or another profile', () => {
    expect(verifyToken(ring, good, 'other', NOW)).toEqual({ ok: false, reason: 'bad-signature' });
    // Another profile: rewrite the profile id bytes of a valid token.
    const buf = Buffer.from(good, 'base64url');
    buf.writeBigUInt64BE(43n, 5);
    expect(verifyToken(ring, buf.toString('base64url'), 'news', NOW)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses tampered, truncated, empty, non-base64 and odd inputs without throwing', () => {
    const flip = good.slice(0, 40) + (good[40] === 'A' ? 'B' : 'A') + good.slice(41);
    expect(verifyToken(ring, flip, 'news', NOW).ok).toBe(false);
    for (const odd of [good.slice(0, -1), good.slice(0, 20), '', good + 'A', '!'.repeat(66), good.replace(/.$/, '='), `${good.slice(0, 65)}+`]) {
      expect(verifyToken(ring, odd, 'news', NOW)).toEqual({ ok: false, reason: 'malformed' });
    }
    for (const odd of [undefined, null, 42, {}, ['x'], Buffer.from('x')]) {
      expect(verifyToken(ring, odd, 'news', NOW)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('refuses a non-canonical spelling of a valid token (the same bytes, another last character)', () => {
    // 49 bytes leave 4 unused bits in the last base64url character: decoders ignore them, we do not.
    const last = good[65]!;
    const alias = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[
      'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(last) + 1
    ]!;
    const twin = good.slice(0, 65) + alias;
    expect(Buffer.from(twin, 'base64url').equals(Buffer.from(good, 'base64url'))).toBe(true);
    expect(verifyToken(ring, twin, 'news', NOW)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyToken(ring, good, 'news', NOW).ok).toBe(true);
  });

  it('a verifier made once checks many tokens, each on its own', () => {
    const verify = tokenVerifier(ring, 'news');
    const tokens = [1, 2, 3, 900_000_000_000].map((id) => signToken(ring.current(), { profileId: id, slug: 'news' }));
    const other = signToken(ring.current(), { profileId: 5, slug: 'other' });
    expect([...tokens, other, tokens[0]!].map((t) => verify(t, NOW))).toEqual([
      { ok: true, profileId: 1, keyId: 2, expiresAt: null },
      { ok: true, profileId: 2, keyId: 2, expiresAt: null },
      { ok: true, profileId: 3, keyId: 2, expiresAt: null },
      { ok: true, profileId: 900_000_000_000, keyId: 2, expiresAt: null },
      { ok: false, reason: 'bad-signature' },
      { ok: true, profileId: 1, keyId: 2, expiresAt: null },
    ]);
  });

  it('knows unknown and retired keys, and expiry', () => {
    expect(verifyToken(new Keyring([key(1, 1)]), good, 'news', NOW)).toEqual({ ok: false, reason: 'unknown-key' });
    expect(verifyToken(new Keyring([key(1, 1), key(2, 2, true)]), good, 'news', NOW)).toEqual({ ok: false, reason: 'retired-key' });
    const exp = signToken(ring.current(), { profileId: 7, slug: 'news', expiresAt: NOW + 10 });
    expect(verifyToken(ring, exp, 'news', NOW)).toEqual({ ok: true, profileId: 7, keyId: 2, expiresAt: NOW + 10 });
    expect(verifyToken(ring, exp, 'news', NOW + 10)).toEqual({ ok: false, reason: 'expired' });
  });

  it('--expires-in is at least 30 days', () => {
    expect(parseExpiresIn('30d')).toBe(30 * 86400);
    expect(parseExpiresIn('13w')).toBe(91 * 86400);
    expect(parseExpiresIn('1y')).toBe(365 * 86400);
    for (const bad of ['29d', '4w', '0y', '10', 'soon', '']) expect(() => parseExpiresIn(bad)).toThrow();
  });
});

describe.each(BACKENDS)('on %s', (backend) => {
async function setup() {
  const db = await tempStore(backend);
  const out = tempDir();
  await runJson(db, ['profile', 'add', '--email', 'ann@example.com', '--json']);
  await runJson(db, ['profile', 'add', '--email', 'bob@example.com', '--json']);
  for (const [slug, type] of [['news', 'acquisition'], ['stop', 'blocklist']]) {
    const r = await runCli(['--db', db, 'landing', 'create', slug!, '--type', type!, '--title', slug!, ...(type === 'acquisition' ? ['--channels', 'email'] : [])]);
    expect(r.code).toBe(0);
    expect((await runCli(['--db', db, 'landing', 'publish', slug!, '--out-dir', out])).code).toBe(0);
  }
  return db;
}

const tokenOf = (url: string) => new URL(url, 'http://x').searchParams.get('t')!;

async function check(db: string, token: string, slug: string, env: Record<string, string> = {}, now = FIXED_NOW) {
  const store = await openStore(db);
  try {
    return checkToken(await loadKeyring(store, env), token, slug, now);
  } finally {
    await store.close();
  }
}

describe('signed links through the store and keys commands', () => {
  it('a link verifies for its page and profile only, and never carries the email', async () => {
    const db = await setup();
    const link = await runJson(db, ['landing', 'link', 'news', '--profile', 'ann@example.com', '--base-url', 'https://p.example.com', '--json']);
    expect(link.url).toMatch(/^https:\/\/p\.example\.com\/news\?t=[A-Za-z0-9_-]{66}$/);
    expect(link.oneClickUrl).toBeNull();
    expect(link.url).not.toContain('ann');
    const t = tokenOf(link.url);
    expect(await check(db, t, 'news')).toEqual({ ok: true, profileId: 1, keyId: 1, expiresAt: null });
    expect((await check(db, t, 'stop')).ok).toBe(false);
    const bob = await runJson(db, ['landing', 'link', 'news', '--profile', '2', '--json']);
    expect(await check(db, tokenOf(bob.url), 'news')).toMatchObject({ ok: true, profileId: 2 });
    expect(await check(db, t.slice(0, 60), 'news')).toEqual({ ok: false, reason: 'malformed' });
  });

  it('a blocklist link has a one-click URL', async () => {
    const db = await setup();
    const link = await runJson(db, ['landing', 'link', 'stop', '--profile', '1', '--base-url', 'https://p.example.com/', '--json']);
    const t = tokenOf(link.url);
    expect(link.oneClickUrl).toBe(`https://p.example.com/stop/one-click?t=${t}`);
    expect(await check(db, t, 'stop')).toMatchObject({ ok: true, profileId: 1 });
  });

  it('rotate: new links use the new key, old links still work; retire: old links stop working', async () => {
    const db = await setup();
    const old = tokenOf((await runJson(db, ['landing', 'link', 'news', '--profile', '1', '--json'])).url);
    const rotated = await runJson(db, ['keys', 'rotate', '--json']);
    expect(rotated).toMatchObject({ id: 2, status: 'active', current: true, retiredAt: null });
    const fresh = tokenOf((await runJson(db, ['landing', 'link', 'news', '--profile', '1', '--json'])).url);
    expect(fresh).not.toBe(old);
    expect(await check(db, old, 'news')).toMatchObject({ ok: true, keyId: 1 });
    expect(await check(db, fresh, 'news')).toMatchObject({ ok: true, keyId: 2 });

    // The key that signs cannot be retired; an unknown one is not found; a non-number is a usage error.
    expect((await runCli(['--db', db, 'keys', 'retire', '2'])).code).toBe(4);
    expect((await runCli(['--db', db, 'keys', 'retire', '9'])).code).toBe(3);
    expect((await runCli(['--db', db, 'keys', 'retire', 'x'])).code).toBe(2);

    const retired = await runJson(db, ['keys', 'retire', '1', '--yes', '--json']);
    expect(retired).toMatchObject({ id: 1, status: 'retired', current: false, retiredAt: FIXED_NOW.toISOString() });
    expect(await check(db, old, 'news')).toEqual({ ok: false, reason: 'retired-key' });
    expect(await check(db, fresh, 'news')).toMatchObject({ ok: true });
    const keys = await runJson(db, ['keys', 'list', '--json']);
    expect(keys.map((k: any) => [k.id, k.status, k.current])).toEqual([[1, 'retired', false], [2, 'active', true]]);
    expect(JSON.stringify(keys)).not.toMatch(/secret/i);
  });

  it('CONSENT_SECRET overrides the stored secrets', async () => {
    const db = await setup();
    const env = { CONSENT_SECRET: 'x'.repeat(40) };
    const withEnv = tokenOf((await runJson(db, ['landing', 'link', 'news', '--profile', '1', '--json'], { env })).url);
    const stored = tokenOf((await runJson(db, ['landing', 'link', 'news', '--profile', '1', '--json'])).url);
    expect(withEnv).not.toBe(stored);
    expect((await check(db, withEnv, 'news', env)).ok).toBe(true);
    expect((await check(db, withEnv, 'news')).ok).toBe(false);
    expect((await check(db, stored, 'news', { CONSENT_SECRET: 'y'.repeat(40) })).ok).toBe(false);
    const short = await runCli(['--db', db, 'landing', 'link', 'news', '--profile', '1'], { env: { CONSENT_SECRET: 'short' } });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('CONSENT_SECRET');
  });

  it('--expires-in: refused under 30 days, and the token expires', async () => {
    const db = await setup();
    const r = await runCli(['--db', db, 'landing', 'link', 'news', '--profile', '1', '--expires-in', '7d']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('30 days');
    const t = tokenOf((await runJson(db, ['landing', 'link', 'news', '--profile', '1', '--expires-in', '30d', '--json'])).url);
    expect(await check(db, t, 'news', {}, new Date(FIXED_NOW.getTime() + 29 * 86400_000))).toMatchObject({ ok: true });
    expect(await check(db, t, 'news', {}, new Date(FIXED_NOW.getTime() + 30 * 86400_000))).toEqual({ ok: false, reason: 'expired' });
  });

  it('each store gets its own secret', async () => {
    const a = await setup();
    const b = await setup();
    const t = tokenOf((await runJson(a, ['landing', 'link', 'news', '--profile', '1', '--json'])).url);
    expect((await check(b, t, 'news')).ok).toBe(false);
  });
});
});
