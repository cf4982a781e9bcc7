/** The suppression list on PostgreSQL (see SuppressionRepository in src/consent/suppressions.ts for what it promises). */
import type pg from 'pg';
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
import type { PgStore, PgTx } from './pg-store.js';

/** Serialises the writers of the suppression list (an add decides from the row in place, which may not exist yet). */
const SUPPRESSION_LOCK = 0x73757070; // "supp"

const EXPIRY_SQL = `(evidence::json ->> 'expiresAt')`;

export class PgSuppressionRepository implements SuppressionRepository {
  private secret: Buffer | null = null;

  constructor(private readonly store: PgStore) {}

  /** The secret of addressKey (settings.suppression_key), read once; never shown. */
  async secretKey(): Promise<Buffer> {
    if (!this.secret) {
      this.secret = suppressionSecret((await this.store.query<{ value: string }>(SUPPRESSION_KEY_SQL))[0], this.store.location);
    }
    return this.secret;
  }

  private async key(channel: SuppressionChannel, address: string): Promise<string> {
    return addressKey(await this.secretKey(), addressKind(channel), address);
  }

  private async byKey(q: { query: PgTx['query'] } | PgStore, channel: string, key: string): Promise<Suppression | null> {
    const [r] = await q.query<SuppressionRow>(`SELECT ${SUPPRESSION_COLUMNS} FROM suppressions WHERE channel = $1 AND address_key = $2`, [channel, key]);
    return r ? toSuppression(r) : null;
  }

  /** A synchronous keyOf, once the secret is read (for an import's rows). */
  async keyer(): Promise<(channel: SuppressionChannel, address: string) => string> {
    await this.key('email', '');
    return (channel, address) => addressKey(this.secret!, addressKind(channel), address);
  }

  keyOf(channel: SuppressionChannel, address: string): Promise<string> {
    return this.key(channel, address);
  }

  async add(entries: readonly NewSuppression[], context: ChangeContext, options: { dryRun?: boolean } = {}): Promise<SuppressionAddResult[]> {
    checkNewSuppressions(entries, context);
    const keys = await Promise.all(entries.map((e) => (e.address === null ? e.addressKey : this.key(e.channel, e.address))));
    return rolledBackOr(() =>
      this.store.transaction(async (tx) => {
        const results = await this.addInTransaction(tx, entries, keys, context);
        if (options.dryRun) throw new DryRunRollback(results);
        return results;
      }),
    );
  }

