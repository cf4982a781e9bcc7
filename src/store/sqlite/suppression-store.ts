/** The suppression list on SQLite (see SuppressionRepository in src/consent/suppressions.ts for what it promises). */
import type Database from 'better-sqlite3';
import { ConsentError } from '../../consent/errors.js';
import type { ChangeContext, StateDisagreement } from '../../consent/ledger.js';
import {
  addressKey,
  addressKind,
  type NewSuppression,
  type Suppression,
  type SuppressionAddResult,
  type SuppressionChannel,
  type SuppressionFilter,
  type SuppressionLiftResult,
  type SuppressionRepository,
  type SuppressionTarget,
} from '../../consent/suppressions.js';
import {
  checkNewSuppressions,
  DryRunRollback,
  rolledBackOr,
  entryLabel,
  planAdd,
  planLift,
  SUPPRESSION_COLUMNS,
  SUPPRESSION_KEY_SQL,
  SUPPRESSION_STATE_SQL,
  suppressionSecret,
  suppressionDisagreement,
  toSuppression,
  type LastAddressEvent,
  type SuppressionRow,
  matchBlocking,
} from '../shared/suppression-rows.js';
import { timeSql } from '../shared/reachability-sql.js';
import type { SqliteStore } from './sqlite-store.js';

const PAGE = 1000;

export class SqliteSuppressionRepository implements SuppressionRepository {
  private secret: Buffer | null = null;

  constructor(private readonly store: SqliteStore) {}

  private get db(): Database.Database {
    return this.store.db;
  }

  /** The secret of addressKey (settings.suppression_key), read once; never shown. Call it inside a read or write. */
  secretKey(): Buffer {
    if (!this.secret) {
      this.secret = suppressionSecret(this.db.prepare<[], { value: string }>(SUPPRESSION_KEY_SQL).get(), this.store.location);
    }
    return this.secret;
  }

  private key(channel: SuppressionChannel, address: string): string {
    return addressKey(this.secretKey(), addressKind(channel), address);
  }

  private byKey(channel: string, key: string): Suppression | null {
    const r = this.db
      .prepare<[string, string], SuppressionRow>(`SELECT ${SUPPRESSION_COLUMNS} FROM suppressions WHERE channel = ? AND address_key = ?`)
      .get(channel, key);
    return r ? toSuppression(r) : null;
  }

  /** keyOf inside a transaction. */
  keyOfSync(channel: SuppressionChannel, address: string): string {
    return this.key(channel, address);
  }

  async keyOf(channel: SuppressionChannel, address: string): Promise<string> {
    return this.store.guard(() => this.key(channel, address));
  }

  async add(entries: readonly NewSuppression[], context: ChangeContext, options: { dryRun?: boolean } = {}): Promise<SuppressionAddResult[]> {
    checkNewSuppressions(entries, context);
    return rolledBackOr(async () =>
      this.store.writeTransaction(() => {
        const results = this.addInTransaction(entries, context);
        if (options.dryRun) throw new DryRunRollback(results);
        return results;
      }),
    );
  }

  /** add()'s work inside the caller's write transaction (an erasure adds its entries with the profile's change); entries already checked. */
  addInTransaction(entries: readonly NewSuppression[], context: ChangeContext): SuppressionAddResult[] {
    checkNewSuppressions(entries, context);
    {
      const upsert = this.db.prepare(
        `INSERT INTO suppressions (channel, address, address_key, reason, origin, note, created_at, expires_at)
         VALUES (@channel, @address, @addressKey, @reason, @origin, @note, @createdAt, @expiresAt)
         ON CONFLICT (channel, address_key) DO UPDATE SET address = excluded.address, reason = excluded.reason,
           origin = excluded.origin, note = excluded.note, created_at = excluded.created_at, expires_at = excluded.expires_at`,
      );
      const results: SuppressionAddResult[] = [];
      const events = [];
      for (const e of entries) {
        const key = e.address === null ? e.addressKey : this.key(e.channel, e.address);
        const plan = planAdd(e, key, this.byKey(e.channel, key), context);
        if (plan.write) upsert.run(plan.write);
        if (plan.event) events.push(plan.event);
        results.push(plan.result);
      }
      this.store.appendEvents(events, context);
      return results;
    }
  }

  async lift(targets: readonly SuppressionTarget[], context: ChangeContext, options: { force?: boolean } = {}): Promise<SuppressionLiftResult[]> {
    return this.store.writeTransaction(() => this.liftInTransaction(targets, context, options));
  }

  /** lift's work inside the caller's write transaction. */
  liftInTransaction(targets: readonly SuppressionTarget[], context: ChangeContext, options: { force?: boolean } = {}): SuppressionLiftResult[] {
    {
      const found = targets.map((t) => {
        const key = 'addressKey' in t ? t.addressKey : this.key(t.channel, t.address);
        return { label: entryLabel(t.channel, 'address' in t ? t.address : null, key), entry: this.byKey(t.channel, key) };
      });
      const plan = planLift(found, context, options.force === true);
      const del = this.db.prepare('DELETE FROM suppressions WHERE channel = ? AND address_key = ?');
      for (const e of plan.events) del.run(e.channel, e.addressKey);
      this.store.appendEvents(plan.events, context);
      return plan.results;
    }
  }

