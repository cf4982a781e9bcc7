/**
 * Migration 4 (the suppression list) on both stores: a store of every earlier
 * version, with ledger events, migrates with its chain intact (same rows,
 * same head: SQLite rebuilds ledger_events, PostgreSQL alters it), its
 * append-only rule still enforced, and suppression events then append to
 * the same chain.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LandingStore } from '../src/landing/repository.js';
import { openStore } from '../src/store/index.js';
import { atVersion, seedBlock } from './helpers/old-store.js';
import { rawSql } from './helpers/raw-store.js';
import { BACKENDS } from './helpers/run-cli.js';

const opened: LandingStore[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

const AT = '2026-01-01T00:00:00.000Z';

/** Two events and their block, written as the earlier versions wrote them; returns the block's hash. */
async function seedLedger(location: string): Promise<string> {
  await rawSql(location, 'INSERT INTO profiles (id, email, phone, optout_sms, created_at, updated_at) VALUES (1, ?, ?, 1, ?, ?)', ['old@example.com', '+33612345678', AT, AT]);
  const events = [
    { id: 1, profileId: 1, channel: 'sms', action: 'optout', source: 'operator', actor: 'ann', reason: 'asked', evidenceJson: null, occurredAt: AT },
    { id: 2, profileId: 1, channel: 'email', action: 'optin', source: 'landing:p@v1', actor: 'web', reason: null, evidenceJson: '{"ua":"x\\"y"}', occurredAt: AT },
  ];
  return seedBlock(location, events, AT);
}

describe.each(BACKENDS)('migration 4 on %s', (backend) => {
  it.each([1, 2, 3])('a store at version %i with ledger events migrates with its chain verifying, and suppressions join the chain', async (version) => {
    const location = await atVersion(backend, version);
    const head = await seedLedger(location);
    const store = await openStore(location, { now: () => AT });
    opened.push(store);
    expect(await store.verifyLedger()).toEqual({ ok: true, blocks: 1, events: 2, head });
    expect(await rawSql(location, 'SELECT CAST(id AS integer) AS id, profile_id, channel, action, evidence, address_key FROM ledger_events ORDER BY id')).toEqual([
      { id: 1, profile_id: 1, channel: 'sms', action: 'optout', evidence: null, address_key: null },
      { id: 2, profile_id: 1, channel: 'email', action: 'optin', evidence: '{"ua":"x\\"y"}', address_key: null },
    ]);
    await expect(rawSql(location, "UPDATE ledger_events SET actor = 'x'")).rejects.toThrow(/append-only/);
    await expect(rawSql(location, 'DELETE FROM ledger_events')).rejects.toThrow(/append-only/);
    // A profile event without a profile, or an address event with one, is refused by the schema.
    await expect(rawSql(location, "INSERT INTO ledger_events (id, channel, action, source, actor, occurred_at) VALUES (9, 'email', 'optout', 's', 'a', 'x')")).rejects.toThrow();
    await store.suppressions.add([{ channel: 'sms', address: '+33612345678', reason: 'sms-stop' }], { source: 'operator', actor: 'ann', reason: null, evidence: null, occurredAt: AT });
    expect(await store.verifyLedger()).toMatchObject({ ok: true, blocks: 2, events: 3 });
    const settings = await rawSql(location, "SELECT value FROM settings WHERE key = 'suppression_key'");
    expect(settings).toEqual([{ value: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
  });
});