  /** add()'s work inside the caller's transaction (an erasure adds its entries with the profile's change); `keys[i]` is entry i's key. */
  async addInTransaction(tx: PgTx, entries: readonly NewSuppression[], keys: readonly string[], context: ChangeContext): Promise<SuppressionAddResult[]> {
    checkNewSuppressions(entries, context);
    {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [SUPPRESSION_LOCK]);
      const results: SuppressionAddResult[] = [];
      const events = [];
      for (const [i, e] of entries.entries()) {
        const plan = planAdd(e, keys[i]!, await this.byKey(tx, e.channel, keys[i]!), context);
        if (plan.write) {
          const w = plan.write;
          await tx.query(
            `INSERT INTO suppressions (channel, address, address_key, reason, origin, note, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (channel, address_key) DO UPDATE SET address = excluded.address, reason = excluded.reason,
               origin = excluded.origin, note = excluded.note, created_at = excluded.created_at, expires_at = excluded.expires_at`,
            [w.channel, w.address, w.addressKey, w.reason, w.origin, w.note, w.createdAt, w.expiresAt],
          );
        }
        if (plan.event) events.push(plan.event);
        results.push(plan.result);
      }
      tx.appendEvents(events, context);
      return results;
    }
  }

  async lift(targets: readonly SuppressionTarget[], context: ChangeContext, options: { force?: boolean } = {}): Promise<SuppressionLiftResult[]> {
    const keys = await Promise.all(targets.map((t) => ('addressKey' in t ? t.addressKey : this.key(t.channel, t.address))));
    return this.store.transaction((tx) => this.liftInTransaction(tx, targets, context, keys, options));
  }

  /** lift's work inside the caller's transaction; `keys` are the targets'. */
  async liftInTransaction(tx: PgTx, targets: readonly SuppressionTarget[], context: ChangeContext, keys: readonly string[], options: { force?: boolean } = {}): Promise<SuppressionLiftResult[]> {
    {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [SUPPRESSION_LOCK]);
      const found = [];
      for (const [i, t] of targets.entries()) {
        found.push({ label: entryLabel(t.channel, 'address' in t ? t.address : null, keys[i]!), entry: await this.byKey(tx, t.channel, keys[i]!) });
      }
      const plan = planLift(found, context, options.force === true);
      for (const e of plan.events) await tx.query('DELETE FROM suppressions WHERE channel = $1 AND address_key = $2', [e.channel, e.addressKey]);
      tx.appendEvents(plan.events, context);
      return plan.results;
    }
  }

  async *list(filter: SuppressionFilter = {}): AsyncIterable<Suppression> {
    const params: unknown[] = [];
    const where = ['TRUE'];
    if (filter.channel) where.push(`channel = $${params.push(filter.channel)}`);
    if (filter.reason) where.push(`reason = $${params.push(filter.reason)}`);
    if (!filter.includeExpired) where.push(`(expires_at IS NULL OR expires_at > ${filter.at ? timeSql(filter.at) : this.store.nowSql()})`);
    for await (const rows of this.store.cursor<SuppressionRow>(
      `SELECT ${SUPPRESSION_COLUMNS} FROM suppressions WHERE ${where.join(' AND ')}
       ORDER BY channel, address IS NULL, address COLLATE "C", address_key`,
      params,
    )) {
      for (const r of rows) yield toSuppression(r);
    }
  }

  async findByAddress(channel: SuppressionChannel, address: string): Promise<Suppression | null> {
    return this.byKey(this.store, channel, await this.key(channel, address));
  }

  findByKey(channel: SuppressionChannel, key: string): Promise<Suppression | null> {
    return this.byKey(this.store, channel, key);
  }

  async blocking(email: string | null, phone: string | null, at?: string): Promise<Suppression[]> {
    const now = at ? timeSql(at) : this.store.nowSql();
    return (
      await this.store.query<SuppressionRow>(
        `SELECT ${SUPPRESSION_COLUMNS} FROM suppressions
         WHERE ((channel = 'email' AND address = $1) OR (channel IN ('sms', 'phone') AND address = $2))
           AND (expires_at IS NULL OR expires_at > ${now}) ORDER BY channel`,
        [email, phone],
      )
    ).map(toSuppression);
  }

  async blockingMany(addresses: readonly { email: string | null; phone: string | null }[], at?: string): Promise<Suppression[][]> {
    const now = at ? timeSql(at) : this.store.nowSql();
    const rows = (
      await this.store.query<SuppressionRow>(
        `SELECT ${SUPPRESSION_COLUMNS} FROM suppressions
         WHERE ((channel = 'email' AND address = ANY($1::text[])) OR (channel IN ('sms', 'phone') AND address = ANY($2::text[])))
           AND (expires_at IS NULL OR expires_at > ${now}) ORDER BY channel`,
        [addresses.map((a) => a.email).filter((e) => e !== null), addresses.map((a) => a.phone).filter((e) => e !== null)],
      )
    ).map(toSuppression);
    return matchBlocking(addresses, rows);
  }

  async restoreAddresses(addresses: readonly { channel: SuppressionChannel; address: string }[]): Promise<number> {
    return this.store.transaction((tx) => this.restoreInTransaction(tx, addresses));
  }

  /**
   * restoreAddresses()'s work inside the caller's transaction (a profile
   * added, imported or signed up): first one cheap probe, so that a store
   * without keyed-only entries computes no key at all.
   */
  async restoreInTransaction(tx: PgTx, addresses: readonly { channel: SuppressionChannel; address: string }[]): Promise<number> {
    if (addresses.length === 0 || (await tx.query('SELECT 1 FROM suppressions WHERE address IS NULL LIMIT 1')).length === 0) return 0;
    const keys = await Promise.all(addresses.map((a) => this.key(a.channel, a.address)));
    {
      let n = 0;
      for (const [i, a] of addresses.entries()) {
        const r = await tx.client.query('UPDATE suppressions SET address = $1 WHERE channel = $2 AND address_key = $3 AND address IS NULL', [
          a.address,
          a.channel,
          keys[i],
        ]);
        n += r.rowCount ?? 0;
      }
      return n;
    }
  }
}

/** `ledger verify`'s last step on PostgreSQL: the suppression list against the address events; null when they agree. */
export async function verifyPgSuppressions(client: pg.PoolClient): Promise<StateDisagreement | null> {
  const [first] = (await client.query<{ channel: string; address_key: string }>(SUPPRESSION_STATE_SQL(EXPIRY_SQL))).rows;
  if (!first) return null;
  const [row] = (
    await client.query<SuppressionRow>(`SELECT ${SUPPRESSION_COLUMNS} FROM suppressions WHERE channel = $1 AND address_key = $2`, [first.channel, first.address_key])
  ).rows;
  const [last] = (
    await client.query<LastAddressEvent>(
      `SELECT id, action, reason, source, occurred_at, ${EXPIRY_SQL} AS expires_at
       FROM ledger_events WHERE channel = $1 AND address_key = $2 ORDER BY id DESC LIMIT 1`,
      [first.channel, first.address_key],
    )
  ).rows;
  return suppressionDisagreement(first.channel, first.address_key, row ?? null, last ? { ...last, id: Number(last.id) } : null);
}
