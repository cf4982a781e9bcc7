import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixedLengthHmacSha256 } from '../src/landing/hmac-sha256.js';
import { FIXED_NOW, runCli, tempDb, tempDir } from './helpers/run-cli.js';

// `landing links` signs on worker threads (--threads n) or on the main thread
// (--threads 0): the same bytes either way, and each token is what the
// documented layout and node:crypto's HMAC say it is.

const SECRET = 'links-threads-test-secret-0123456789abcdef';
const env = { CONSENT_SECRET: SECRET, CONSENT_ACTOR: 'tester' };
const PROFILES = 12_345; // more than two pages of the store's listing (5,000)
const UNICODE = 'zoë.ünï@exämple.com';
const emailOf = (id: number) => (id === PROFILES + 1 ? UNICODE : `person.${id}@example.com`);
const LONG_SLUG = 'a-very-long-slug-so-that-the-signed-message-spans-two-sha256-blocks-x'.slice(0, 64);

async function store(): Promise<string> {
  const db = tempDb();
  const csv = join(tempDir(), 'people.csv');
  let text = 'email,first_name,optout_email,optout_all\n';
  for (let i = 1; i <= PROFILES; i++) text += `person.${i}@example.com,P${i},${i % 4 === 0 ? 1 : 0},${i % 97 === 0 ? 1 : 0}\n`;
  writeFileSync(csv, text);
  const imported = await runCli(['--db', db, 'profile', 'import', csv], { env });
  expect(imported.code, imported.stderr).toBe(0);
  // One more, not ASCII (its UTF-8 bytes are written another way).
  expect((await runCli(['--db', db, 'profile', 'add', '--email', UNICODE], { env })).code).toBe(0);
  for (const [slug, type] of [['stop', 'blocklist'], [LONG_SLUG, 'blocklist'], ['news', 'acquisition']] as const) {
    const args = ['--db', db, 'landing', 'create', slug, '--type', type, '--title', 'T', ...(type === 'acquisition' ? ['--channels', 'email'] : [])];
    expect((await runCli(args, { env })).code).toBe(0);
    expect((await runCli(['--db', db, 'landing', 'publish', slug, '--out-dir', tempDir()], { env })).code).toBe(0);
  }
  return db;
}

/** The token of the documented layout, signed with node:crypto (key 1, derived from CONSENT_SECRET). */
function expectedToken(slug: string, profileId: number, expiresAt: number): string {
  const secret = createHmac('sha256', SECRET).update('consent-link-key:1').digest();
  const head = Buffer.alloc(17);
  head[0] = 1;
  head.writeUInt32BE(1, 1);
  head.writeBigUInt64BE(BigInt(profileId), 5);
  head.writeUInt32BE(expiresAt, 13);
  const mac = createHmac('sha256', secret).update(Buffer.concat([Buffer.from(`consent-link-v1\0${slug}\0`), head])).digest();
  return Buffer.concat([head, mac]).toString('base64url');
}

const links = (db: string, args: string[]) => runCli(['--db', db, 'landing', 'links', ...args], { env });

describe('landing links on signing threads', () => {
  it('--threads 3 and --threads 0 write the same bytes, CSV and JSON lines, --expires-in, --reachable, to stdout and --out, and every token checks', async () => {
    const db = await store();
    const base = ['--base-url', 'https://pages.example.com'];
    const cases: { slug: string; args: string[] }[] = [
      { slug: 'stop', args: [...base] },
      { slug: 'stop', args: ['--format', 'jsonl', '--expires-in', '90d'] },
      { slug: LONG_SLUG, args: [...base, '--reachable', 'email', '--expires-in', '1y'] },
      { slug: 'news', args: ['--format', 'jsonl', '--reachable', 'email'] },
      // A base URL with a comma: every URL is quoted.
      { slug: 'stop', args: ['--base-url', 'https://pages.example.com/a,b'] },
    ];
    for (const { slug, args } of cases) {
      const main = await links(db, [slug, ...args, '--threads', '0']);
      const threaded = await links(db, [slug, ...args, '--threads', '3']);
      expect(main.code, main.stderr).toBe(0);
      expect(threaded.code, threaded.stderr).toBe(0);
      expect(threaded.stdout).toBe(main.stdout);
      const file = join(tempDir(), 'links.out');
      const toFile = await links(db, [slug, ...args, '--out', file]);
      expect(toFile.code, toFile.stderr).toBe(0);
      expect(readFileSync(file, 'utf8')).toBe(main.stdout);

      // Each line, from an independent signer: order, ids, emails, URLs, tokens.
      const reachable = args.includes('--reachable');
      const ids = Array.from({ length: PROFILES + 1 }, (_, i) => i + 1).filter((i) => !reachable || (i % 4 !== 0 && i % 97 !== 0));
      const days = args.includes('90d') ? 90 : args.includes('1y') ? 365 : 0;
      const exp = days ? Math.floor(FIXED_NOW.getTime() / 1000) + days * 86400 : 0;
      const prefix = args.includes('--base-url') ? args[args.indexOf('--base-url') + 1]! : '';
      const q = (field: string) => (field.includes(',') ? `"${field}"` : field);
      const oneClick = slug !== 'news';
      const jsonl = args.includes('jsonl');
      const lines = main.stdout.split('\n');
      expect(lines.pop()).toBe('');
      if (!jsonl) expect(lines.shift()).toBe('id,email,url,oneClickUrl');
      expect(lines).toHaveLength(ids.length);
      lines.forEach((line, i) => {
        const id = ids[i]!;
        const t = expectedToken(slug, id, exp);
        const url = `${prefix}/${slug}?t=${t}`;
        const oc = oneClick ? `${prefix}/${slug}/one-click?t=${t}` : null;
        const want = jsonl ? JSON.stringify({ id, email: emailOf(id), url, oneClickUrl: oc }) : `${id},${emailOf(id)},${q(url)},${oc === null ? '' : q(oc)}`;
        if (line !== want) expect(line).toBe(want);
      });
      expect(main.stderr).toContain(`${ids.length} link(s)`);
    }
  }, 120_000);

  it('--threads must be a number from 0 to 16: exit 2 naming the flag', async () => {
    const db = await store();
    for (const bad of ['-1', '17', 'two', '']) {
      const r = await links(db, ['stop', '--threads', bad]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`Invalid --threads "${bad}".`);
      expect(r.stderr).toContain('from 0 (sign on the main thread) to 16');
      expect(r.stdout).toBe('');
    }
    expect((await links(db, ['stop', '--threads', '16'])).code).toBe(0);
  }, 60_000);
});

describe('HMAC-SHA256 with precomputed key pads', () => {
  it('equals node:crypto for keys of 0 to 100 bytes and messages of 0 to 200 bytes, message rewritten in place', () => {
    for (let keyLength = 0; keyLength <= 100; keyLength += 7) {
      const key = randomBytes(keyLength);
      for (let length = 0; length <= 200; length += 1) {
        const mac = fixedLengthHmacSha256(key, length);
        for (let round = 0; round < 2; round++) {
          const message = randomBytes(length);
          mac.message.set(message);
          const out = Buffer.alloc(40);
          mac.digestInto(out, 3);
          expect(out.subarray(3, 35).toString('hex')).toBe(createHmac('sha256', key).update(message).digest('hex'));
        }
      }
    }
  });
});
