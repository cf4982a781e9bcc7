/**
 * `ledger verify` for SQLite: the hash chain, then the state replay, from
 * one read snapshot. Both are set-based where the rows are many: the chain's
 * canonical texts are built in SQL (json_array), a page of events per string,
 * and hashed in JavaScript; the replay is one grouped query per range of
 * profile ids that only returns the first disagreeing id. JavaScript looks at
 * single rows only to explain a failure (and to re-check, row by row with
 * canonicalEvent, any block whose SQL-built text does not match its hash, so
 * that an SQL quirk can never report a tampering that is not there).
 */
import { SUPPRESSION_KEY_SQL, suppressionSecret } from '../shared/suppression-rows.js';
import type Database from 'better-sqlite3';
import { CHANNELS, CONTACT_CHANNELS, type Channel } from '../../consent/channels.js';
import { GRANT_COLUMNS, GRANT_EVENTS_WHERE, grantMismatchSql } from '../shared/policy-sql.js';
import {
  BlockHasher,
  canonicalEvent,
  compareState,
  explainGrants,
  GENESIS_HASH,
  replayLedger,
  SUBSCRIPTION_STATUS_AFTER,
  userAgentProblem,
  type ChainBroken,
  type LedgerVerification,
  type StateDisagreement,
  type VerifyOptions,
} from '../../consent/ledger.js';
import { NON_CONSENT_PROFILE_ACTIONS_SQL } from '../shared/ledger-chain.js';
import { verifySuppressions } from './suppression-store.js';
import { addressKey } from '../../consent/suppressions.js';
import { firstPhoneChangeBreak, firstPhoneDisagreement, LAST_PHONE_CHANGES_SQL, PHONE_CHANGE_PAIRS_SQL, type LastPhoneChangeRow, type PhoneChangePairRow } from '../shared/phone-changes.js';

interface BlockRow {
  id: number;
  first_event_id: number;
  last_event_id: number;
  event_count: number;
  prev_hash: string;
  hash: string;
}

interface EventRow {
  id: number;
  profile_id: number | null;
  channel: string;
  service: string | null;
  action: string;
  source: string;
  actor: string;
  reason: string | null;
  evidence: string | null;
  occurred_at: string;
  address_key: string | null;
}

/**
 * canonicalEvent's JSON array, built by SQLite (json_array writes strings and
 * integers as JSON.stringify does). Pages are concatenated from a subquery
 * ordered by id, which the rowid range scan yields without a sort (an ORDER BY
 * inside group_concat would sort every page).
 */
export const CANONICAL_SQL = `CASE WHEN address_key IS NOT NULL
  THEN json_array(id, profile_id, channel, action, source, actor, reason, evidence, occurred_at, service, address_key)
  WHEN service IS NULL
  THEN json_array(id, profile_id, channel, action, source, actor, reason, evidence, occurred_at)
  ELSE json_array(id, profile_id, channel, action, source, actor, reason, evidence, occurred_at, service) END`;

/** Events per string handed from SQLite to the hasher. */
const TEXT_PAGE = 20_000;
/** Profile ids per state query: bounds the grouping's temporary memory, and paces the progress. */
const STATE_RANGE = 100_000;
const PROGRESS_EVERY = 100_000;


/** The whole check (chain, then state); run it inside one read transaction for one snapshot. */
export function verifyStore(db: Database.Database, options: VerifyOptions = {}): LedgerVerification {
  const chain = verifyChain(db, options);
  if (!chain.ok) return chain;
  // The user agents kept beside the ledger (deletable) against the digests in its hashed evidence.
  for (const a of db
    .prepare<[], { event_id: number; salt: string; user_agent: string; evidence: string | null }>(
      'SELECT u.event_id, u.salt, u.user_agent, e.evidence FROM ledger_user_agents u LEFT JOIN ledger_events e ON e.id = u.event_id ORDER BY u.event_id',
    )
    .iterate()) {
    const problem = userAgentProblem(a);
    if (problem) return { ok: false, blocks: chain.blocks, events: chain.events, brokenEventId: a.event_id, blockId: null, problem };
  }
  const disagreement = verifyState(db, options) ?? verifyGrants(db) ?? verifySuppressions(db) ?? verifyPhones(db);
  if (!disagreement) return chain;
  return {
    ok: false,
    check: 'state',
    blocks: chain.blocks,
    events: chain.events,
    head: chain.head,
    problem: disagreement.detail,
    disagreement,
  };
}

