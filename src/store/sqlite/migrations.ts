import { brandVersionsDdl, pageStringsDdl } from '../shared/brand-rows.js';
import { webhooksDdl } from '../shared/webhook-rows.js';
import { randomBytes } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { CHANNELS } from '../../consent/channels.js';

/** Migration 8's action list, frozen: LEDGER_ACTIONS at schema 8. */
const V8_ACTIONS = ['optout', 'optin', 'subscribe', 'request', 'confirm', 'unsubscribe', 'suppress', 'unsuppress', 'erase', 'policy', 'reason'].map((a) => `'${a}'`).join(', ');
/** Migration 15's action list, frozen: LEDGER_ACTIONS at schema 15. */
const V15_ACTIONS = ['optout', 'optin', 'subscribe', 'request', 'confirm', 'unsubscribe', 'suppress', 'unsuppress', 'erase', 'policy', 'reason', 'address'].map((a) => `'${a}'`).join(', ');
/** Migration 4's action list, frozen (a released migration never changes; later actions come with later migrations). */
const V4_ACTIONS = ['optout', 'optin', 'subscribe', 'request', 'confirm', 'unsubscribe', 'suppress', 'unsuppress', 'erase'].map((a) => `'${a}'`).join(', ');
import { smsMessagesDdl } from '../shared/sms-rows.js';

/**
 * Numbered, forward-only migrations. `PRAGMA user_version` holds the number
 * of the last one applied. Never edit a released migration: add the next one.
 * Keep to SQL that the sqlite3 shell of Debian 12 (3.40) reads.
 */
export interface Migration {
  version: number;
  description: string;
  up(db: Database): void;
}

