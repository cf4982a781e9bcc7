import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/store/sqlite/open.js';
import { LATEST_VERSION, MIGRATIONS } from '../src/store/sqlite/migrations.js';
import { LEDGER_ACTIONS } from '../src/consent/ledger.js';
import { runCli, runJson, tempDb } from './helpers/run-cli.js';

type Snapshot = Record<string, unknown[]>;

/** Every row of every table, by table. */
function snapshot(db: Database.Database): Snapshot {
  const tables = db
    .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .all();
  const snap: Snapshot = {};
  for (const { name } of tables) snap[name] = db.prepare(`SELECT * FROM "${name}" ORDER BY 1, 2`).all();
  return snap;
}

const hasTable = (db: Database.Database, name: string) =>
  db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;

/** Some data in whatever tables the schema has at this version (raw SQL: the store class only knows the latest schema). */
function seed(db: Database.Database): void {
  const at = '2026-01-01T00:00:00.000Z';
  db.prepare('INSERT INTO profiles (email, phone, first_name, optout_sms, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)').run('old@example.com', '+33612345678', 'Old', at, at);
  db.prepare("INSERT INTO settings (key, value) VALUES ('seeded', 'yes')").run();
  if (hasTable(db, 'services')) {
    db.prepare("INSERT INTO services (name, label, channel, double_opt_in, created_at) VALUES ('news', 'News', 'email', 1, ?)").run(at);
    db.prepare("INSERT INTO subscriptions (profile_id, service_id, status, since) VALUES (1, 1, 'pending', ?)").run(at);
  }
  db.prepare("INSERT INTO ledger_events (profile_id, channel, action, source, actor, occurred_at) VALUES (1, 'sms', 'optout', 'seed', 'seed', ?)").run(at);
  // A user agent kept beside that event (schema 7): rebuilding ledger_events (migration 8) must keep the row it references.
  if (hasTable(db, 'ledger_user_agents')) db.prepare("INSERT INTO ledger_user_agents (event_id, salt, user_agent) VALUES (1, 'salt', 'UA')").run();
  if (hasTable(db, 'landing_pages')) {
    const def = JSON.stringify({ slug: 'old', type: 'blocklist', title: 'Old', intro: null, lang: 'en', channels: [], wording: 'consent', confirmation: null });
    db.prepare('INSERT INTO landing_pages (slug, draft, created_at, updated_at) VALUES (?, ?, ?, ?)').run('old', def, at, at);
    db.prepare('INSERT INTO landing_page_versions (slug, version, definition, published_at, published_by) VALUES (?, 1, ?, ?, ?)').run('old', def, at, 'seed');
  }
}

