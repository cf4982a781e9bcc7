/**
 * Migration 15 (the `address` action: changes of phone) on both stores: a
 * store at version 14 with ledger events migrates with its chain intact (same
 * rows, same head: SQLite rebuilds ledger_events with every index and trigger
 * it had, PostgreSQL swaps the CHECK), the append-only rule and the grant
 * triggers still at work, the user agents kept beside events kept, and a
 * change of phone then appends an `address` event to the same chain.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { userAgentDigest } from '../src/consent/ledger.js';
import type { LandingStore } from '../src/landing/repository.js';
import { openStore } from '../src/store/index.js';
import { atVersion, seedBlock } from './helpers/old-store.js';
import { rawSql } from './helpers/raw-store.js';
import { BACKENDS, runCli, tempDir, type Backend } from './helpers/run-cli.js';

const opened: LandingStore[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

const AT = '2026-01-01T00:00:00.000Z';
const UA_EVIDENCE = JSON.stringify({ userAgentDigest: userAgentDigest('salt', 'UA') });

/** Three events and their block, as version 14 wrote them (a user agent kept beside one); returns the block's hash. */
async function seedLedger(location: string): Promise<string> {
  await rawSql(location, 'INSERT INTO profiles (id, email, phone, optout_sms, created_at, updated_at) VALUES (1, ?, ?, 1, ?, ?)', ['old@example.com', '+33612345678', AT, AT]);
  const events = [
    { id: 1, profileId: 1, channel: 'sms', action: 'optout', source: 'operator', actor: 'ann', reason: 'asked', evidenceJson: null, occurredAt: AT },
    { id: 2, profileId: 1, channel: 'email', action: 'optin', source: 'landing:p@v1', actor: 'web', reason: null, evidenceJson: UA_EVIDENCE, occurredAt: AT },
    { id: 3, profileId: 1, channel: 'all', action: 'reason', source: 'landing:p@v1', actor: 'web', reason: null, evidenceJson: '{"forEvent":1,"code":"too-many"}', occurredAt: AT },
  ];
  const hash = await seedBlock(location, events, AT);
  await rawSql(location, "INSERT INTO ledger_user_agents (event_id, salt, user_agent) VALUES (2, 'salt', 'UA')");
  return hash;
}

/** The indexes and triggers of ledger_events, by name, with their definition. */
async function ledgerObjects(backend: Backend, location: string): Promise<Record<string, string>> {
  const rows =
    backend === 'sqlite'
      ? await rawSql(location, "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'ledger_events' AND type IN ('index', 'trigger') AND sql IS NOT NULL")
      : [
          ...(await rawSql(location, "SELECT indexname AS name, indexdef AS sql FROM pg_indexes WHERE tablename = 'ledger_events'")),
          ...(await rawSql(
            location,
            "SELECT tgname AS name, pg_get_triggerdef(t.oid) AS sql FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relname = 'ledger_events' AND NOT t.tgisinternal",
          )),
        ];
  return Object.fromEntries(rows.map((r) => [r.name, r.sql]));
}

describe.each(BACKENDS)('migration 15 on %s', (backend) => {
  it('a store at version 14 with ledger events migrates with its chain verifying, every index and trigger kept, and a change of phone joins the chain', async () => {
    const location = await atVersion(backend, 14);
    const head = await seedLedger(location);
    const before = await ledgerObjects(backend, location);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['ledger_events_profile', 'ledger_events_address', 'ledger_events_store', 'ledger_events_changes', 'ledger_events_reasons']));
    const store = await openStore(location, { now: () => AT });
    opened.push(store);
    expect(await store.verifyLedger()).toEqual({ ok: true, blocks: 1, events: 3, head });

    // The same rows, the user agent kept beside its event, and every index and trigger as it was (plus the new index).
    expect(await rawSql(location, 'SELECT CAST(id AS integer) AS id, profile_id, channel, action, evidence, address_key FROM ledger_events ORDER BY id')).toEqual([
      { id: 1, profile_id: 1, channel: 'sms', action: 'optout', evidence: null, address_key: null },
      { id: 2, profile_id: 1, channel: 'email', action: 'optin', evidence: UA_EVIDENCE, address_key: null },
      { id: 3, profile_id: 1, channel: 'all', action: 'reason', evidence: '{"forEvent":1,"code":"too-many"}', address_key: null },
    ]);
    expect(await rawSql(location, 'SELECT CAST(event_id AS integer) AS event_id, user_agent FROM ledger_user_agents')).toEqual([{ event_id: 2, user_agent: 'UA' }]);
    const after = await ledgerObjects(backend, location);
    const { ledger_events_phone_changes: added, ...kept } = after;
    expect(kept).toEqual(before);
    expect(added).toMatch(/WHERE \(?action = 'address'/);

    // Still append-only.
    await expect(rawSql(location, "UPDATE ledger_events SET actor = 'x'")).rejects.toThrow(/append-only/);
    await expect(rawSql(location, 'DELETE FROM ledger_events')).rejects.toThrow(/append-only/);
    // The schema takes an address event only as the tool writes it: a profile's, on channel all, with its evidence.
    const insert = 'INSERT INTO ledger_events (id, profile_id, channel, service, action, source, actor, evidence, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)';
    await expect(rawSql(location, insert, [9, null, 'all', null, 'address', 's', 'a', '{"from":null,"to":null}', AT])).rejects.toThrow(/CHECK constraint failed|violates check constraint/);
    await expect(rawSql(location, insert, [9, 1, 'sms', null, 'address', 's', 'a', '{"from":null,"to":null}', AT])).rejects.toThrow(/CHECK constraint failed|violates check constraint/);
    await expect(rawSql(location, insert, [9, 1, 'all', 'news', 'address', 's', 'a', '{"from":null,"to":null}', AT])).rejects.toThrow(/CHECK constraint failed|violates check constraint/);
    await expect(rawSql(location, insert, [9, 1, 'all', null, 'address', 's', 'a', null, AT])).rejects.toThrow(/CHECK constraint failed|violates check constraint/);
    await store.close();
    opened.pop();

    // Through the tool: a grant (the grant trigger of migration 9 still fires), then a change of phone.
    expect((await runCli(['--db', location, 'profile', 'optin', 'old@example.com', '--channel', 'sms', '--reason', 'asked'])).code).toBe(0);
    expect(await rawSql(location, 'SELECT granted_sms FROM profiles WHERE id = 1')).toEqual([{ granted_sms: 1 }]);
    const file = join(tempDir(), 'p.csv');
    writeFileSync(file, 'email,phone\nold@example.com,+33612345679\n');
    const r = await runCli(['--db', location, 'profile', 'import', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ phoneChanges: 1 });
    expect(await rawSql(location, "SELECT profile_id, channel FROM ledger_events WHERE action = 'address'")).toEqual([{ profile_id: 1, channel: 'all' }]);
    const verify = await runCli(['--db', location, 'ledger', 'verify', '--json']);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, blocks: 3, events: 5 });
    await expect(rawSql(location, "DELETE FROM ledger_events WHERE action = 'address'")).rejects.toThrow(/append-only/);
  });
});