const optOutColumns = CHANNELS.map(
  (c) => `optout_${c} INTEGER NOT NULL DEFAULT 0 CHECK (optout_${c} IN (0, 1))`,
).join(',\n    ');

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'profiles, consent flags, and the hash-chained ledger',
    up(db) {
      db.exec(`
  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  CREATE TABLE profiles (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    phone TEXT,
    first_name TEXT,
    last_name TEXT,
    ${optOutColumns},
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE UNIQUE INDEX profiles_email ON profiles (email);
  CREATE TABLE ledger_events (
    id INTEGER PRIMARY KEY,
    profile_id INTEGER NOT NULL REFERENCES profiles (id),
    channel TEXT NOT NULL,
    -- channel flags: optout/optin; service subscriptions: subscribe, request
    -- (pending double opt-in), confirm, unsubscribe (with service set)
    service TEXT,
    action TEXT NOT NULL CHECK (action IN ('optout', 'optin', 'subscribe', 'request', 'confirm', 'unsubscribe')),
    source TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    evidence TEXT,
    occurred_at TEXT NOT NULL
  );
  CREATE INDEX ledger_events_profile ON ledger_events (profile_id, channel, id);
  CREATE TABLE ledger_blocks (
    id INTEGER PRIMARY KEY,
    first_event_id INTEGER NOT NULL,
    last_event_id INTEGER NOT NULL,
    event_count INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TRIGGER ledger_events_append_only_u BEFORE UPDATE ON ledger_events
    BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
  CREATE TRIGGER ledger_events_append_only_d BEFORE DELETE ON ledger_events
    BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
  CREATE TRIGGER ledger_blocks_append_only_u BEFORE UPDATE ON ledger_blocks
    BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
  CREATE TRIGGER ledger_blocks_append_only_d BEFORE DELETE ON ledger_blocks
    BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
`);
    },
  },
  {
    version: 2,
    description: 'services and subscriptions',
    up(db) {
      db.exec(`
  CREATE TABLE services (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    description TEXT,
    channel TEXT NOT NULL,
    double_opt_in INTEGER NOT NULL DEFAULT 0 CHECK (double_opt_in IN (0, 1)),
    created_at TEXT NOT NULL
  );
  CREATE TABLE subscriptions (
    profile_id INTEGER NOT NULL REFERENCES profiles (id),
    service_id INTEGER NOT NULL REFERENCES services (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'subscribed', 'unsubscribed')),
    since TEXT NOT NULL,
    PRIMARY KEY (profile_id, service_id)
  ) WITHOUT ROWID;
  CREATE INDEX subscriptions_service ON subscriptions (service_id, status);
`);
    },
  },
  {
    version: 3,
    description: 'landing pages (drafts, immutable published versions) and link-signing keys',
    up(db) {
      db.exec(`
  CREATE TABLE landing_pages (
    slug TEXT PRIMARY KEY,
    draft TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE landing_page_versions (
    slug TEXT NOT NULL REFERENCES landing_pages (slug),
    version INTEGER NOT NULL CHECK (version >= 1),
    definition TEXT NOT NULL,
    published_at TEXT NOT NULL,
    published_by TEXT NOT NULL,
    PRIMARY KEY (slug, version)
  );
  CREATE TRIGGER landing_page_versions_immutable_u BEFORE UPDATE ON landing_page_versions
    BEGIN SELECT RAISE(ABORT, 'published page versions are immutable'); END;
  CREATE TRIGGER landing_page_versions_immutable_d BEFORE DELETE ON landing_page_versions
    BEGIN SELECT RAISE(ABORT, 'published page versions are immutable'); END;
  CREATE TABLE signing_keys (
    id INTEGER PRIMARY KEY,
    secret BLOB NOT NULL CHECK (length(secret) >= 32),
    created_at TEXT NOT NULL,
    retired_at TEXT
  );
`);
      // The store's first link-signing key, made with the store.
      db.prepare(`INSERT INTO signing_keys (secret, created_at) VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`).run(
        randomBytes(32),
      );
    },
  },
  {
    version: 4,
    description: 'the suppression list (by address), its key, and address events in the ledger',
    up(db) {
      // ledger_events is rebuilt (SQLite cannot drop a NOT NULL or change a
      // CHECK in place): the same rows, ids and bytes (so the same hashes),
      // profile_id nullable for address events, the action list widened once
      // for #13, and address_key appended. DROP TABLE does not fire the
      // append-only triggers; they are recreated on the new table.
      db.exec(`
  CREATE TABLE ledger_events_v4 (
    id INTEGER PRIMARY KEY,
    -- NULL for address events (suppress/unsuppress), which name an address by address_key only
    profile_id INTEGER REFERENCES profiles (id),
    channel TEXT NOT NULL,
    service TEXT,
    action TEXT NOT NULL CHECK (action IN (${V4_ACTIONS})),
    source TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    evidence TEXT,
    occurred_at TEXT NOT NULL,
    address_key TEXT,
    CHECK (CASE WHEN action IN ('suppress', 'unsuppress') THEN profile_id IS NULL AND address_key IS NOT NULL
      ELSE profile_id IS NOT NULL AND address_key IS NULL END)
  );
  INSERT INTO ledger_events_v4 (id, profile_id, channel, service, action, source, actor, reason, evidence, occurred_at)
    SELECT id, profile_id, channel, service, action, source, actor, reason, evidence, occurred_at FROM ledger_events ORDER BY id;
  DROP TABLE ledger_events;
  ALTER TABLE ledger_events_v4 RENAME TO ledger_events;
  CREATE INDEX ledger_events_profile ON ledger_events (profile_id, channel, id);
  CREATE INDEX ledger_events_address ON ledger_events (channel, address_key, id) WHERE address_key IS NOT NULL;
  CREATE TRIGGER ledger_events_append_only_u BEFORE UPDATE ON ledger_events
    BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
  CREATE TRIGGER ledger_events_append_only_d BEFORE DELETE ON ledger_events
    BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
  CREATE TABLE suppressions (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'phone')),
    -- normalised email or E.164; NULL when kept only as its keyed hash (erasure)
    address TEXT,
    address_key TEXT NOT NULL,
    reason TEXT NOT NULL,
    origin TEXT NOT NULL,
    note TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT
  );
  CREATE UNIQUE INDEX suppressions_key ON suppressions (channel, address_key);
  CREATE INDEX suppressions_address ON suppressions (channel, address) WHERE address IS NOT NULL;
`);
      // The secret of addressKey (HMAC-SHA256), made with the store; never shown.
      db.prepare(`INSERT INTO settings (key, value) VALUES ('suppression_key', ?)`).run(randomBytes(32).toString('hex'));
    },
  },
  {
    version: 5,
    description: "mailbox providers' feedback: each report recorded once, soft bounces by keyed hash",
    up(db) {
      // soft_bounces never holds an address: address_key is the suppression list's keyed hash (HMAC-SHA256 with the store's secret).
      db.exec(`
  CREATE TABLE feedback_reports (
    report_key TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('bounce', 'complaint')),
    file TEXT NOT NULL,
    reported_at TEXT NOT NULL,
    ingested_at TEXT NOT NULL
  );
  CREATE TABLE soft_bounces (
    address_key TEXT NOT NULL,
    report_key TEXT NOT NULL REFERENCES feedback_reports (report_key),
    bounced_at TEXT NOT NULL,
    PRIMARY KEY (address_key, report_key)
  );
`);
    },
  },
  {
    version: 6,
    description: 'inbound SMS messages (STOP, START, HELP replies): their outcomes and the review queue',
    up(db) {
      db.exec(smsMessagesDdl({ id: 'INTEGER PRIMARY KEY', int: 'INTEGER' }));
    },
  },
  {
    version: 7,
    description: 'erasure (GDPR art. 17): profiles.erased_at, and user agents kept beside the ledger (deletable)',
    up(db) {
      db.exec(`
  -- set when the profile's personal data was erased (email then a placeholder, phone and names NULL)
  ALTER TABLE profiles ADD COLUMN erased_at TEXT;
  -- The user agent of a page submission, outside the hashed ledger text (which holds a salted digest of it),
  -- so that an erasure can delete it without breaking the chain. Not append-only.
  CREATE TABLE ledger_user_agents (
    event_id INTEGER PRIMARY KEY REFERENCES ledger_events (id),
    salt TEXT NOT NULL,
    user_agent TEXT NOT NULL
  );
`);
    },
  },
  {
    version: 8,
    description: 'store-level ledger events (policy: a channel\'s consent basis) and unsubscribe reasons (reason)',
    up(db) {
      // ledger_events is rebuilt once more, as in migration 4 (same rows, ids
      // and bytes, so the same hashes): the action list gains `policy` (a
      // store-level event: profile_id and address_key NULL, service NULL) and
      // `reason` (a profile event that changes no flag). The user agents kept
      // beside events reference ledger_events: dropping the old table would
      // break that foreign key, so they are set aside in a temporary table
      // and put back once the rebuilt table has every id again.
      db.exec(`
  CREATE TEMP TABLE ledger_user_agents_v8 AS SELECT event_id, salt, user_agent FROM ledger_user_agents;
  DELETE FROM ledger_user_agents;
  CREATE TABLE ledger_events_v8 (
    id INTEGER PRIMARY KEY,
    -- NULL for address events (suppress/unsuppress, named by address_key) and store events (policy)
    profile_id INTEGER REFERENCES profiles (id),
    channel TEXT NOT NULL,
    service TEXT,
    action TEXT NOT NULL CHECK (action IN (${V8_ACTIONS})),
    source TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    evidence TEXT,
    occurred_at TEXT NOT NULL,
    address_key TEXT,
    CHECK (CASE WHEN action IN ('suppress', 'unsuppress') THEN profile_id IS NULL AND address_key IS NOT NULL
      WHEN action = 'policy' THEN profile_id IS NULL AND address_key IS NULL AND service IS NULL
      ELSE profile_id IS NOT NULL AND address_key IS NULL END)
  );
  INSERT INTO ledger_events_v8 (id, profile_id, channel, service, action, source, actor, reason, evidence, occurred_at, address_key)
    SELECT id, profile_id, channel, service, action, source, actor, reason, evidence, occurred_at, address_key FROM ledger_events ORDER BY id;
  DROP TABLE ledger_events;
  ALTER TABLE ledger_events_v8 RENAME TO ledger_events;
  CREATE INDEX ledger_events_profile ON ledger_events (profile_id, channel, id);
  CREATE INDEX ledger_events_address ON ledger_events (channel, address_key, id) WHERE address_key IS NOT NULL;
  CREATE INDEX ledger_events_store ON ledger_events (channel, id) WHERE action = 'policy';
  CREATE TRIGGER ledger_events_append_only_u BEFORE UPDATE ON ledger_events
    BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
  CREATE TRIGGER ledger_events_append_only_d BEFORE DELETE ON ledger_events
    BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
  INSERT INTO ledger_user_agents (event_id, salt, user_agent) SELECT event_id, salt, user_agent FROM temp.ledger_user_agents_v8;
  DROP TABLE temp.ledger_user_agents_v8;
`);
    },
  },
  {
    version: 9,
    description: 'consent basis: per contact channel, whether the profile has a grant (its last optin/optout event on that channel is an optin)',
    up(db) {
      // granted_<c>: 1 when the profile's last channel event (service NULL,
      // optin or optout) on c itself is an `optin` (design decision 2 of
      // issue 15); an `all` event does not touch it. Backfilled from the
      // ledger, then kept by one trigger per channel on every insert into
      // ledger_events, so that every writer (operator, pages, group commit,
      // imports, copies) keeps it in the same transaction as its event
      // (named profiles_granted_*, not ledger_*: those are the ledger's
      // append-only guards). An opt-out writes only where it takes a grant
      // back: an import's opt-outs of new profiles cost a probe, not a write. The basis itself is not state: it is read from
      // the last `policy` event (index ledger_events_store).
      const channels = ['email', 'sms', 'phone', 'postal', 'fax', 'push'];
      db.exec(
        channels
          .map(
            (c) => `
  ALTER TABLE profiles ADD COLUMN granted_${c} INTEGER NOT NULL DEFAULT 0 CHECK (granted_${c} IN (0, 1));
  UPDATE profiles SET granted_${c} = 1 WHERE (SELECT e.action FROM ledger_events e
    WHERE e.profile_id = profiles.id AND e.channel = '${c}' AND e.service IS NULL AND e.action IN ('optin', 'optout')
    ORDER BY e.id DESC LIMIT 1) = 'optin';
  CREATE TRIGGER profiles_granted_${c} AFTER INSERT ON ledger_events
    WHEN NEW.channel = '${c}' AND NEW.service IS NULL
      AND (NEW.action = 'optin' OR (NEW.action = 'optout' AND (SELECT granted_${c} FROM profiles WHERE id = NEW.profile_id) = 1))
    BEGIN UPDATE profiles SET granted_${c} = (NEW.action = 'optin') WHERE id = NEW.profile_id; END;`,
          )
          .join('\n'),
      );
    },
  },
  {
    version: 10,
    description: "the change feed and the check API: the store's identity (store_id), the block of an event found by index, API keys (hashes only)",
    up(db) {
      db.exec(`
  -- the block holding an event (the feed's cursors name it): found by an index probe, not a scan
  CREATE INDEX ledger_blocks_last_event ON ledger_blocks (last_event_id);
  -- keys of the check API: only the SHA-256 of each key is kept; a revoked key stays listed
  CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
  );
  CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
  -- the check API asks whether a channel has keyed-only (erased) entries before computing any keyed hash
  CREATE INDEX suppressions_keyed_only ON suppressions (channel, address_key) WHERE address IS NULL;
`);
      // The store's identity, which the feed's cursors carry (a copy of the store copies it, with the ledger).
      db.prepare(`INSERT OR IGNORE INTO settings (key, value) VALUES ('store_id', ?)`).run(randomBytes(16).toString('hex'));
    },
  },
  {
    version: 11,
    description: 'outbound webhooks: their targets and the deliveries fanned out from the ledger (the outbox)',
    up(db) {
      db.exec(webhooksDdl({ hookId: 'INTEGER PRIMARY KEY', deliveryId: 'INTEGER PRIMARY KEY', int: 'INTEGER', big: 'INTEGER' }));
    },
  },
  {
    version: 12,
    description: 'indexes for the overview (stats, report): ledger events by time (blocks by their last event: migration 10)',
    up(db) {
      // `consent stats --since` and the report count a period's opt-outs and
      // opt-ins by time, action, channel and source: a covering index (only
      // those events) grouped in its own order, no table read, no sort. The
      // report also reads a period's survey answers, and finds each opt-out's
      // block (its commit time) by the block's last event id.
      db.exec(`
  CREATE INDEX ledger_events_changes ON ledger_events (occurred_at, action, channel, source)
    WHERE action IN ('optout', 'optin') AND service IS NULL AND profile_id IS NOT NULL;
  CREATE INDEX ledger_events_reasons ON ledger_events (occurred_at) WHERE action = 'reason';
`);
    },
  },
  {
    version: 13,
    description: 'brand versions (the organisation shown on pages) and page strings imported per language',
    up(db) {
      db.exec(`${brandVersionsDdl('INTEGER')}
  CREATE TRIGGER brand_versions_immutable_u BEFORE UPDATE ON brand_versions
    BEGIN SELECT RAISE(ABORT, 'brand versions are immutable'); END;
  CREATE TRIGGER brand_versions_immutable_d BEFORE DELETE ON brand_versions
    BEGIN SELECT RAISE(ABORT, 'brand versions are immutable'); END;
  ${pageStringsDdl}
`);
    },
  },
  {
    version: 14,
    description: 'indexes for stats: profiles by consent state (one index-only GROUP BY), profiles by phone (suppressed sms/phone counts)',
    up(db) {
      // `consent stats` counts profiles per consent state: the flags, grants and
      // erasure folded into one integer (bit i: the i-th of optout_all, optout_<c>
      // for email sms phone postal fax push, granted_<c> for the same; bit 13:
      // erased), so that the count is one index-only GROUP BY over a few dozen
      // values. The expression is written out here (a migration never changes);
      // stats-sql.ts's STATE_MASK_SQLITE is the same expression, which the
      // planner must match. The suppressed counts join the (small) suppression
      // list to profiles through profiles_email and profiles_phone.
      db.exec(`
  CREATE INDEX profiles_consent_state ON profiles (((optout_all << 0) | (optout_email << 1) | (optout_sms << 2) | (optout_phone << 3) | (optout_postal << 4) | (optout_fax << 5) | (optout_push << 6) | (granted_email << 7) | (granted_sms << 8) | (granted_phone << 9) | (granted_postal << 10) | (granted_fax << 11) | (granted_push << 12) | ((erased_at IS NOT NULL) << 13)));
  CREATE INDEX profiles_phone ON profiles (phone) WHERE phone IS NOT NULL;
`);
    },
  },
  {
    version: 15,
    description: "changes of a profile's phone number in the ledger (address: the keys of the old and new number)",
    up(db) {
      // ledger_events is rebuilt as in migrations 4 and 8 (SQLite cannot
      // change a CHECK in place), by SQLite's 12-step procedure: the same
      // rows, ids and bytes (so the same hashes), the action list gaining
      // `address` (a profile event on channel `all`, service and address_key
      // NULL, its evidence the keys of the old and new phone). Every index and
      // trigger of the table (the append-only guards, the grant triggers of
      // migration 9, the indexes of 1, 4, 8 and 12) is read from the schema
      // before the drop and made again, exactly as it was, on the new table.
      // The user agents kept beside events reference the table: set aside and
      // put back, as in migration 8.
      const objects = db
        .prepare<[], { type: string; sql: string }>(
          "SELECT type, sql FROM sqlite_master WHERE tbl_name = 'ledger_events' AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type = 'trigger', rowid",
        )
        .all();
      db.exec(`
  CREATE TEMP TABLE ledger_user_agents_v15 AS SELECT event_id, salt, user_agent FROM ledger_user_agents;
  DELETE FROM ledger_user_agents;
  CREATE TABLE ledger_events_v15 (
    id INTEGER PRIMARY KEY,
    -- NULL for address events (suppress/unsuppress, named by address_key) and store events (policy)
    profile_id INTEGER REFERENCES profiles (id),
    channel TEXT NOT NULL,
    service TEXT,
    action TEXT NOT NULL CHECK (action IN (${V15_ACTIONS})),
    source TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    evidence TEXT,
    occurred_at TEXT NOT NULL,
    address_key TEXT,
    CHECK (CASE WHEN action IN ('suppress', 'unsuppress') THEN profile_id IS NULL AND address_key IS NOT NULL
      WHEN action = 'policy' THEN profile_id IS NULL AND address_key IS NULL AND service IS NULL
      WHEN action = 'address' THEN profile_id IS NOT NULL AND address_key IS NULL AND service IS NULL AND channel = 'all' AND evidence IS NOT NULL
      ELSE profile_id IS NOT NULL AND address_key IS NULL END)
  );
  INSERT INTO ledger_events_v15 (id, profile_id, channel, service, action, source, actor, reason, evidence, occurred_at, address_key)
    SELECT id, profile_id, channel, service, action, source, actor, reason, evidence, occurred_at, address_key FROM ledger_events ORDER BY id;
  DROP TABLE ledger_events;
  ALTER TABLE ledger_events_v15 RENAME TO ledger_events;
`);
      for (const o of objects) db.exec(o.sql);
      // The as-of replay reads the changes of phone after a position (few): found by this index, not a scan.
      db.exec(`
  CREATE INDEX ledger_events_phone_changes ON ledger_events (id) WHERE action = 'address';
  INSERT INTO ledger_user_agents (event_id, salt, user_agent) SELECT event_id, salt, user_agent FROM temp.ledger_user_agents_v15;
  DROP TABLE temp.ledger_user_agents_v15;
`);
    },
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Applies the migrations above `user_version`, up to `target`, each in the caller's transaction. */
export function migrate(db: Database, target = LATEST_VERSION): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (const m of MIGRATIONS) {
    if (m.version <= current || m.version > target) continue;
    m.up(db);
    db.pragma(`user_version = ${m.version}`);
  }
  return current;
}