/**
 * The grants (granted_<channel>) against the ledger, in one grouped pass
 * (SQLite takes the bare `action` from the row of max(id)); the first
 * disagreement of the lowest profile id, or null.
 */
export function verifyGrants(db: Database.Database): StateDisagreement | null {
  const id = db
    .prepare(grantMismatchSql(`SELECT profile_id, channel, action, max(id) AS id FROM ledger_events WHERE ${GRANT_EVENTS_WHERE} GROUP BY profile_id, channel`))
    .pluck()
    .get() as number | null;
  if (id === null || id === undefined) return null;
  const row = db.prepare<[number], number[]>(`SELECT ${GRANT_COLUMNS.join(', ')} FROM profiles WHERE id = ?`).raw().get(id)!;
  const events = db
    .prepare<[number], { id: number; channel: string; service: string | null; action: string }>(
      'SELECT id, channel, service, action FROM ledger_events WHERE profile_id = ? ORDER BY id',
    )
    .all(id);
  const stored = Object.fromEntries(CONTACT_CHANNELS.map((c, i) => [c, row[i] === 1]));
  return explainGrants(id, stored, replayLedger(events));
}

/** Each live profile's phone against its last change of phone (comparePhone): the first disagreement, or null. */
export function verifyPhones(db: Database.Database): StateDisagreement | null {
  const rows = db.prepare<[], LastPhoneChangeRow>(LAST_PHONE_CHANGES_SQL).all();
  if (rows.length === 0) return null;
  const secret = suppressionSecret(db.prepare<[], { value: string }>(SUPPRESSION_KEY_SQL).get(), db.name);
  return firstPhoneDisagreement(rows, (phone) => addressKey(secret, 'phone', phone)) ?? firstPhoneChangeBreak(db.prepare<[], PhoneChangePairRow>(PHONE_CHANGE_PAIRS_SQL).iterate());
}

