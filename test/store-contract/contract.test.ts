/**
 * The store contract: what every store behind ConsentStore / LandingStore
 * must do, run on each backend (SQLite, PostgreSQL) through openStore, as
 * Kysely's and Drizzle's suites run one suite per dialect. CLI tests run on
 * both backends too (describe.each(BACKENDS) in test/*.test.ts); this suite
 * is the store-level part.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FeedbackEntry } from '../../src/consent/feedback.js';
import type { ChangeContext } from '../../src/consent/ledger.js';
import type { NewSmsMessage, SmsMessage } from '../../src/consent/sms.js';
import type { LandingStore } from '../../src/landing/repository.js';
import { parsePageDefinition } from '../../src/landing/page.js';
import { openStore } from '../../src/store/index.js';
import { rawSql, tamper } from '../helpers/raw-store.js';
import { BACKENDS, runCli, runJson, tempStore, type Backend } from '../helpers/run-cli.js';

const ctx = (over: Partial<ChangeContext> = {}): ChangeContext => ({
  source: 'operator', actor: 'tester', reason: null, evidence: null, occurredAt: '2026-01-02T03:04:05.000Z', ...over,
});
const person = (email: string, extra: Partial<{ phone: string; firstName: string; lastName: string }> = {}) => ({
  email, phone: extra.phone ?? null, firstName: extra.firstName ?? null, lastName: extra.lastName ?? null,
});

const opened: LandingStore[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const x of it) all.push(x);
  return all;
}

describe.each(BACKENDS)('store contract on %s', (backend: Backend) => {
  async function fresh(): Promise<{ store: LandingStore; location: string }> {
    const location = await tempStore(backend);
    const store = await openStore(location);
    opened.push(store);
    return { store, location };
  }

  describe('profiles', () => {
    it('adds, finds by id and email, refuses a second profile with the same email', async () => {
      const { store } = await fresh();
      const a = await store.addProfile(person('ann@example.com', { firstName: 'Ann', phone: '+33612345678' }), '2026-01-01T00:00:00.000Z');
      expect(a).toEqual({
        id: 1, email: 'ann@example.com', phone: '+33612345678', firstName: 'Ann', lastName: null,
        optOut: { all: false, email: false, sms: false, phone: false, postal: false, fax: false, push: false },
        createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', erasedAt: null,
      });
      await expect(store.addProfile(person('ann@example.com'), 'x')).rejects.toMatchObject({ kind: 'conflict' });
      expect(await store.findProfile({ id: 1 })).toEqual(a);
      expect(await store.findProfile({ email: 'ann@example.com' })).toEqual(a);
      expect(await store.findProfile({ id: 2 })).toBeNull();
      expect(await store.findProfile({ id: 99_999_999_999 })).toBeNull();
      expect(await store.findProfile({ email: 'nobody@example.com' })).toBeNull();
    });

    it('findProfiles reads several by id, in the order asked, null where there is none', async () => {
      const { store } = await fresh();
      await store.addProfile(person('ann@example.com', { firstName: 'Ann' }), 'x');
      await store.addProfile(person('bob@example.com'), 'x');
      await store.applyConsent([{ profileId: 2, wanted: { sms: true } }], ctx());
      const [bob, none, ann, bobAgain] = await store.findProfiles([2, 99, 1, 2]);
      expect(ann).toMatchObject({ id: 1, email: 'ann@example.com', firstName: 'Ann', optOut: { sms: false } });
      expect(bob).toMatchObject({ id: 2, email: 'bob@example.com', firstName: null, optOut: { sms: true, all: false } });
      expect(bobAgain).toEqual(bob);
      expect(none).toBeNull();
      expect(await store.findProfiles([])).toEqual([]);
    });
  });

  describe('lookup by phone', () => {
    it('findProfilesByPhone: every profile with exactly that stored phone, in id order; none: empty', async () => {
      const { store } = await fresh();
      await store.addProfile(person('a@x.io', { phone: '+33612345678' }), 'x');
      await store.addProfile(person('b@x.io', { phone: '+33699999999' }), 'x');
      await store.addProfile(person('c@x.io', { phone: '+33612345678' }), 'x');
      expect((await store.findProfilesByPhone('+33612345678')).map((p) => p.email)).toEqual(['a@x.io', 'c@x.io']);
      expect(await store.findProfilesByPhone('+33600000000')).toEqual([]);
      expect(await store.findProfilesByPhone('33612345678')).toEqual([]); // as stored, no normalisation
    });
  });

  describe('consent changes and the ledger', () => {
    it('writes only the difference, with its events; a change that changes nothing records nothing', async () => {
      const { store } = await fresh();
      await store.addProfile(person('a@x.io'), 'x');
      const [r] = await store.applyConsent([{ profileId: 1, wanted: { sms: true, email: false, all: true } }], ctx({ reason: 'asked', evidence: { page: 'p' } }));
      expect(r!.changes.map((c) => [c.channel, c.action])).toEqual([['all', 'optout'], ['sms', 'optout']].sort((x, y) => (r!.changes.findIndex((c) => c.channel === x[0]) - r!.changes.findIndex((c) => c.channel === y[0]))));
      expect(r!.profile.optOut).toMatchObject({ all: true, sms: true, email: false });
      expect((await store.findProfile({ id: 1 }))!.optOut).toEqual(r!.profile.optOut);
      const [again] = await store.applyConsent([{ profileId: 1, wanted: { sms: true } }], ctx());
      expect(again!.changes).toEqual([]);
      const h = await store.history(1);
      expect(h).toHaveLength(2);
      expect(h[0]!.id).toBeGreaterThan(h[1]!.id); // newest first
      expect(h[0]).toMatchObject({ profileId: 1, source: 'operator', actor: 'tester', reason: 'asked', evidence: { page: 'p' }, service: null });
      expect(await store.verifyLedger()).toMatchObject({ ok: true, blocks: 1, events: 2 });
    });

    it('several requests are one transaction: an unknown profile among them records nothing', async () => {
      const { store } = await fresh();
      await store.addProfile(person('a@x.io'), 'x');
      await expect(
        store.applyConsent([{ profileId: 1, wanted: { sms: true } }, { profileId: 42, wanted: { sms: true } }], ctx()),
      ).rejects.toMatchObject({ kind: 'not-found' });
      expect((await store.findProfile({ id: 1 }))!.optOut.sms).toBe(false);
      expect(await store.history(1)).toEqual([]);
      expect(await store.verifyLedger()).toMatchObject({ ok: true, events: 0, blocks: 0 });
    });

    it('lastChanges gives the last event of each channel', async () => {
      const { store } = await fresh();
      await store.addProfile(person('a@x.io'), 'x');
      await store.applyConsent([{ profileId: 1, wanted: { sms: true } }], ctx({ occurredAt: '2026-01-01T00:00:00.000Z' }));
      await store.applyConsent([{ profileId: 1, wanted: { sms: false, email: true } }], ctx({ occurredAt: '2026-01-02T00:00:00.000Z' }));
      const last = await store.lastChanges(1);
      expect(Object.keys(last).sort()).toEqual(['email', 'sms']);
      expect(last.sms).toMatchObject({ action: 'optin', occurredAt: '2026-01-02T00:00:00.000Z' });
      expect(last.email).toMatchObject({ action: 'optout' });
    });

    it('lastChangesOf and subscriptionsOfMany give, for each id asked, exactly what lastChanges and subscriptionsOf give', async () => {
      const { store } = await fresh();
      for (const e of ['a@x.io', 'b@x.io', 'c@x.io']) await store.addProfile(person(e), 'x');
      await store.services.create({ name: 'zine', label: 'Zine', description: null, channel: 'email', doubleOptIn: false }, 'x');
      await store.services.create({ name: 'alerts', label: 'Alerts', description: null, channel: 'sms', doubleOptIn: true }, 'x');
      await store.applyConsent([{ profileId: 1, wanted: { sms: true } }], ctx({ occurredAt: '2026-01-01T00:00:00.000Z' }));
      await store.applyConsent([{ profileId: 1, wanted: { sms: false, email: true } }, { profileId: 3, wanted: { all: true } }], ctx());
      await store.services.change([{ profileId: 1, service: 'zine', intent: 'subscribe' }, { profileId: 1, service: 'alerts', intent: 'request' }], ctx());
      const ids = [3, 1, 2, 99];
      const last = await store.lastChangesOf(ids);
      const subs = await store.services.subscriptionsOfMany(ids);
      expect([...last.keys()]).toEqual(ids);
      expect([...subs.keys()]).toEqual(ids);
      for (const id of ids) {
        expect(last.get(id)).toEqual(await store.lastChanges(id));
        expect(subs.get(id)).toEqual(await store.services.subscriptionsOf(id));
      }
      expect(Object.keys(last.get(1)!).sort()).toEqual(['email', 'sms']);
      expect(subs.get(1)!.map((s) => s.service)).toEqual(['alerts', 'zine']);
      expect(last.get(2)).toEqual({});
      expect(subs.get(99)).toEqual([]);
      expect(await store.lastChangesOf([])).toEqual(new Map());
    });

    it('exportAll({ copyText }) gives the rows of exportAll(), as COPY text lines where the store formats them (takesCopyText says what importAll takes)', async () => {
      const { location } = await fresh();
      const store = await openStore(location);
      opened.push(store);
      await store.addProfile(person('a@x.io', { firstName: 'Tab\there', lastName: 'back\\slash\nline\rcr' }), 'x');
      await store.addProfile(person('b@x.io', { phone: '+33612345678' }), 'x');
      await store.applyConsent([{ profileId: 1, wanted: { sms: true } }], ctx({ reason: 'two\nlines' }));
      await store.services.create({ name: 'news', label: 'News', description: null, channel: 'email', doubleOptIn: true }, 'x');
      expect(store.takesCopyText).toBe(backend === 'postgres');
      const field = (v: unknown) =>
        v === null ? '\\N' : Buffer.isBuffer(v) ? '\\\\x' + v.toString('hex') : String(v).replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);
      const asText = new Map<string, string>();
      for await (const b of store.exportAll()) {
        expect('rows' in b).toBe(true);
        if ('rows' in b) asText.set(b.table, (asText.get(b.table) ?? '') + b.rows.map((r) => r.map(field).join('\t') + '\n').join(''));
      }
      const given = new Map<string, string>();
      let counted = 0;
      for await (const b of store.exportAll({ copyText: true })) {
        const text = 'rows' in b ? b.rows.map((r) => r.map(field).join('\t') + '\n').join('') : b.copyText;
        counted += 'rows' in b ? b.rows.length : b.count;
        given.set(b.table, (given.get(b.table) ?? '') + text);
      }
      expect(given).toEqual(asText);
      expect(counted).toBe([...asText.values()].reduce((n, t) => n + t.split('\n').length - 1, 0));
      expect(asText.get('profiles')).toContain('Tab\\there\tback\\\\slash\\nline\\rcr');
      expect(asText.get('signing_keys')).toMatch(/^1\t\\\\x[0-9a-f]{64}\t/);
    });

    it('verify gives the same head for the same history, and detects an edited, deleted or forged event and a rewritten block', async () => {
      const heads: string[] = [];
      const build = async () => {
        const { store, location } = await fresh();
        await store.addProfile(person('a@x.io'), 'x');
        await store.addProfile(person('b@x.io'), 'x');
        await store.applyConsent([{ profileId: 1, wanted: { sms: true, email: true } }], ctx());
        await store.applyConsent([{ profileId: 2, wanted: { all: true } }], ctx({ evidence: { ua: 'x"y' } }));
        const v = await store.verifyLedger();
        expect(v).toMatchObject({ ok: true, blocks: 2, events: 3 });
        if (v.ok) heads.push(v.head);
        return { store, location };
      };
      let { store, location } = await build();
      await build();
      expect(heads[0]).toBe(heads[1]);
      await tamper(location, "UPDATE ledger_events SET action = 'optin' WHERE id = 2");
      expect(await store.verifyLedger()).toMatchObject({ ok: false, brokenEventId: 1, blockId: 1, problem: expect.stringContaining('was edited') });

      ({ store, location } = await build());
      await tamper(location, 'DELETE FROM ledger_events WHERE id = 3');
      expect(await store.verifyLedger()).toMatchObject({ ok: false, problem: expect.stringMatching(/event 3 is missing/) });

      ({ store, location } = await build());
      await tamper(location, "INSERT INTO ledger_events (id, profile_id, channel, action, source, actor, occurred_at) VALUES (4, 1, 'email', 'optin', 'operator', 'x', 'now')");
      expect(await store.verifyLedger()).toMatchObject({ ok: false, brokenEventId: 4, problem: expect.stringMatching(/added outside the tool/) });

      ({ store, location } = await build());
      await tamper(location, "UPDATE ledger_blocks SET hash = 'f' || substr(hash, 2) WHERE id = 1");
      expect(await store.verifyLedger()).toMatchObject({ ok: false, blockId: expect.any(Number) });
    });

    it("verify replays the ledger: a flag or a subscription changed behind the tool's back is named, with progress reported", async () => {
      const { store, location } = await fresh();
      for (const e of ['a', 'b', 'c']) await store.addProfile(person(`${e}@x.io`), 'x');
      await store.applyConsent([{ profileId: 2, wanted: { all: true } }], ctx());
      await store.services.create({ name: 'news', label: 'News', description: null, channel: 'email', doubleOptIn: true }, 'x');
      await store.services.change([{ profileId: 3, service: 'news', intent: 'request' }], ctx());
      const phases = new Set<string>();
      expect(await store.verifyLedger({ onProgress: (p) => phases.add(p.phase) })).toMatchObject({ ok: true, events: 2 });
      expect([...phases].sort()).toEqual(['chain', 'replay', 'state']);
      await tamper(location, "UPDATE subscriptions SET status = 'subscribed' WHERE profile_id = 3");
      expect(await store.verifyLedger()).toMatchObject({
        ok: false, check: 'state', disagreement: { profileId: 3, kind: 'subscription', service: 'news', stored: 'subscribed', ledger: 'pending' },
      });
      await tamper(location, 'UPDATE profiles SET optout_all = 0 WHERE id = 2');
      const v = await store.verifyLedger();
      expect(v).toMatchObject({ ok: false, check: 'state', events: 2, disagreement: { profileId: 2, kind: 'flag', channel: 'all', stored: 'optin', ledger: 'optout', eventId: 1 } });
      expect(v.ok === false && v.problem).toBe('profile 2: optout_all is 0 but the ledger says optout (event 1)');
    });

    it('refuses to update or delete ledger rows (append-only triggers)', async () => {
      const { store, location } = await fresh();
      await store.addProfile(person('a@x.io'), 'x');
      await store.applyConsent([{ profileId: 1, wanted: { sms: true } }], ctx());
      await expect(rawSql(location, "UPDATE ledger_events SET actor = 'x'")).rejects.toThrow(/append-only/);
      await expect(rawSql(location, 'DELETE FROM ledger_events')).rejects.toThrow(/append-only/);
      await expect(rawSql(location, "UPDATE ledger_blocks SET hash = 'x'")).rejects.toThrow(/append-only/);
      await expect(rawSql(location, 'DELETE FROM ledger_blocks')).rejects.toThrow(/append-only/);
      expect(await store.verifyLedger()).toMatchObject({ ok: true, events: 1 });
    });
  });

  describe('filters', () => {
    it('reachable, optedOut (which includes all), subscribed and limit, in id order', async () => {
      const { store } = await fresh();
      for (const e of ['a', 'b', 'c', 'd']) await store.addProfile(person(`${e}@x.io`), 'x');
      await store.applyConsent([{ profileId: 2, wanted: { sms: true } }, { profileId: 3, wanted: { all: true } }], ctx());
      await store.services.create({ name: 'news', label: 'News', description: null, channel: 'sms', doubleOptIn: false }, 'x');
      await store.services.change([1, 2, 3].map((profileId) => ({ profileId, service: 'news', intent: 'subscribe' as const })), ctx());
      const ids = async (f: Parameters<LandingStore['listProfiles']>[0]) => (await collect(store.listProfiles(f))).map((p) => p.id);
      expect(await ids({})).toEqual([1, 2, 3, 4]);
      expect(await ids({ reachable: 'sms' })).toEqual([1, 4]);
      expect(await ids({ reachable: 'email' })).toEqual([1, 2, 4]);
      expect(await ids({ optedOut: 'sms' })).toContain(2);
      expect(await ids({ optedOut: 'all' })).toEqual([3]);
      expect(await ids({ subscribed: 'news' })).toEqual([1]); // 2 opted out of sms, 3 of all
      expect(await ids({ limit: 2 })).toEqual([1, 2]);
      await expect(ids({ subscribed: 'nope' })).rejects.toMatchObject({ kind: 'not-found' });
      const contacts = (await collect(store.bulk.listContacts({ reachable: 'sms' }))).flat();
      expect(contacts).toEqual([[1, 'a@x.io'], [4, 'd@x.io']]);
    });

    it('streams more rows than a page, and the store stays usable while a listing is open', async () => {
      const { store, location } = await fresh();
      const rows = Array.from({ length: 2600 }, (_, i) => `('p${String(i).padStart(4, '0')}@x.io', 'x', 'x')`).join(', ');
      await rawSql(location, `INSERT INTO profiles (email, created_at, updated_at) VALUES ${rows}`);
      let n = 0;
      for await (const p of store.listProfiles({})) {
        n++;
        if (n === 1500) await store.applyConsent([{ profileId: 2600, wanted: { fax: true } }], ctx());
        expect(p.id).toBe(n);
      }
      expect(n).toBe(2600);
      // Stopping early ends the listing cleanly.
      for await (const _ of store.listProfiles({})) break;
      expect((await store.findProfile({ id: 2600 }))!.optOut.fax).toBe(true);
    });
  });

  describe('services and subscriptions', () => {
    it('creates, lists with counts, changes subscriptions with their events in the chain, lists pending ones', async () => {
      const { store } = await fresh();
      for (const e of ['a', 'b', 'c']) await store.addProfile(person(`${e}@x.io`), 'x');
      const news = await store.services.create({ name: 'news', label: 'News', description: 'Weekly', channel: 'email', doubleOptIn: true }, '2026-01-01T00:00:00.000Z');
      expect(news).toEqual({ name: 'news', label: 'News', description: 'Weekly', channel: 'email', doubleOptIn: true, createdAt: '2026-01-01T00:00:00.000Z' });
      await expect(store.services.create({ name: 'news', label: 'N', description: null, channel: 'email', doubleOptIn: false }, 'x')).rejects.toMatchObject({ kind: 'conflict' });
      const r = await store.services.change(
        [
          { profileId: 1, service: 'news', intent: 'request' },
          { profileId: 2, service: 'news', intent: 'subscribe' },
          { profileId: 3, service: 'news', intent: 'request' },
        ],
        ctx(),
      );
      expect(r.map((x) => [x.before, x.after, x.action])).toEqual([[null, 'pending', 'request'], [null, 'subscribed', 'subscribe'], [null, 'pending', 'request']]);
      const [c1] = await store.services.change([{ profileId: 1, service: 'news', intent: 'confirm' }], ctx());
      expect(c1).toMatchObject({ before: 'pending', after: 'subscribed', action: 'confirm' });
      const [same] = await store.services.change([{ profileId: 1, service: 'news', intent: 'subscribe' }], ctx());
      expect(same!.action).toBeNull();
      await store.applyConsent([{ profileId: 2, wanted: { email: true } }], ctx());
      expect(await store.services.summary('news')).toMatchObject({ subscribers: 2, pending: 1, receiving: 1 });
      expect((await store.services.list()).map((s) => s.name)).toEqual(['news']);
      expect(await store.services.subscriptionsOf(1)).toEqual([{ service: 'news', status: 'subscribed', since: '2026-01-02T03:04:05.000Z' }]);
      expect(await collect(store.services.pending('news'))).toEqual([{ profileId: 3, email: 'c@x.io', since: '2026-01-02T03:04:05.000Z', reachable: true }]);
      await store.applyConsent([{ profileId: 3, wanted: { all: true } }], ctx());
      expect(await collect(store.services.pending('news'))).toEqual([{ profileId: 3, email: 'c@x.io', since: '2026-01-02T03:04:05.000Z', reachable: false }]);
      await expect(store.services.change([{ profileId: 9, service: 'news', intent: 'subscribe' }], ctx())).rejects.toMatchObject({ kind: 'not-found' });
      await expect(store.services.change([{ profileId: 1, service: 'nope', intent: 'subscribe' }], ctx())).rejects.toMatchObject({ kind: 'not-found' });
      expect((await store.history(1)).map((e) => [e.service, e.action, e.channel])).toEqual([['news', 'confirm', 'email'], ['news', 'request', 'email']]);
      expect(await store.verifyLedger()).toMatchObject({ ok: true, events: 6 });
      expect(await store.bulk.serviceNames()).toEqual(['news']);
      expect(await store.bulk.subscriptionsBetween(2, 3)).toEqual([
        { profileId: 2, service: 'news', status: 'subscribed', since: '2026-01-02T03:04:05.000Z' },
        { profileId: 3, service: 'news', status: 'pending', since: '2026-01-02T03:04:05.000Z' },
      ]);
    });
  });

  describe('pages and keys', () => {
    const def = (title: string) => parsePageDefinition({ slug: 'prefs', type: 'acquisition', title, channels: ['email', 'sms'] });

    it('drafts, immutable published versions, publish of an unchanged draft creates nothing', async () => {
      const { store, location } = await fresh();
      const p = await store.pages.create(def('One'), '2026-01-01T00:00:00.000Z');
      expect(p).toMatchObject({ slug: 'prefs', latestVersion: 0, publishedAt: null, draftChanged: true });
      await expect(store.pages.create(def('Again'), 'x')).rejects.toMatchObject({ kind: 'conflict' });
      const v1 = await store.pages.publish('prefs', '2026-01-02T00:00:00.000Z', 'op');
      expect(v1).toMatchObject({ created: true, version: { version: 1, publishedBy: 'op', definition: { title: 'One' } } });
      expect((await store.pages.publish('prefs', 'x', 'op')).created).toBe(false);
      await store.pages.saveDraft(def('Two'), '2026-01-03T00:00:00.000Z');
      expect(await store.pages.get('prefs')).toMatchObject({ latestVersion: 1, draftChanged: true, draft: { title: 'Two' } });
      expect((await store.pages.publish('prefs', 'x', 'op')).version.version).toBe(2);
      expect((await store.pages.version('prefs', 1))!.definition.title).toBe('One');
      expect((await store.pages.latestVersion('prefs'))!.version).toBe(2);
      expect(await store.pages.version('prefs', 3)).toBeNull();
      expect((await store.pages.list()).map((x) => x.slug)).toEqual(['prefs']);
      await expect(store.pages.saveDraft(parsePageDefinition({ slug: 'nope', type: 'blocklist', title: 'N' }), 'x')).rejects.toMatchObject({ kind: 'not-found' });
      await expect(rawSql(location, "UPDATE landing_page_versions SET definition = '{}'")).rejects.toThrow(/immutable/);
    });

    it('one key at creation; rotate adds one; the current one cannot be retired, an older one can', async () => {
      const { store } = await fresh();
      const [k1] = await store.keys.list();
      expect(k1!.secret.length).toBe(32);
      const k2 = await store.keys.rotate('2026-01-02T00:00:00.000Z');
      expect(k2.id).toBeGreaterThan(k1!.id);
      await expect(store.keys.retire(k2.id, 'x')).rejects.toMatchObject({ kind: 'conflict' });
      expect(await store.keys.retire(k1!.id, '2026-01-03T00:00:00.000Z')).toMatchObject({ id: k1!.id, retiredAt: '2026-01-03T00:00:00.000Z' });
      await expect(store.keys.retire(99, 'x')).rejects.toMatchObject({ kind: 'not-found' });
      expect((await store.keys.list()).map((k) => [k.id, k.retiredAt !== null])).toEqual([[k1!.id, true], [k2.id, false]]);
    });
  });

  describe('landing submissions', () => {
    it('one salt per store; createAndApply makes the profile with its choices; group commit is all or nothing', async () => {
      const { store, location } = await fresh();
      const salt = await store.landing.clientSalt();
      expect(salt.length).toBe(32);
      const other = await openStore(location);
      opened.push(other);
      expect(await other.landing.clientSalt()).toEqual(salt);
      await store.services.create({ name: 'news', label: 'News', description: null, channel: 'email', doubleOptIn: false }, 'x');
      await store.landing.createAndApply('new@x.io', { wanted: { sms: true }, subscriptions: [{ service: 'news', intent: 'request' }], context: ctx({ source: 'landing:p@v1' }) });
      const p = (await store.findProfile({ email: 'new@x.io' }))!;
      expect(p.optOut.sms).toBe(true);
      expect(await store.services.subscriptionsOf(p.id)).toMatchObject([{ service: 'news', status: 'subscribed' }]);
      await store.landing.createAndApply('new@x.io', { wanted: { email: true }, context: ctx() }); // exists: only the choices
      expect((await store.findProfile({ email: 'new@x.io' }))!.optOut).toMatchObject({ sms: true, email: true });

      await store.addProfile(person('b@x.io'), 'x');
      const results = await store.landing.applyConsentGroups([
        { requests: [{ profileId: 1, wanted: { fax: true } }], context: ctx({ evidence: { n: 1 } }) },
        { requests: [{ profileId: 2, wanted: { fax: true } }], subscriptions: [{ profileId: 2, service: 'news', intent: 'subscribe' }], context: ctx({ evidence: { n: 2 } }) },
      ]);
      expect(results.map((r) => [r.consent[0]!.changes.length, r.subscriptions.length])).toEqual([[1, 0], [1, 1]]);
      await expect(
        store.landing.applyConsentGroups([
          { requests: [{ profileId: 1, wanted: { push: true } }], context: ctx() },
          { requests: [{ profileId: 77, wanted: { push: true } }], context: ctx() },
        ]),
      ).rejects.toMatchObject({ kind: 'not-found' });
      expect((await store.findProfile({ id: 1 }))!.optOut.push).toBe(false);
      const v = await store.verifyLedger();
      // createAndApply: 1 + 1 blocks, then 1; groups: one block per group and one for the subscription.
      expect(v).toMatchObject({ ok: true, blocks: 6, events: 6 });
    });
  });

  describe('bulk import', () => {
    it('new, re-import, duplicates folded (an opt-out wins, the last name wins), --allow-optin, dry run', async () => {
      const { location } = await fresh();
      const { writeFileSync } = await import('node:fs');
      const { tempDir } = await import('../helpers/run-cli.js');
      const dir = tempDir();
      const f1 = join(dir, 'one.csv');
      writeFileSync(f1, 'email,first_name,optout_sms,optout_email\na@x.io,Ann,1,0\nb@x.io,Bob,0,1\nA@x.io,Annie,0,\nc@x.io,"C, ""c""",,\n');
      expect(await runJson(location, ['profile', 'import', f1, '--json'])).toMatchObject({ rows: 4, profiles: 3, new: 3, duplicatesMerged: 1, optOutsSet: 2, events: 2 });
      expect(await runJson(location, ['profile', 'show', 'a@x.io', '--json'])).toMatchObject({ firstName: 'Annie', optOut: { sms: true } });
      expect(await runJson(location, ['profile', 'show', 'c@x.io', '--json'])).toMatchObject({ firstName: 'C, "c"' });
      expect(await runJson(location, ['profile', 'import', f1, '--json'])).toMatchObject({ new: 0, updated: 0, unchanged: 3, events: 0 });
      const f2 = join(dir, 'two.csv');
      writeFileSync(f2, 'email,optout_sms\na@x.io,0\nd@x.io,1\n');
      const dry = await runJson(location, ['profile', 'import', f2, '--allow-optin', '--dry-run', '--json']);
      expect(dry).toMatchObject({ new: 1, updated: 1, optOutsSet: 1, optInsApplied: 1 });
      expect((await runCli(['--db', location, 'profile', 'show', 'd@x.io'])).code).toBe(3);
      expect(await runJson(location, ['profile', 'import', f2, '--json'])).toMatchObject({ new: 1, optInsNotApplied: 1, optInsApplied: 0 });
      expect(await runJson(location, ['profile', 'import', f2, '--allow-optin', '--json'])).toMatchObject({ updated: 1, optInsApplied: 1, events: 1 });
      expect((await runJson(location, ['profile', 'show', 'a@x.io', '--json'])).optOut.sms).toBe(false);
      expect(await runJson(location, ['ledger', 'verify', '--json'])).toMatchObject({ ok: true, events: 4 });
    });
  });

  describe('erasure (eraseProfile)', () => {
    it('one transaction: keyed-only erasure entries replacing a plain one, placeholder email, user agents deleted, an erase event; a second one is a conflict', async () => {
      const { store, location } = await fresh();
      const ann = await store.addProfile(person('ann@example.com', { phone: '+33612345678', firstName: 'Ann' }), '2026-01-01T00:00:00.000Z');
      const sharer = await store.addProfile(person('sharer@example.com', { phone: '+33612345678' }), '2026-01-01T00:00:00.000Z');
      await store.suppressions.add([{ channel: 'email', address: 'ann@example.com', reason: 'hard-bounce' }], ctx());
      // A page submission's evidence: the user agent is kept beside the event, a salted digest in the hashed text.
      await store.applyConsent([{ profileId: ann.id, wanted: { postal: true } }], ctx({ source: 'landing:p@v1', evidence: { page: 'p', userAgent: 'Agent/secret-1' } }));
      const [side] = await rawSql(location, 'SELECT u.salt, u.user_agent, e.evidence FROM ledger_user_agents u JOIN ledger_events e ON e.id = u.event_id');
      expect(side.user_agent).toBe('Agent/secret-1');
      expect(side.evidence).not.toContain('Agent/secret-1');
      expect(JSON.parse(side.evidence)).toEqual({ page: 'p', userAgentDigest: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect((await store.history(ann.id))[0]!.evidence).toEqual({ page: 'p', userAgent: 'Agent/secret-1' });

      const r = await store.eraseProfile(ann.id, ctx({ reason: 'ticket-9', occurredAt: '2026-02-01T00:00:00.000Z' }));
      expect(r.profile).toMatchObject({ id: ann.id, email: 'erased-1@invalid', phone: null, firstName: null, erasedAt: '2026-02-01T00:00:00.000Z' });
      expect(r.profile.optOut.postal).toBe(true);
      expect(r.userAgentsDeleted).toBe(1);
      expect(r.suppressions.map((s) => [s.entry.channel, s.outcome, s.entry.address, s.entry.reason])).toEqual([
        ['email', 'replaced', null, 'erasure'],
        ['sms', 'added', null, 'erasure'],
        ['phone', 'added', null, 'erasure'],
      ]);
      // The phone is still another live profile's: its entries keep the address, so that they block it (no erased address is in clear).
      const entries = await rawSql(location, 'SELECT channel, address, reason FROM suppressions ORDER BY channel');
      expect(entries).toEqual([
        { channel: 'email', address: null, reason: 'erasure' },
        { channel: 'phone', address: '+33612345678', reason: 'erasure' },
        { channel: 'sms', address: '+33612345678', reason: 'erasure' },
      ]);
      expect((await collect(store.listProfiles({ reachable: 'sms' }))).map((p) => p.id)).toEqual([]);
      expect((await collect(store.listProfiles({ unreachable: 'postal' }))).map((p) => p.id)).toEqual([ann.id]);
      expect(Number((await rawSql(location, 'SELECT count(*) AS n FROM ledger_user_agents'))[0].n)).toBe(0);
      const history = await store.history(ann.id);
      // Its evidence: the keys of the addresses it erased (never an address), for the as-of replay.
      expect(history[0]).toMatchObject({
        action: 'erase',
        channel: 'all',
        reason: 'ticket-9',
        evidence: { addressKeys: { email: await store.suppressions.keyOf('email', 'ann@example.com'), phone: await store.suppressions.keyOf('sms', '+33612345678') } },
      });
      expect(history[1]!.evidence).toEqual({ page: 'p', userAgentDigest: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(await store.verifyLedger()).toMatchObject({ ok: true });
      await expect(store.eraseProfile(ann.id, ctx())).rejects.toMatchObject({ kind: 'conflict' });
      await expect(store.eraseProfile(999, ctx())).rejects.toMatchObject({ kind: 'not-found' });
      // Lifting an erasure entry needs force (no operator command lifts it without --force).
      await expect(store.suppressions.lift([{ channel: 'sms', address: '+33612345678' }], ctx({ reason: 'oops' }))).rejects.toMatchObject({ kind: 'invalid' });
      expect(await store.suppressions.findByAddress('sms', '+33612345678')).toMatchObject({ reason: 'erasure' });
      expect(sharer.id).toBe(2);
      // Erasing the sharer too: now no live profile has the number, the entries keep only the key.
      await store.eraseProfile(sharer.id, ctx({ reason: 'ticket-10' }));
      expect(Number((await rawSql(location, 'SELECT count(*) AS n FROM suppressions WHERE address IS NOT NULL'))[0].n)).toBe(0);
      expect(await store.verifyLedger()).toMatchObject({ ok: true });
    });

    it('ledger verify checks a kept user agent against its digest', async () => {
      const { store, location } = await fresh();
      const ann = await store.addProfile(person('ann@example.com'), '2026-01-01T00:00:00.000Z');
      await store.applyConsent([{ profileId: ann.id, wanted: { sms: true } }], ctx({ evidence: { userAgent: 'Agent/1' } }));
      expect(await store.verifyLedger()).toMatchObject({ ok: true });
      await rawSql(location, "UPDATE ledger_user_agents SET user_agent = 'Agent/2'");
      expect(await store.verifyLedger()).toMatchObject({ ok: false, brokenEventId: 1, problem: expect.stringContaining('does not match') });
    });

    it('addProfile of an erased address puts the address back into its keyed-only entries (so it is unreachable), and only then', async () => {
      const { store, location } = await fresh();
      const ann = await store.addProfile(person('ann@example.com'), '2026-01-01T00:00:00.000Z');
      await store.eraseProfile(ann.id, ctx({ reason: 'ticket-9' }));
      await store.addProfile(person('bob@example.com'), '2026-01-01T00:00:00.000Z');
      expect(await rawSql(location, 'SELECT address FROM suppressions')).toEqual([{ address: null }]);
      const back = await store.addProfile(person('ann@example.com'), '2026-03-01T00:00:00.000Z');
      expect(await rawSql(location, 'SELECT address, reason FROM suppressions')).toEqual([{ address: 'ann@example.com', reason: 'erasure' }]);
      expect((await collect(store.listProfiles({ unreachable: 'email' }))).map((p) => p.id)).toEqual([ann.id, back.id]);
      expect(await store.verifyLedger()).toMatchObject({ ok: true });
    });
  });

  describe('feedback (bounces and complaints)', () => {
    const entry = (over: Partial<FeedbackEntry> = {}): FeedbackEntry => ({
      key: 'message-id:<r1@mx.example>', kind: 'bounce', file: 'r1.eml', reportedAt: '2026-01-01T00:00:00.000Z',
      hardBounces: [], softBounces: [], complaint: null, ...over,
    });
    const policy = { count: 2, windowDays: 14 };

    it('records a report once: the same key again writes nothing and says so', async () => {
      const { store, location } = await fresh();
      await store.addProfile(person('ann@example.com'), 'x');
      const first = await store.feedback.record(entry({ hardBounces: ['ann@example.com'] }), policy, ctx({ source: 'feedback:r1.eml' }));
      expect(first).toEqual({ recorded: true, optedOut: false, addresses: [{ address: 'ann@example.com', cause: 'hard-bounce', outcome: 'suppressed' }] });
      const snapshot = async () => ({
        reports: await rawSql(location, 'SELECT * FROM feedback_reports'),
        events: await rawSql(location, 'SELECT count(*) AS n FROM ledger_events'),
      });
      const before = await snapshot();
      expect(before.reports).toEqual([{ report_key: 'message-id:<r1@mx.example>', kind: 'bounce', file: 'r1.eml', reported_at: '2026-01-01T00:00:00.000Z', ingested_at: '2026-01-02T03:04:05.000Z' }]);
      expect(await store.feedback.record(entry({ hardBounces: ['ann@example.com'], softBounces: ['bob@example.com'] }), policy, ctx())).toEqual({ recorded: false, optedOut: false, addresses: [] });
      expect(await snapshot()).toEqual(before);
      expect(await rawSql(location, 'SELECT * FROM soft_bounces')).toEqual([]);
      // Another report of an already suppressed address.
      expect((await store.feedback.record(entry({ key: 'sha256:ab', hardBounces: ['ann@example.com'] }), policy, ctx())).addresses).toEqual([
        { address: 'ann@example.com', cause: 'hard-bounce', outcome: 'already-suppressed' },
      ]);
    });

    it('soft bounces are kept by keyed hash and time only, and suppress at the limit within the window', async () => {
      const { store, location } = await fresh();
      const soft = (key: string, reportedAt: string) => store.feedback.record(entry({ key, reportedAt, softBounces: ['zed@example.com'] }), policy, ctx());
      expect((await soft('k1', '2026-01-01T00:00:00.000Z')).addresses).toEqual([{ address: 'zed@example.com', cause: 'soft-bounce', outcome: 'counted' }]);
      expect((await soft('k2', '2026-01-20T00:00:00.000Z')).addresses[0]!.outcome).toBe('counted'); // 19 days later: outside 14
      expect((await soft('k3', '2026-01-10T00:00:00.000Z')).addresses[0]!.outcome).toBe('suppressed'); // 9 days after k1
      const rows = await rawSql(location, 'SELECT * FROM soft_bounces ORDER BY report_key');
      expect(rows.map((r) => [r.report_key, r.bounced_at])).toEqual([['k1', '2026-01-01T00:00:00.000Z'], ['k2', '2026-01-20T00:00:00.000Z'], ['k3', '2026-01-10T00:00:00.000Z']]);
      expect(new Set(rows.map((r) => r.address_key)).size).toBe(1);
      expect(JSON.stringify(rows)).not.toContain('zed');
    });

    it("a complaint opts the profile out of email with the report's evidence and suppresses its email, in one transaction", async () => {
      const { store } = await fresh();
      const ann = await store.addProfile(person('ann@example.com'), 'x');
      const context = ctx({ source: 'feedback:c.eml', actor: 'mailbox-provider' });
      const complaint = entry({ key: 'c1', kind: 'complaint', complaint: { profileId: ann.id, evidence: { report: 'c1', feedbackType: 'abuse' } } });
      expect(await store.feedback.record(complaint, policy, context)).toEqual({ recorded: true, optedOut: true, addresses: [{ address: 'ann@example.com', cause: 'complaint', outcome: 'suppressed' }] });
      expect((await store.findProfile({ id: ann.id }))!.optOut.email).toBe(true);
      expect(await store.history(ann.id)).toMatchObject([{ channel: 'email', action: 'optout', source: 'feedback:c.eml', actor: 'mailbox-provider', evidence: { report: 'c1', feedbackType: 'abuse' } }]);
      expect(await store.verifyLedger()).toMatchObject({ ok: true });
      // A complaint for a profile that is not there records nothing at all, not even the report.
      await expect(store.feedback.record(entry({ key: 'c2', kind: 'complaint', complaint: { profileId: 999, evidence: {} } }), policy, context)).rejects.toMatchObject({ kind: 'not-found' });
      expect((await store.feedback.record(entry({ key: 'c2' }), policy, context)).recorded).toBe(true);
    });
  });


  describe('sms messages', () => {
    const msg = (over: Partial<NewSmsMessage> = {}): NewSmsMessage => ({
      messageId: null, provider: 'cli', fromKey: 'k'.repeat(64), to: null, body: 'STOP', keyword: 'STOP', outcome: 'optout', reply: 'bye',
      receivedAt: '2026-06-01T00:00:00.000Z', recordedAt: '2026-06-01T00:00:01.000Z', review: null, ...over,
    });
    const smsCtx = ctx({ source: 'sms:cli', actor: 'subject' });

    it('numberKeyer: one keyed hash per number, the same for every opening of the store, never the number', async () => {
      const { store, location } = await fresh();
      const key = await store.sms.numberKeyer();
      expect(key('+33612345678')).toMatch(/^[0-9a-f]{64}$/);
      expect(key('+33612345678')).toBe(key('+33612345678'));
      expect(key('+33612345678')).not.toBe(key('+33612345679'));
      const other = await openStore(location);
      opened.push(other);
      expect((await other.sms.numberKeyer())('+33612345678')).toBe(key('+33612345678'));
      const elsewhere = (await fresh()).store;
      expect((await elsewhere.sms.numberKeyer())('+33612345678')).not.toBe(key('+33612345678'));
      // The suppression list's key of the number: the log, the ledger and the list name a number alike.
      expect(await store.suppressions.keyOf('sms', '+33612345678')).toBe(key('+33612345678'));
    });

    it('record: a suppression change is written with its message (its events counted); a failure leaves neither', async () => {
      const { store } = await fresh();
      const phone = '+33611112222';
      const stop = { add: [{ channel: 'sms' as const, address: phone, reason: 'sms-stop' }], lift: [], context: smsCtx };
      const r = await store.sms.record({ writes: [{ message: msg({ outcome: 'suppressed' }), requests: [], context: smsCtx, suppression: stop }], guards: [], purgeBodiesBefore: null });
      expect(r.changes).toBe(1);
      expect(await store.suppressions.findByAddress('sms', phone)).toMatchObject({ reason: 'sms-stop', origin: 'sms:cli', address: phone });
      // A recorded message id: the lift is rolled back with it.
      await store.sms.record({ writes: [{ message: msg({ messageId: 'SM1', outcome: 'help' }), requests: [], context: smsCtx }], guards: [], purgeBodiesBefore: null });
      const lift = { add: [], lift: [{ channel: 'sms' as const, address: phone }], context: { ...smsCtx, reason: 'START' } };
      await expect(store.sms.record({ writes: [{ message: msg({ messageId: 'SM1', outcome: 'optin' }), requests: [], context: smsCtx, suppression: lift }], guards: [], purgeBodiesBefore: null })).rejects.toMatchObject({ kind: 'conflict' });
      expect(await store.suppressions.findByAddress('sms', phone)).not.toBeNull();
      const lifted = await store.sms.record({ writes: [{ message: msg({ outcome: 'optin' }), requests: [], context: smsCtx, suppression: lift }], guards: [], purgeBodiesBefore: null });
      expect(lifted.messages[0]!.changes).toBe(1);
      expect(await store.suppressions.findByAddress('sms', phone)).toBeNull();
      expect(await store.verifyLedger()).toMatchObject({ ok: true, events: 2 });
    });

    it('record: messages and their consent changes in one transaction; a recorded message id or a failed guard writes nothing', async () => {
      const { store } = await fresh();
      await store.addProfile(person('a@x.io'), 'x');
      const r = await store.sms.record({
        writes: [
          { message: msg({ messageId: 'SM1' }), requests: [{ profileId: 1, wanted: { sms: true } }], context: smsCtx },
          { message: msg({ outcome: 'help', keyword: 'HELP', body: 'help' }), requests: [], context: smsCtx },
        ],
        guards: [{ profileId: 1, lastSmsEventId: null }],
        purgeBodiesBefore: null,
      });
      expect(r.changes).toBe(1);
      expect(r.messages.map((m) => [m.messageId, m.outcome, m.changes])).toEqual([['SM1', 'optout', 1], [null, 'help', 0]]);
      expect(await store.sms.findByMessageIds(['SM1', 'SM9'])).toEqual([r.messages[0]]);
      expect(await store.sms.get(r.messages[1]!.id)).toEqual(r.messages[1]);
      const [event] = await store.history(1);

      // SM1 again, with an opt-in: refused whole.
      const again = { message: msg({ messageId: 'SM1' }), requests: [{ profileId: 1, wanted: { sms: false } }], context: smsCtx };
      await expect(store.sms.record({ writes: [again], guards: [], purgeBodiesBefore: null })).rejects.toMatchObject({ kind: 'conflict' });
      // A guard that no longer holds (the last sms event is now event 1): refused whole.
      const optin = { message: msg({ messageId: 'SM2', outcome: 'optin' }), requests: [{ profileId: 1, wanted: { sms: false } }], context: smsCtx };
      await expect(store.sms.record({ writes: [optin], guards: [{ profileId: 1, lastSmsEventId: null }], purgeBodiesBefore: null })).rejects.toMatchObject({ kind: 'conflict' });
      expect((await store.findProfile({ id: 1 }))!.optOut.sms).toBe(true);
      expect(await store.sms.list()).toHaveLength(2);
      // The guard as it holds: written.
      await store.sms.record({ writes: [optin], guards: [{ profileId: 1, lastSmsEventId: event!.id }], purgeBodiesBefore: null });
      expect((await store.findProfile({ id: 1 }))!.optOut.sms).toBe(false);
      expect(await store.verifyLedger()).toMatchObject({ ok: true, events: 2 });
    });

    it('list, decide and purgeBodies: the review queue, decided once; pending items keep their body', async () => {
      const { store } = await fresh();
      await store.addProfile(person('a@x.io'), 'x');
      const review = msg({ outcome: 'review', keyword: null, body: 'please stop', review: { status: 'pending', decidedBy: null, decidedAt: null } });
      const { messages } = await store.sms.record({
        writes: [{ message: review, requests: [], context: smsCtx }, { message: review, requests: [], context: smsCtx }, { message: msg(), requests: [], context: smsCtx }],
        guards: [],
        purgeBodiesBefore: null,
      });
      const [m1, m2, m3] = messages as [SmsMessage, SmsMessage, SmsMessage];
      expect((await store.sms.list()).map((m) => m.id)).toEqual([m3.id, m2.id, m1.id]);
      expect((await store.sms.list({ limit: 1 })).map((m) => m.id)).toEqual([m3.id]);
      expect((await store.sms.list({ pendingReview: true })).map((m) => m.id)).toEqual([m2.id, m1.id]);

      expect(await store.sms.purgeBodies('2026-07-01T00:00:00.000Z')).toBe(1);
      expect((await store.sms.list()).map((m) => m.body)).toEqual([null, 'please stop', 'please stop']);

      const decided = await store.sms.decide(m1.id, 'optout', 'olga', '2026-06-02T00:00:00.000Z', { requests: [{ profileId: 1, wanted: { sms: true } }], context: ctx({ actor: 'olga' }) });
      expect(decided).toMatchObject({ id: m1.id, changes: 1, review: { status: 'optout', decidedBy: 'olga', decidedAt: '2026-06-02T00:00:00.000Z' } });
      expect((await store.findProfile({ id: 1 }))!.optOut.sms).toBe(true);
      await expect(store.sms.decide(m1.id, 'dismissed', 'olga', 'x', null)).rejects.toMatchObject({ kind: 'conflict' });
      await expect(store.sms.decide(m3.id, 'dismissed', 'olga', 'x', null)).rejects.toMatchObject({ kind: 'conflict' });
      await expect(store.sms.decide(999, 'dismissed', 'olga', 'x', null)).rejects.toMatchObject({ kind: 'not-found' });
      expect(await store.sms.decide(m2.id, 'dismissed', 'olga', 'y', null)).toMatchObject({ changes: 0, review: { status: 'dismissed' } });
      // Decided: the retention rule applies to them too.
      expect(await store.sms.purgeBodies('2026-07-01T00:00:00.000Z')).toBe(2);
      expect(await store.verifyLedger()).toMatchObject({ ok: true, events: 1 });
    });

    it('settings: saved, removed with null, read back', async () => {
      const { store } = await fresh();
      expect(await store.sms.settings()).toEqual({});
      expect(await store.sms.saveSettings({ organisation: 'Acme', helpText: 'Call us', retentionDays: '7' })).toEqual({ organisation: 'Acme', helpText: 'Call us', retentionDays: '7' });
      expect(await store.sms.saveSettings({ helpText: null, lang: 'fr' })).toEqual({ organisation: 'Acme', lang: 'fr', retentionDays: '7' });
      expect(await store.sms.settings()).toEqual({ organisation: 'Acme', lang: 'fr', retentionDays: '7' });
    });
  });


  describe('suppression list', () => {
    const T0 = '2026-01-02T03:04:05.000Z';
    async function freshAt(now: () => string): Promise<{ store: LandingStore; location: string }> {
      const location = await tempStore(backend);
      const store = await openStore(location, { now });
      opened.push(store);
      return { store, location };
    }

    it('keyOf is an HMAC of the normalised address with a secret of the store: stable in a store, one key per number for sms and phone, another in another store', async () => {
      const { store } = await fresh();
      const { store: other } = await fresh();
      const k = await store.suppressions.keyOf('email', 'ann@example.com');
      expect(k).toMatch(/^[0-9a-f]{64}$/);
      expect(await store.suppressions.keyOf('email', 'ann@example.com')).toBe(k);
      expect(await store.suppressions.keyOf('sms', '+33612345678')).toBe(await store.suppressions.keyOf('phone', '+33612345678'));
      expect(await other.suppressions.keyOf('email', 'ann@example.com')).not.toBe(k);
    });

    it('blockingMany gives, for each pair of addresses, exactly what blocking gives (one read for a page of profiles)', async () => {
      const { store } = await freshAt(() => T0);
      await store.suppressions.add(
        [
          { channel: 'email', address: 'ann@example.com', reason: 'hard-bounce' },
          { channel: 'sms', address: '+33612345678', reason: 'sms-stop' },
          { channel: 'phone', address: '+33612345678', reason: 'manual' },
          { channel: 'email', address: 'old@example.com', reason: 'manual', expiresAt: '2026-01-03T00:00:00.000Z' },
        ],
        ctx(),
      );
      const asked = [
        { email: 'ann@example.com', phone: '+33612345678' },
        { email: 'bob@example.com', phone: '+33612345678' },
        { email: 'bob@example.com', phone: null },
        { email: 'old@example.com', phone: null },
        { email: 'ann@example.com', phone: null },
      ];
      for (const at of [T0, '2026-01-04T00:00:00.000Z']) {
        const many = await store.suppressions.blockingMany(asked, at);
        expect(many).toEqual(await Promise.all(asked.map((a) => store.suppressions.blocking(a.email, a.phone, at))));
        expect(many.map((l) => l.length)).toEqual([3, 2, 0, at === T0 ? 1 : 0, 1]);
      }
      expect(await store.suppressions.blockingMany([])).toEqual([]);
    });

    it('adds (one transaction, one suppress event per entry, no address in the ledger), reports already, replaces a lower-ranked reason only', async () => {
      const { store, location } = await fresh();
      const added = await store.suppressions.add(
        [
          { channel: 'email', address: 'ann@example.com', reason: 'hard-bounce', note: 'from SES' },
          { channel: 'sms', address: '+33612345678', reason: 'sms-stop' },
        ],
        ctx({ source: 'import:ses.csv' }),
      );
      expect(added.map((r) => r.outcome)).toEqual(['added', 'added']);
      expect(added[0]!.entry).toEqual({
        channel: 'email', address: 'ann@example.com', addressKey: await store.suppressions.keyOf('email', 'ann@example.com'),
        reason: 'hard-bounce', origin: 'import:ses.csv', note: 'from SES', createdAt: T0, expiresAt: null,
      });
      const again = await store.suppressions.add([{ channel: 'email', address: 'ann@example.com', reason: 'manual' }], ctx());
      expect(again.map((r) => [r.outcome, r.entry.reason])).toEqual([['already', 'hard-bounce']]);
      const worse = await store.suppressions.add([{ channel: 'email', address: 'ann@example.com', reason: 'complaint' }], ctx({ occurredAt: '2026-01-03T00:00:00.000Z' }));
      expect(worse.map((r) => [r.outcome, r.entry.reason])).toEqual([['replaced', 'complaint']]);
      expect(await store.suppressions.add([{ channel: 'email', address: 'ann@example.com', reason: 'hard-bounce' }], ctx())).toMatchObject([{ outcome: 'already', entry: { reason: 'complaint' } }]);
      expect(await store.suppressions.findByAddress('email', 'ann@example.com')).toMatchObject({ reason: 'complaint', createdAt: '2026-01-03T00:00:00.000Z', origin: 'operator' });
      expect(await store.suppressions.findByAddress('email', 'bob@example.com')).toBeNull();
      const events = await rawSql(location, 'SELECT * FROM ledger_events ORDER BY id');
      expect(events.map((e) => [e.profile_id, e.channel, e.action, e.reason, e.source])).toEqual([
        [null, 'email', 'suppress', 'hard-bounce', 'import:ses.csv'],
        [null, 'sms', 'suppress', 'sms-stop', 'import:ses.csv'],
        [null, 'email', 'suppress', 'complaint', 'operator'],
      ]);
      expect(JSON.stringify(events)).not.toMatch(/ann@example\.com|33612345678|from SES/);
      expect(events[0]!.address_key).toBe(added[0]!.entry.addressKey);
      expect(await store.verifyLedger()).toMatchObject({ ok: true, events: 3, blocks: 2 });
      // Bad input writes nothing: a bad reason among good entries.
      await expect(store.suppressions.add([{ channel: 'email', address: 'c@x.io', reason: 'manual' }, { channel: 'email', address: 'd@x.io', reason: 'Bad Reason' }], ctx())).rejects.toMatchObject({ kind: 'invalid' });
      expect(await store.suppressions.findByAddress('email', 'c@x.io')).toBeNull();
    });

    it('lifts: absent when none, a complaint only with force (nothing lifted without it), recorded with its reason; list, filters and order', async () => {
      const { store, location } = await fresh();
      await store.suppressions.add(
        [
          { channel: 'email', address: 'b@x.io', reason: 'complaint' },
          { channel: 'email', address: 'a@x.io', reason: 'hard-bounce' },
          { channel: 'phone', address: '+33612345678', reason: 'manual' },
        ],
        ctx(),
      );
      const all = async (f = {}) => (await collect(store.suppressions.list(f))).map((s) => `${s.channel}:${s.address}:${s.reason}`);
      expect(await all()).toEqual(['email:a@x.io:hard-bounce', 'email:b@x.io:complaint', 'phone:+33612345678:manual']);
      expect(await all({ channel: 'email', reason: 'complaint' })).toEqual(['email:b@x.io:complaint']);
      await expect(store.suppressions.lift([{ channel: 'email', address: 'a@x.io' }, { channel: 'email', address: 'b@x.io' }], ctx({ reason: 'asked' }))).rejects.toMatchObject({
        kind: 'invalid', message: expect.stringMatching(/b@x\.io \(email\) is suppressed for complaint.*--force/),
      });
      expect(await all()).toHaveLength(3);
      await expect(store.suppressions.lift([{ channel: 'email', address: 'a@x.io' }], ctx())).rejects.toMatchObject({ kind: 'invalid', message: expect.stringMatching(/needs a reason/) });
      const lifted = await store.suppressions.lift(
        [{ channel: 'email', address: 'a@x.io' }, { channel: 'email', address: 'b@x.io' }, { channel: 'sms', address: '+33612345678' }],
        ctx({ reason: 'asked by phone', source: 'operator' }),
        { force: true },
      );
      expect(lifted.map((r) => r.outcome)).toEqual(['lifted', 'lifted', 'absent']);
      expect(await all()).toEqual(['phone:+33612345678:manual']);
      const events = await rawSql(location, "SELECT action, reason, evidence FROM ledger_events WHERE action = 'unsuppress' ORDER BY id");
      expect(events).toEqual([
        { action: 'unsuppress', reason: 'asked by phone', evidence: null },
        { action: 'unsuppress', reason: 'asked by phone', evidence: JSON.stringify({ forced: true, liftedReason: 'complaint' }) },
      ]);
      expect(await store.verifyLedger()).toMatchObject({ ok: true, events: 5 });
    });

    it('reachability: a suppressed address blocks every profile holding it on that channel, profiles added later too; an expired entry no longer blocks', async () => {
      let now = T0;
      const { store } = await freshAt(() => now);
      await store.addProfile(person('a@x.io', { phone: '+33612345678' }), 'x');
      await store.addProfile(person('b@x.io', { phone: '+33612345678' }), 'x');
      await store.addProfile(person('c@x.io', { phone: '+33699999999' }), 'x');
      await store.suppressions.add(
        [
          { channel: 'email', address: 'a@x.io', reason: 'hard-bounce' },
          { channel: 'sms', address: '+33612345678', reason: 'sms-stop' },
          { channel: 'phone', address: '+33699999999', reason: 'manual', expiresAt: '2026-02-01T00:00:00.000Z' },
        ],
        ctx(),
      );
      await store.addProfile(person('late@x.io', { phone: '+33612345678' }), 'x');
      const ids = async (f: Parameters<LandingStore['listProfiles']>[0]) => (await collect(store.listProfiles(f))).map((p) => p.id);
      expect(await ids({ reachable: 'email' })).toEqual([2, 3, 4]);
      expect(await ids({ unreachable: 'email' })).toEqual([1]);
      expect(await ids({ reachable: 'sms' })).toEqual([3]);
      expect(await ids({ unreachable: 'sms' })).toEqual([1, 2, 4]);
      expect(await ids({ reachable: 'phone' })).toEqual([1, 2, 4]);
      expect(await ids({ reachable: 'postal' })).toEqual([1, 2, 3, 4]);
      expect((await collect(store.bulk.listContacts({ reachable: 'email' }))).flat().map((c) => c[0])).toEqual([2, 3, 4]);
      expect((await store.suppressions.blocking('a@x.io', '+33612345678')).map((s) => s.channel)).toEqual(['email', 'sms']);
      now = '2026-02-01T00:00:00.000Z'; // expires_at is the first moment it no longer blocks
      expect(await ids({ reachable: 'phone' })).toEqual([1, 2, 3, 4]);
      expect(await store.suppressions.blocking('c@x.io', '+33699999999')).toEqual([]);
      expect((await collect(store.suppressions.list())).map((s) => s.channel)).toEqual(['email', 'sms']);
      expect((await collect(store.suppressions.list({ includeExpired: true }))).map((s) => s.channel)).toEqual(['email', 'phone', 'sms']);
      // Adding over an expired entry is a new entry.
      expect(await store.suppressions.add([{ channel: 'phone', address: '+33699999999', reason: 'manual' }], ctx({ occurredAt: now }))).toMatchObject([{ outcome: 'added' }]);
      expect(await ids({ reachable: 'phone' })).toEqual([1, 2, 4]);
      expect(await store.verifyLedger()).toMatchObject({ ok: true });
    });

    it('the services receiving counts and pending confirmations follow the suppression list', async () => {
      const { store } = await freshAt(() => T0);
      await store.addProfile(person('a@x.io'), 'x');
      await store.addProfile(person('b@x.io'), 'x');
      await store.services.create({ name: 'news', label: 'News', description: null, channel: 'email', doubleOptIn: true }, 'x');
      await store.services.change([1, 2].map((profileId) => ({ profileId, service: 'news', intent: 'request' as const })), ctx());
      await store.suppressions.add([{ channel: 'email', address: 'a@x.io', reason: 'hard-bounce' }], ctx());
      expect((await collect(store.services.pending('news'))).map((p) => [p.profileId, p.reachable])).toEqual([[1, false], [2, true]]);
      await store.services.change([1, 2].map((profileId) => ({ profileId, service: 'news', intent: 'confirm' as const })), ctx());
      expect(await store.services.summary('news')).toMatchObject({ subscribers: 2, receiving: 1 });
      expect((await collect(store.listProfiles({ subscribed: 'news' }))).map((p) => p.id)).toEqual([2]);
    });

    it('an entry kept only as its key (erasure) is found by key and by address, and blocks once restoreAddresses fills its address in', async () => {
      const { store, location } = await freshAt(() => T0);
      const key = await store.suppressions.keyOf('email', 'gone@x.io');
      expect(await store.suppressions.add([{ channel: 'email', address: null, addressKey: key, reason: 'erasure' }], ctx())).toMatchObject([{ outcome: 'added', entry: { address: null, addressKey: key } }]);
      expect(await store.suppressions.findByKey('email', key)).toMatchObject({ reason: 'erasure', address: null });
      expect(await store.suppressions.findByAddress('email', 'gone@x.io')).toMatchObject({ reason: 'erasure' });
      expect(await store.suppressions.restoreAddresses([{ channel: 'email', address: 'gone@x.io' }, { channel: 'email', address: 'other@x.io' }])).toBe(1);
      await store.addProfile(person('gone@x.io'), 'x');
      expect((await collect(store.listProfiles({ unreachable: 'email' }))).map((p) => p.id)).toEqual([1]);
      expect(await store.verifyLedger()).toMatchObject({ ok: true });
      expect(JSON.stringify(await rawSql(location, 'SELECT * FROM ledger_events'))).not.toContain('gone@x.io');
    });

    it("verify replays the address events: an entry deleted, added or changed behind the tool's back is named by its key", async () => {
      const { store, location } = await fresh();
      await store.addProfile(person('a@x.io'), 'x');
      await store.applyConsent([{ profileId: 1, wanted: { sms: true } }], ctx());
      await store.suppressions.add([{ channel: 'email', address: 'a@x.io', reason: 'complaint', expiresAt: '2027-01-01T00:00:00.000Z' }], ctx());
      const key = await store.suppressions.keyOf('email', 'a@x.io');
      expect(await store.verifyLedger()).toMatchObject({ ok: true, events: 2 });
      await tamper(location, "UPDATE suppressions SET expires_at = '2026-01-03T00:00:00.000Z'");
      expect(await store.verifyLedger()).toMatchObject({ ok: false, check: 'state', disagreement: { kind: 'suppression', profileId: null, channel: 'email', addressKey: key, eventId: 2 } });
      await tamper(location, 'DELETE FROM suppressions');
      const v = await store.verifyLedger();
      expect(v).toMatchObject({ ok: false, check: 'state', disagreement: { kind: 'suppression', stored: null, ledger: 'complaint' } });
      expect(v.ok === false && v.problem).toBe(`the suppression of ${key.slice(0, 12)}… on email is absent but the ledger says suppressed for complaint by operator at ${T0} until 2027-01-01T00:00:00.000Z (event 2)`);
      await tamper(location, `INSERT INTO suppressions (channel, address, address_key, reason, origin, created_at) VALUES ('email', 'a@x.io', '${key}', 'complaint', 'operator', '${T0}'), ('sms', 'x', 'k', 'manual', 'operator', 'x')`);
      expect(await store.verifyLedger()).toMatchObject({ ok: false, disagreement: { kind: 'suppression', channel: 'email' } }); // the expiry is missing
    });
  });

  describe('ledger digests (store.digests)', () => {
    it('head is the last block (null on an empty ledger); block(id) names any block with its hash and the events up to it', async () => {
      const { store, location } = await fresh();
      expect(await store.digests.head()).toBeNull();
      expect(await store.digests.block(1)).toBeNull();
      await store.addProfile(person('ann@example.com'), 'x');
      await store.addProfile(person('bob@example.com'), 'x');
      await store.applyConsent([{ profileId: 1, wanted: { sms: true } }], ctx({ occurredAt: '2026-01-02T00:00:00.000Z' }));
      await store.applyConsent([{ profileId: 1, wanted: { email: true } }, { profileId: 2, wanted: { all: true } }], ctx({ occurredAt: '2026-01-03T00:00:00.000Z' }));
      const blocks = await rawSql(location, 'SELECT id, hash, last_event_id, created_at FROM ledger_blocks ORDER BY id');
      expect(blocks).toHaveLength(2);
      const verified = await store.verifyLedger();
      expect(verified).toMatchObject({ ok: true, events: 3, head: blocks[1].hash });
      expect(await store.digests.head()).toEqual({ blockId: 2, hash: blocks[1].hash, events: 3, committedAt: blocks[1].created_at });
      expect(await store.digests.block(1)).toEqual({ blockId: 1, hash: blocks[0].hash, events: 1, committedAt: blocks[0].created_at });
      expect(await store.digests.block(3)).toBeNull();
      expect(await store.digests.block(2 ** 62)).toBeNull();
    });
  });

  describe('concurrency', () => {
    /** Spawns writer processes (test/store-contract/writer.mjs), each with several concurrent writers (connections). */
    async function runWriters(location: string, processes: { writers: { name: string; profileId: number; rounds: Record<string, boolean>[] }[] }[]) {
      const script = join(process.cwd(), 'test/store-contract/writer.mjs');
      const outs = await Promise.all(
        processes.map(
          (spec) =>
            new Promise<{ changes: number }>((resolve, reject) => {
              const child = spawn(process.execPath, [script, location, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
              let out = '';
              let err = '';
              child.stdout.on('data', (d) => (out += d));
              child.stderr.on('data', (d) => (err += d));
              child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`writer exited ${code}: ${err}`))));
            }),
        ),
      );
      return outs.reduce((n, o) => n + o.changes, 0);
    }

    it('40 writers on 40 profiles and 18 writers on one profile, from 4 processes: one event per real change, the chain whole', async () => {
      const { store, location } = await fresh();
      const rows = Array.from({ length: 41 }, (_, i) => `('c${i + 1}@x.io', 'x', 'x')`).join(', ');
      await rawSql(location, `INSERT INTO profiles (email, created_at, updated_at) VALUES ${rows}`);
      const channels = ['email', 'sms', 'phone', 'postal', 'fax', 'push'];
      // Each of the 40 toggles its own profile's email flag 3 times (3 real changes);
      // the 18 on profile 41 all want the same things (6 channels, each wanted by 3): 6 real changes in all.
      const many = Array.from({ length: 40 }, (_, i) => ({ name: `m${i}`, profileId: i + 1, rounds: [{ email: true }, { email: false }, { email: true }] }));
      const one = Array.from({ length: 18 }, (_, i) => ({ name: `o${i}`, profileId: 41, rounds: [{ [channels[i % 6]!]: true }, { [channels[i % 6]!]: true }] }));
      const all = [...many, ...one];
      const processes = [0, 1, 2, 3].map((k) => ({ writers: all.filter((_, i) => i % 4 === k) }));
      const changes = await runWriters(location, processes);
      expect(changes).toBe(40 * 3 + 6);
      const [{ n }] = await rawSql(location, 'SELECT count(*) AS n FROM ledger_events');
      expect(Number(n)).toBe(126);
      expect(await store.history(41)).toHaveLength(6);
      expect((await store.findProfile({ id: 41 }))!.optOut).toEqual({ all: false, email: true, sms: true, phone: true, postal: true, fax: true, push: true });
      for (let id = 1; id <= 40; id++) expect(await store.history(id)).toHaveLength(3);
      expect(await store.verifyLedger()).toMatchObject({ ok: true, events: 126 });
    }, 60_000);
  });
});
