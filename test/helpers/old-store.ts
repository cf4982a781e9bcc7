/**
 * Stores at an earlier schema version, and ledger rows written into them as
 * that version wrote them (raw SQL: the store classes know the latest schema
 * only), for the migration tests of both backends.
 */
import { BlockHasher, canonicalEvent, GENESIS_HASH } from '../../src/consent/ledger.js';
import { PgStore } from '../../src/store/postgres/pg-store.js';
import { openDatabase } from '../../src/store/sqlite/open.js';
import { rawSql } from './raw-store.js';
import { tempStore, type Backend } from './run-cli.js';

/** A new, empty store of this backend at schema `version`. */
export async function atVersion(backend: Backend, version: number): Promise<string> {
  const location = await tempStore(backend);
  if (backend === 'sqlite') openDatabase(location, { targetVersion: version }).close();
  else await (await PgStore.open(location, { targetVersion: version })).close();
  return location;
}

export type SeedEvent = Parameters<typeof canonicalEvent>[0] & { id: number; profileId: number };

/** `events` (ids from 1, columns every version has) and the one block holding them; returns the block's hash. */
export async function seedBlock(location: string, events: readonly SeedEvent[], at: string): Promise<string> {
  const hasher = new BlockHasher(GENESIS_HASH);
  for (const e of events) {
    await rawSql(
      location,
      'INSERT INTO ledger_events (id, profile_id, channel, action, source, actor, reason, evidence, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [e.id, e.profileId, e.channel, e.action, e.source, e.actor, e.reason, e.evidenceJson, e.occurredAt],
    );
    hasher.add(canonicalEvent(e));
  }
  const hash = hasher.digest();
  await rawSql(location, 'INSERT INTO ledger_blocks (id, first_event_id, last_event_id, event_count, prev_hash, hash, created_at) VALUES (1, 1, ?, ?, ?, ?, ?)', [
    events.length,
    events.length,
    GENESIS_HASH,
    hash,
    at,
  ]);
  return hash;
}