/** Recomputes every block's hash from its events; names the first place it breaks. */
export function verifyChain(db: Database.Database, options: VerifyOptions = {}): LedgerVerification {
  const blocksStmt = db.prepare<[number], BlockRow>('SELECT * FROM ledger_blocks WHERE id > ? ORDER BY id LIMIT 1000');
  const rowsStmt = db.prepare<[number, number], [number, string]>(
    `SELECT id, ${CANONICAL_SQL} FROM ledger_events WHERE id BETWEEN ? AND ? ORDER BY id`,
  ).raw();
  const joinedStmt = db.prepare<[number, number], [string | null, number]>(
    `SELECT group_concat(t, char(10)), count(*) FROM (SELECT ${CANONICAL_SQL} AS t FROM ledger_events WHERE id BETWEEN ? AND ? ORDER BY id)`,
  ).raw();
  const exactStmt = db.prepare<[number, number], EventRow>('SELECT * FROM ledger_events WHERE id BETWEEN ? AND ? ORDER BY id');
  const total = (db.prepare('SELECT coalesce(max(last_event_id), 0) FROM ledger_blocks').pluck().get() as number);

  let prevHash = GENESIS_HASH;
  let prevLast = 0;
  let blocks = 0;
  let events = 0;
  let reported = 0;
  const fail = (brokenEventId: number | null, blockId: number | null, problem: string): ChainBroken => ({
    ok: false,
    blocks,
    events,
    brokenEventId,
    blockId,
    problem,
  });

  /** The exact check of one block, row by row with canonicalEvent: the reference the fast path must agree with. */
  const exactBlock = (b: BlockRow): ChainBroken | null => {
    const hasher = new BlockHasher(b.prev_hash);
    let expected = b.first_event_id;
    for (const e of exactStmt.iterate(b.first_event_id, b.last_event_id)) {
      if (e.id !== expected) return fail(expected, b.id, `event ${expected} is missing (deleted)`);
      hasher.add(canonicalEvent({ ...e, profileId: e.profile_id, evidenceJson: e.evidence, occurredAt: e.occurred_at, addressKey: e.address_key }));
      expected++;
    }
    if (expected !== b.last_event_id + 1) return fail(expected, b.id, `event ${expected} is missing (deleted)`);
    if (hasher.size !== b.event_count || hasher.digest() !== b.hash) {
      const where =
        b.first_event_id === b.last_event_id ? `event ${b.first_event_id}` : `an event among ${b.first_event_id}–${b.last_event_id}`;
      return fail(b.first_event_id, b.id, `${where} was edited after it was recorded (block ${b.id} no longer matches its hash)`);
    }
    return null;
  };

  /** True when the block's events hash to its hash, read through SQL-built texts; false means "look closer". */
  const fastBlock = (b: BlockRow, rows: { ids: number[]; texts: string[]; at: number } | null): boolean => {
    const hasher = new BlockHasher(b.prev_hash);
    const n = b.last_event_id - b.first_event_id + 1;
    if (n !== b.event_count) return false;
    try {
      if (rows) {
        for (let k = 0; k < n; k++) {
          if (rows.ids[rows.at + k] !== b.first_event_id + k) return false;
          hasher.add(rows.texts[rows.at + k]!);
        }
        rows.at += n;
      } else {
        for (let from = b.first_event_id; from <= b.last_event_id; from += TEXT_PAGE) {
          const to = Math.min(b.last_event_id, from + TEXT_PAGE - 1);
          const [text, count] = joinedStmt.get(from, to)!;
          if (count !== to - from + 1 || text === null) return false;
          hasher.addJoined(text, count);
          progress(events + (to - b.first_event_id + 1));
        }
      }
    } catch {
      return false; // a value json_array refuses (a blob written behind the tool's back): the exact path says what
    }
    return hasher.digest() === b.hash;
  };

  const progress = (done: number) => {
    if (options.onProgress && done - reported >= PROGRESS_EVERY) {
      reported = done;
      options.onProgress({ phase: 'chain', events: done, total });
    }
  };

  options.onProgress?.({ phase: 'chain', events: 0, total });
  let after = 0;
  for (;;) {
    const page = blocksStmt.all(after);
    if (page.length === 0) break;
    // Small blocks (an operator's changes) are read together, one row per event; a big one (an import) by pages of text.
    const span = page[page.length - 1]!.last_event_id - page[0]!.first_event_id + 1;
    let rows: { ids: number[]; texts: string[]; at: number } | null = null;
    if (span > 0 && span <= TEXT_PAGE) {
      rows = { ids: [], texts: [], at: 0 };
      try {
        for (const [id, text] of rowsStmt.iterate(page[0]!.first_event_id, page[page.length - 1]!.last_event_id)) {
          rows.ids.push(id);
          rows.texts.push(text);
        }
      } catch {
        rows = null; // see fastBlock: each block then goes its own way
      }
    }
    for (const b of page) {
      if (b.prev_hash !== prevHash) {
        return fail(b.first_event_id, b.id, `block ${b.id} does not follow the block before it (a block was removed or rewritten)`);
      }
      if (b.first_event_id !== prevLast + 1) {
        return fail(prevLast + 1, b.id, `event ${prevLast + 1} is missing (deleted)`);
      }
      const ownRows = rows && rows.ids[rows.at] === b.first_event_id ? rows : null;
      if (!fastBlock(b, ownRows)) {
        rows = null; // out of step with the page's rows: the following blocks read their own
        const broken = exactBlock(b);
        if (broken) return broken;
      }
      prevHash = b.hash;
      prevLast = b.last_event_id;
      blocks++;
      events += b.event_count;
      after = b.id;
      progress(events);
    }
  }
  const stray = db.prepare<[number], { id: number }>('SELECT id FROM ledger_events WHERE id > ? ORDER BY id LIMIT 1').get(prevLast);
  if (stray) return fail(stray.id, null, `event ${stray.id} was added outside the tool (it belongs to no block)`);
  return { ok: true, blocks, events, head: prevHash };
}

const bitOf = (column: string) => `CASE ${column} ${CHANNELS.map((c, i) => `WHEN '${c}' THEN ${1 << i}`).join(' ')} END`;
const storedMask = CHANNELS.map((c, i) => `(p.optout_${c} << ${i})`).join(' | ');
const statusOf = (column: string) =>
  `CASE ${column} ${Object.entries(SUBSCRIPTION_STATUS_AFTER).map(([a, s]) => `WHEN '${a}' THEN '${s}'`).join(' ')} END`;

