/**
 * POST /sms/inbound over real HTTP, on both stores: Twilio's signature
 * (computed here from Twilio's documented algorithm, not with the server's
 * code), TwiML answers, retries, and log lines that never hold a number or a body.
 */
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LandingStore } from '../src/landing/repository.js';
import { startServer, type RunningServer } from '../src/landing/server.js';
import { openStore } from '../src/store/index.js';
import { BACKENDS, runCli, runJson, tempDir, tempStore } from './helpers/run-cli.js';

const TOKEN = 'test-auth-token-0123456789abcdef';
const BASE = 'https://pages.example.com/consent';
const ANN = '+33612345678';

/**
 * Twilio's documented algorithm: the full URL, then each POST parameter
 * sorted by name, name immediately followed by value; HMAC-SHA1 with the
 * auth token; base64.
 */
function sign(url: string, params: [string, string][], token = TOKEN): string {
  const data = url + [...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => k + v).join('');
  return createHmac('sha1', token).update(data).digest('base64');
}

function shuffled<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

const running: { server: RunningServer; store: LandingStore }[] = [];
afterEach(async () => {
  while (running.length) {
    const r = running.pop()!;
    await r.server.close();
    await r.store.close();
  }
});

describe.each(BACKENDS)('POST /sms/inbound on %s', (backend) => {
  async function setup(token: string | null = TOKEN) {
    const db = await tempStore(backend);
    await runJson(db, ['profile', 'add', '--email', 'ann@example.com', '--phone', ANN, '--json']);
    await runJson(db, ['sms', 'settings', '--organisation', 'Acme & Co <Paris>', '--json']);
    const store = await openStore(db);
    const logs: string[] = [];
    const server = await startServer({
      store, host: '127.0.0.1', port: 0, baseUrl: BASE, env: {}, now: () => new Date('2026-06-01T10:00:00.000Z'),
      log: (l) => logs.push(l), twilioAuthToken: token ?? undefined,
    });
    running.push({ server, store });
    /** A webhook as Twilio sends it: the fields in a random order, one Twilio may add without notice. */
    const post = async (body: string, sid: string, options: { signature?: string | null; query?: string } = {}) => {
      const params = shuffled<[string, string]>([
        ['MessageSid', sid], ['AccountSid', 'AC0123'], ['From', ANN], ['To', '+33700000000'], ['Body', body],
        ['NumMedia', '0'], ['OptOutType', 'STOP'], ['SomeFieldTwilioAddedLater', 'x y&z'],
      ]);
      const path = `/sms/inbound${options.query ?? ''}`;
      const signature = options.signature === undefined ? sign(BASE + path, params) : options.signature;
      const r = await fetch(server.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature === null ? {} : { 'x-twilio-signature': signature }) },
        body: new URLSearchParams(params).toString(),
      });
      return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
    };
    const optOut = async () => (await runJson(db, ['profile', 'show', 'ann@example.com', '--json'])).optOut.sms as boolean;
    const events = async () => {
      const v = await runJson(db, ['ledger', 'verify', '--json']);
      expect(v.ok).toBe(true);
      return v.events as number;
    };
    return { db, post, optOut, events, logs };
  }

  it('a valid signature (params in any order, an unknown field, a query string) is answered in TwiML; a forged or missing one is 403 and changes nothing', async () => {
    const { db, post, optOut, events, logs } = await setup();
    const forged = await post('STOP', 'SM1', { signature: sign(`${BASE}/sms/inbound`, [['Body', 'STOP'], ['From', ANN]]) });
    expect(forged.status).toBe(403);
    expect((await post('STOP', 'SM1', { signature: sign(`${BASE}/sms/inbound`, [['Body', 'STOP']], 'another-token') })).status).toBe(403);
    expect((await post('STOP', 'SM1', { signature: null })).status).toBe(403);
    // Signed for another URL (the query string is part of what Twilio signs).
    expect((await post('STOP', 'SM1', { signature: sign(`${BASE}/sms/inbound`, []), query: '?tenant=a' })).status).toBe(403);
    expect(await optOut()).toBe(false);
    expect(await runJson(db, ['sms', 'log', '--json'])).toEqual([]);

    const ok = await post('stop', 'SM1', { query: '?tenant=a' });
    expect(ok.status).toBe(200);
    expect(ok.type).toMatch(/^text\/xml/);
    // One confirmation, XML-escaped by construction (the organisation's name has & and <>).
    expect(ok.text).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Acme &amp; Co &lt;Paris&gt;: you will receive no more text messages from us. Reply START to receive them again.</Message></Response>',
    );
    expect(await optOut()).toBe(true);
    const [e] = await runJson(db, ['profile', 'history', 'ann@example.com', '--json']);
    expect(e).toMatchObject({ action: 'optout', source: 'sms:+33700000000', actor: 'subject', evidence: { messageId: 'SM1', keyword: 'STOP' } });
    await events();
    expect(logs.filter((l) => l.startsWith('POST /sms/inbound 403'))).toHaveLength(4);
  });

  it('the same MessageSid twice records once and answers the same; HELP answers the help text; anything else <Response/>', async () => {
    const { db, post, optOut, events, logs } = await setup();
    const first = await post('Arrêt', 'SM2');
    const before = await events();
    const again = await post('Arrêt', 'SM2');
    expect(again).toEqual(first);
    expect(await events()).toBe(before);
    expect(await runJson(db, ['sms', 'log', '--json'])).toHaveLength(1);

    const help = await post('help', 'SM3');
    expect(help.text).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Message>Acme &amp; Co &lt;Paris&gt;: reply STOP to receive no more text messages from us, START to receive them again.</Message></Response>');
    expect((await post('see you', 'SM4')).text).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');
    expect((await post('START', 'SM5')).text).toMatch(/<Message>Acme &amp; Co &lt;Paris&gt;: you will receive our text messages again/);
    expect(await optOut()).toBe(false);
    expect(await events()).toBe(before + 1);

    // No log line holds the number (in any form) or a body.
    // (a line is written once its answer is sent: the last may still be on its way)
    expect(logs.length).toBeGreaterThanOrEqual(5);
    for (const line of logs) {
      expect(line).not.toMatch(/612345678|7000000|Arr|help|see you|START|AC0123|SM\d/i);
      expect(line).not.toContain(TOKEN);
    }
  });

  it('without an auth token there is no webhook (404)', async () => {
    const { post, optOut } = await setup(null);
    expect((await post('STOP', 'SM1')).status).toBe(404);
    expect(await optOut()).toBe(false);
  });
});

describe('landing serve and the auth token', () => {
  it('refuses an empty token file, and a token without --base-url, never printing the token', async () => {
    const db = await tempStore('sqlite');
    await runJson(db, ['store', 'init', '--json']);
    const dir = tempDir();
    const empty = join(dir, 'empty-token');
    writeFileSync(empty, '\n');
    const interrupt = new AbortController().signal;
    const r1 = await runCli(['--db', db, 'landing', 'serve', '--port', '0', '--base-url', BASE, '--twilio-auth-token-file', empty], { interrupt });
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/--twilio-auth-token-file .*empty-token is empty: the SMS webhook needs Twilio's auth token/);
    const r2 = await runCli(['--db', db, '--debug', 'landing', 'serve', '--port', '0'], { interrupt, env: { CONSENT_TWILIO_AUTH_TOKEN: TOKEN } });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/The SMS webhook needs the public URL Twilio calls.*\n.*--base-url/);
    expect(r2.stderr + r2.stdout).not.toContain(TOKEN);
  });
});