  async *list(filter: SuppressionFilter = {}): AsyncIterable<Suppression> {
    const where = ['(channel, address IS NULL, coalesce(address, \'\'), address_key) > (@c, @n, @a, @k)'];
    if (filter.channel) where.push('channel = @channel');
    if (filter.reason) where.push('reason = @reason');
    if (!filter.includeExpired) where.push(`(expires_at IS NULL OR expires_at > ${filter.at ? timeSql(filter.at) : this.store.nowSql()})`);
    const stmt = this.db.prepare<[Record<string, unknown>], SuppressionRow>(
      `SELECT ${SUPPRESSION_COLUMNS} FROM suppressions WHERE ${where.join(' AND ')}
       ORDER BY channel, address IS NULL, coalesce(address, ''), address_key LIMIT ${PAGE}`,
    );
    let after = { c: '', n: 0, a: '', k: '' };
    for (;;) {
      const rows = this.store.guard(() => stmt.all({ ...after, channel: filter.channel, reason: filter.reason }));
      for (const r of rows) yield toSuppression(r);
      if (rows.length < PAGE) return;
      const last = rows[rows.length - 1]!;
      after = { c: last.channel, n: last.address === null ? 1 : 0, a: last.address ?? '', k: last.address_key };
    }
  }

  async findByAddress(channel: SuppressionChannel, address: string): Promise<Suppression | null> {
    return this.store.guard(() => this.byKey(channel, this.key(channel, address)));
  }

  async findByKey(channel: SuppressionChannel, key: string): Promise<Suppression | null> {
    return this.store.guard(() => this.byKey(channel, key));
  }

  async blocking(email: string | null, phone: string | null, at?: string): Promise<Suppression[]> {
    const now = at ? timeSql(at) : this.store.nowSql();
    return this.store.guard(() =>
      this.db
        .prepare<[string | null, string | null], SuppressionRow>(
          `SELECT ${SUPPRESSION_COLUMNS} FROM suppressions
           WHERE ((channel = 'email' AND address = ?) OR (channel IN ('sms', 'phone') AND address = ?))
             AND (expires_at IS NULL OR expires_at > ${now}) ORDER BY channel`,
        )
        .all(email, phone)
        .map(toSuppression),
    );
  }

  async blockingMany(addresses: readonly { email: string | null; phone: string | null }[], at?: string): Promise<Suppression[][]> {
    const now = at ? timeSql(at) : this.store.nowSql();
    const emails = JSON.stringify(addresses.map((a) => a.email).filter((e) => e !== null));
    const phones = JSON.stringify(addresses.map((a) => a.phone).filter((e) => e !== null));
    const rows = this.store.guard(() =>
      this.db
        .prepare<[string, string], SuppressionRow>(
          `SELECT ${SUPPRESSION_COLUMNS} FROM suppressions
           WHERE ((channel = 'email' AND address IN (SELECT value FROM json_each(?))) OR (channel IN ('sms', 'phone') AND address IN (SELECT value FROM json_each(?))))
             AND (expires_at IS NULL OR expires_at > ${now}) ORDER BY channel`,
        )
        .all(emails, phones)
        .map(toSuppression),
    );
    return matchBlocking(addresses, rows);
  }

  async restoreAddresses(addresses: readonly { channel: SuppressionChannel; address: string }[]): Promise<number> {
    return this.store.writeTransaction(() => this.restoreInTransaction(addresses));
  }

  /**
   * restoreAddresses()'s work inside the caller's write transaction (a
   * profile added, imported or signed up): first one cheap probe, so that a
   * store without keyed-only entries computes no key at all.
   */
  restoreInTransaction(addresses: readonly { channel: SuppressionChannel; address: string }[]): number {
    if (addresses.length === 0 || !this.db.prepare('SELECT 1 FROM suppressions WHERE address IS NULL LIMIT 1').get()) return 0;
    const fill = this.db.prepare('UPDATE suppressions SET address = ? WHERE channel = ? AND address_key = ? AND address IS NULL');
    let n = 0;
    for (const a of addresses) n += fill.run(a.address, a.channel, this.key(a.channel, a.address)).changes;
    return n;
  }
}

/** `ledger verify`'s last step on SQLite: the suppression list against the address events; null when they agree. */
export function verifySuppressions(db: Database.Database): StateDisagreement | null {
  const first = db
    .prepare<[], { channel: string; address_key: string }>(SUPPRESSION_STATE_SQL(`json_extract(evidence, '$.expiresAt')`))
    .get();
  if (!first) return null;
  const row = db
    .prepare<[string, string], SuppressionRow>(`SELECT ${SUPPRESSION_COLUMNS} FROM suppressions WHERE channel = ? AND address_key = ?`)
    .get(first.channel, first.address_key);
  const last = db
    .prepare<[string, string], LastAddressEvent>(
      `SELECT id, action, reason, source, occurred_at, json_extract(evidence, '$.expiresAt') AS expires_at
       FROM ledger_events WHERE channel = ? AND address_key = ? ORDER BY id DESC LIMIT 1`,
    )
    .get(first.channel, first.address_key);
  return suppressionDisagreement(first.channel, first.address_key, row ?? null, last ?? null);
}