/**
 * The lowest profile id in [lo, hi] whose state disagrees with the replay, or
 * null. `last` holds each (profile, channel, service)'s last event (SQLite
 * takes the bare `action` from the row of max(id)); the four arms are: flags
 * that differ (no event = 0), events of a profile row that is gone,
 * subscription rows the replay does not give, and replayed subscriptions
 * without their row.
 */
const STATE_SQL = `
WITH last AS (
  SELECT profile_id, channel, service, action, max(id) AS event_id
  FROM ledger_events WHERE profile_id BETWEEN @lo AND @hi AND action NOT IN ${NON_CONSENT_PROFILE_ACTIONS_SQL}
  GROUP BY profile_id, channel, service
),
flags AS (
  SELECT profile_id, sum(CASE WHEN action = 'optout' THEN ${bitOf('channel')} ELSE 0 END) AS mask
  FROM last WHERE service IS NULL GROUP BY profile_id
),
subs AS (
  SELECT l.profile_id, v.id AS service_id, ${statusOf('l.action')} AS status
  FROM last l LEFT JOIN services v ON v.name = l.service WHERE l.service IS NOT NULL
)
SELECT min(pid) FROM (
  SELECT p.id AS pid FROM profiles p LEFT JOIN flags f ON f.profile_id = p.id
    WHERE p.id BETWEEN @lo AND @hi AND (${storedMask}) <> coalesce(f.mask, 0)
  UNION ALL
  SELECT l.profile_id FROM last l WHERE NOT EXISTS (SELECT 1 FROM profiles p WHERE p.id = l.profile_id)
  UNION ALL
  SELECT s.profile_id FROM subscriptions s WHERE s.profile_id BETWEEN @lo AND @hi
    AND NOT EXISTS (SELECT 1 FROM subs x WHERE x.profile_id = s.profile_id AND x.service_id = s.service_id AND x.status = s.status)
  UNION ALL
  SELECT x.profile_id FROM subs x
    WHERE NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.profile_id = x.profile_id AND s.service_id IS x.service_id)
)`;

/**
 * The replay of the whole ledger against every profile; the first
 * disagreement, or null. Three passes of compact text pages ("id,code,…"
 * built by SQLite, one string per page, so that JavaScript never handles a
 * row): the events in id order replayed into a byte per profile id (bits 0–6
 * the replayed opt-out flags in CHANNELS order, bit 7 "has events") and a map
 * of subscriptions; then the profiles' flags and the subscription rows
 * compared with them. Ids outside 1…50,000,000 (none that the tool makes)
 * take verifyStateSql instead, which does the same in set-based SQL.
 */