describe('migrations', () => {
  it('are numbered 1, 2, … without gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  const earlier = MIGRATIONS.filter((m) => m.version < LATEST_VERSION).map((m) => m.version);
  it.each(earlier)('a store at version %i with data migrates to the latest, keeping its data', async (version) => {
    const path = tempDb();
    const old = openDatabase(path, { targetVersion: version });
    expect(old.pragma('user_version', { simple: true })).toBe(version);
    seed(old);
    const before = snapshot(old);
    old.close();

    const db = openDatabase(path);
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST_VERSION);
    // The ledger stays append-only whatever migrations rebuilt it (4, 8, 15).
    expect(() => db.prepare("UPDATE ledger_events SET actor = 'x'").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM ledger_events').run()).toThrow(/append-only/);
    const after = snapshot(db);
    expect(after.settings!.filter((r) => (r as { key: string }).key === 'suppression_key')).toEqual([
      { key: 'suppression_key', value: expect.stringMatching(/^[0-9a-f]{64}$/) },
    ]);
    expect(after.settings!.filter((r) => (r as { key: string }).key === 'store_id')).toEqual([{ key: 'store_id', value: expect.stringMatching(/^[0-9a-f]{32}$/) }]);
    db.close();
    for (const [table, rows] of Object.entries(before)) {
      // Rows kept, each with its old columns unchanged (a later migration may add columns).
      // Migration 4 adds one setting, the suppression list's secret (checked below).
      // Migration 10 adds another, the store's identity (the change feed's cursors carry it).
      const added = (key: string) => (key === 'suppression_key' && version < 4) || (key === 'store_id' && version < 10);
      const now = table === 'settings' ? after[table]!.filter((r) => !added((r as { key: string }).key)) : after[table]!;
      expect(now, table).toHaveLength(rows.length);
      rows.forEach((row, i) => expect(now[i], table).toMatchObject(row as object));
    }

    // The migrated store works: the old profile is there, it has a signing key, pages can be made and linked.
    const profile = await runJson(path, ['profile', 'show', 'old@example.com', '--json']);
    expect(profile.optOut.sms).toBe(true);
    // A phone stored by an earlier version is found by phone.
    expect((await runJson(path, ['profile', 'show', '+33 6 12 34 56 78', '--json'])).id).toBe(profile.id);
    if (version >= 2) expect(profile.subscriptions).toEqual([{ service: 'news', status: 'pending', since: '2026-01-01T00:00:00.000Z' }]);
    expect(await runJson(path, ['keys', 'list', '--json'])).toHaveLength(1);
    expect((await runCli(['--db', path, 'landing', 'create', 'new', '--type', 'blocklist', '--title', 'New'])).code).toBe(0);
    expect((await runCli(['--db', path, 'landing', 'publish', 'new', '--out-dir', `${path}.out`])).code).toBe(0);
    const link = await runJson(path, ['landing', 'link', 'new', '--profile', String(profile.id), '--json']);
    expect(link.oneClickUrl).toMatch(/\/new\/one-click\?t=/);
  });

  it("the latest schema's ledger takes exactly the actions the code knows, store-level events without a profile, and stays append-only", () => {
    const db = openDatabase(tempDb());
    const at = '2026-01-01T00:00:00.000Z';
    db.prepare('INSERT INTO profiles (email, created_at, updated_at) VALUES (?, ?, ?)').run('p@example.com', at, at);
    const insert = db.prepare('INSERT INTO ledger_events (profile_id, channel, action, source, actor, evidence, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    for (const action of LEDGER_ACTIONS) {
      if (action === 'suppress' || action === 'unsuppress' || action === 'policy' || action === 'address') continue;
      insert.run(1, 'email', action, 'test', 'test', null, at);
    }
    insert.run(null, 'sms', 'policy', 'operator', 'test', '{"basis":"opt-in"}', at);
    // A change of phone: a profile's event on channel all, with its evidence (the keys), never without.
    insert.run(1, 'all', 'address', 'import:p.csv', 'test', '{"from":null,"to":null}', at);
    expect(() => insert.run(1, 'sms', 'address', 'import:p.csv', 'test', '{"from":null,"to":null}', at)).toThrow(/CHECK/);
    expect(() => insert.run(1, 'all', 'address', 'import:p.csv', 'test', null, at)).toThrow(/CHECK/);
    expect(() => insert.run(null, 'all', 'address', 'import:p.csv', 'test', '{"from":null,"to":null}', at)).toThrow(/CHECK/);
    expect(() => insert.run(null, 'sms', 'optout', 'operator', 'test', null, at)).toThrow(/CHECK/);
    expect(() => insert.run(1, 'sms', 'policy', 'operator', 'test', null, at)).toThrow(/CHECK/);
    expect(() => insert.run(1, 'sms', 'grant-all', 'operator', 'test', null, at)).toThrow(/CHECK/);
    expect(() => db.prepare('DELETE FROM ledger_events').run()).toThrow(/append-only/);
    db.close();
  });

  it('published page versions cannot be changed or deleted', () => {
    const path = tempDb();
    const db = openDatabase(path);
    seed(db);
    expect(() => db.prepare("UPDATE landing_page_versions SET definition = '{}'").run()).toThrow(/immutable/);
    expect(() => db.prepare('DELETE FROM landing_page_versions').run()).toThrow(/immutable/);
    db.close();
  });
});