export function verifyState(db: Database.Database, options: VerifyOptions = {}): StateDisagreement | null {
  const one = (sql: string) => (db.prepare(sql).pluck().get() as number | null) ?? 0;
  const top = Math.max(one('SELECT max(id) FROM profiles'), one('SELECT max(profile_id) FROM ledger_events'), one('SELECT max(profile_id) FROM subscriptions'));
  const bottom = Math.min(one('SELECT min(id) FROM profiles'), one('SELECT min(profile_id) FROM ledger_events'), one('SELECT min(profile_id) FROM subscriptions'));
  if (top > MAX_DENSE_ID || bottom < 0) return verifyStateSql(db, options);
  const serviceKeys = Math.max(one('SELECT max(id) FROM services'), one('SELECT max(service_id) FROM subscriptions')) + 1;
  if (serviceKeys * (top + 1) > Number.MAX_SAFE_INTEGER) return verifyStateSql(db, options); // keys would collide
  const totalProfiles = one('SELECT count(*) FROM profiles');
  const lastEvent = one('SELECT max(id) FROM ledger_events');

  let first = Infinity; // the lowest profile id found disagreeing
  const suspect = (id: number) => {
    if (id < first) first = id;
  };
  const replayed = new Uint8Array(top + 1);
  const subscriptions = new Map<number, number>();
  const STATUSES = ['subscribed', 'pending', 'unsubscribed'];
  const statusCode = (column: string) => `CASE ${column} ${STATUSES.map((s, i) => `WHEN '${s}' THEN ${i}`).join(' ')} ELSE 9 END`;

  // 1. The events, in id order: profile id, code (channel * 2 + optout, or 16 + status), service id (0: none or unknown).
  // 14: an `erase`, `reason` or `address` event (changes no flag). Address events (profile_id NULL) give a NULL text, which group_concat skips.
  const eventCode = `CASE WHEN service IS NULL AND action IN ${NON_CONSENT_PROFILE_ACTIONS_SQL} THEN 14 WHEN service IS NULL THEN ${CHANNELS.map((c, i) => `${i * 2} * (channel = '${c}')`).join(' + ')} + (action = 'optout')
      + 99 * (channel NOT IN (${CHANNELS.map((c) => `'${c}'`).join(', ')}) OR action NOT IN ('optout', 'optin'))
    ELSE 16 + ${statusCode(statusOf('action'))} END`;
  const events = db.prepare<[number, number], string | null>(
    `SELECT group_concat(t, ',') FROM (SELECT profile_id || ',' || ${eventCode} || ',' || CASE WHEN service IS NULL THEN 0
        ELSE coalesce((SELECT v.id FROM services v WHERE v.name = ledger_events.service), 0) END AS t
     FROM ledger_events WHERE id BETWEEN ? AND ? ORDER BY id)`,
  ).pluck();
  for (let from = 1; from <= lastEvent; from += TEXT_PAGE) {
    const text = events.get(from, from + TEXT_PAGE - 1);
    if (text) {
      forEachTriple(text, (pid, code, sid) => {
        if (code < 14) {
          const bit = 1 << (code >> 1);
          replayed[pid] = (code & 1 ? replayed[pid]! | bit : replayed[pid]! & ~bit) | 128;
        } else if (code === 14) {
          replayed[pid] = replayed[pid]! | 128;
        } else if (code >= 16 && code < 19 && sid > 0) {
          subscriptions.set(pid * serviceKeys + sid, code - 16);
          replayed[pid] = replayed[pid]! | 128;
        } else {
          suspect(pid); // an action, channel or service no write path makes
          replayed[pid] = replayed[pid]! | 128;
        }
      });
    }
    options.onProgress?.({ phase: 'replay', events: Math.min(lastEvent, from + TEXT_PAGE - 1), total: lastEvent });
  }

  // 2. The profiles' flags (no event: every flag 0); and every profile id with events must have its row.
  const present = new Uint8Array(top + 1);
  const profiles = db.prepare<[number, number], string | null>(
    `SELECT group_concat(id || ',' || (${storedMask.replaceAll('p.', '')}) || ',0', ',') FROM profiles WHERE id BETWEEN ? AND ?`,
  ).pluck();
  let seen = 0;
  for (let from = 0; from <= top; from += TEXT_PAGE * 5) {
    const text = profiles.get(from, from + TEXT_PAGE * 5 - 1);
    if (text) {
      forEachTriple(text, (id, mask) => {
        present[id] = 1;
        seen++;
        if ((replayed[id]! & 127) !== mask) suspect(id);
      });
    }
    options.onProgress?.({ phase: 'state', profiles: seen, total: totalProfiles });
  }
  for (let id = 0; id < first && id <= top; id++) if (replayed[id]! & 128 && !present[id]) suspect(id);

  // 3. Each subscription row is the replayed one, and none is left over.
  const rows = db.prepare<[number, number], string | null>(
    `SELECT group_concat(profile_id || ',' || service_id || ',' || ${statusCode('status')}, ',') FROM subscriptions WHERE profile_id BETWEEN ? AND ?`,
  ).pluck();
  for (let from = 0; from <= top; from += TEXT_PAGE * 5) {
    const text = rows.get(from, from + TEXT_PAGE * 5 - 1);
    if (text) {
      forEachTriple(text, (pid, sid, status) => {
        const key = pid * serviceKeys + sid;
        if (subscriptions.get(key) !== status) suspect(pid);
        subscriptions.delete(key);
      });
    }
  }
  for (const key of subscriptions.keys()) suspect(Math.floor(key / serviceKeys));

  if (first === Infinity) return null;
  // Confirmed by the domain's replay of that profile's events; if it finds
  // nothing, the fast path was wrong, and the set-based check decides.
  return explain(db, first) ?? verifyStateSql(db, options);
}

/** Beyond this, a byte per profile id is not worth it (the tool numbers profiles from 1, densely). */
const MAX_DENSE_ID = 50_000_000;

/** Calls `fn` for each "a,b,c" triple of non-negative integers in a comma-separated text. */
function forEachTriple(text: string, fn: (a: number, b: number, c: number) => void): void {
  let a = 0;
  let b = 0;
  let v = 0;
  let k = 0;
  for (let i = 0, n = text.length; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 44;
    if (c === 44) {
      if (k === 0) a = v;
      else if (k === 1) b = v;
      else fn(a, b, v);
      k = (k + 1) % 3;
      v = 0;
    } else {
      v = v * 10 + (c - 48);
    }
  }
}

/**
 * The same check as verifyState in set-based SQL, one range of profile ids
 * at a time (slower here, but what a server database would do, and what
 * verifyState falls back to for unusual ids).
 */
export function verifyStateSql(db: Database.Database, options: VerifyOptions = {}): StateDisagreement | null {
  const stmt = db.prepare<[{ lo: number; hi: number }], number | null>(STATE_SQL).pluck();
  const max = (sql: string) => (db.prepare(sql).pluck().get() as number | null) ?? 0;
  const top = Math.max(
    max('SELECT max(id) FROM profiles'),
    max('SELECT max(profile_id) FROM ledger_events'),
    max('SELECT max(profile_id) FROM subscriptions'),
  );
  const total = max('SELECT count(*) FROM profiles');
  let reported = 0;
  for (let lo = 1; lo <= top; lo += STATE_RANGE) {
    const hi = lo + STATE_RANGE - 1;
    const id = stmt.get({ lo, hi });
    if (id !== null && id !== undefined) return explainAlways(db, id);
    if (options.onProgress && hi - reported >= PROGRESS_EVERY) {
      reported = hi;
      options.onProgress({ phase: 'state', profiles: Math.min(total, hi), total });
    }
  }
  // Ids below 1 cannot come from the tool; rows there disagree by existing unless they are empty.
  const low = db
    .prepare(
      `SELECT min(pid) FROM (SELECT id AS pid FROM profiles WHERE id < 1 AND (${storedMask.replaceAll('p.', '')}) <> 0
        UNION ALL SELECT profile_id FROM ledger_events WHERE profile_id < 1 UNION ALL SELECT profile_id FROM subscriptions WHERE profile_id < 1)`,
    )
    .pluck()
    .get() as number | null;
  return low === null ? null : explainAlways(db, low);
}

/** What disagrees for one profile, found by the domain's replay of its events (few rows: JavaScript is fine). */
function explain(db: Database.Database, profileId: number): StateDisagreement | null {
  const row = db
    .prepare<[number], number[]>(`SELECT ${CHANNELS.map((c) => `optout_${c}`).join(', ')} FROM profiles WHERE id = ?`)
    .raw()
    .get(profileId);
  const events = db
    .prepare<[number], { id: number; channel: string; service: string | null; action: string }>(
      'SELECT id, channel, service, action FROM ledger_events WHERE profile_id = ? ORDER BY id',
    )
    .all(profileId);
  const subscriptions = new Map<string, string>();
  for (const s of db
    .prepare<[number], { name: string | null; service_id: number; status: string }>(
      'SELECT v.name, s.service_id, s.status FROM subscriptions s LEFT JOIN services v ON v.id = s.service_id WHERE s.profile_id = ?',
    )
    .all(profileId)) {
    subscriptions.set(s.name ?? `#${s.service_id}`, s.status);
  }
  const optOut = row ? (Object.fromEntries(CHANNELS.map((c, i) => [c, row[i] === 1])) as Record<Channel, boolean>) : null;
  const found = compareState(
    profileId,
    { optOut, subscriptions },
    replayLedger(events),
    CHANNELS,
    events.length ? events[events.length - 1]!.id : null,
  );
  return found;
}

/** explain, or (when the domain's rule sees nothing wrong) a disagreement in a value no write path makes (a flag of 2…). */
function explainAlways(db: Database.Database, profileId: number): StateDisagreement {
  return (
    explain(db, profileId) ?? {
      profileId,
      kind: 'flag',
      channel: null,
      service: null,
      stored: null,
      ledger: null,
      eventId: null,
      detail: `profile ${profileId}: its stored state holds a value the ledger cannot give`,
    }
  );
}
