import type { ContactChannel } from '../../consent/channels.js';
import { conflict, notFound } from '../../consent/errors.js';
import type { ChangeContext } from '../../consent/ledger.js';
import {
  planSubscription,
  type NewService,
  type PendingSubscription,
  type Service,
  type ServiceRepository,
  type ServiceSummary,
  type Subscription,
  type SubscriptionChange,
  type SubscriptionResult,
  type SubscriptionStatus,
} from '../../consent/services.js';
import { confirmationReachableSql } from '../shared/reachability-sql.js';
import type { Statement } from 'better-sqlite3';
import type { SqliteStore } from './sqlite-store.js';
import { byProfile } from '../shared/by-profile.js';
import { SUMMARY_SQL, toService, toSummary, type ServiceRow, type SummaryRow } from '../shared/service-rows.js';

export class SqliteServiceRepository implements ServiceRepository {
  constructor(private readonly store: SqliteStore) {}

  private get db() {
    return this.store.db;
  }

  private row(name: string): ServiceRow | undefined {
    return this.db.prepare<[string], ServiceRow>('SELECT * FROM services WHERE name = ?').get(name);
  }

  async create(s: NewService, at: string): Promise<Service> {
    return this.store.writeTransaction(() => {
      if (this.row(s.name)) throw conflict(`A service named ${s.name} already exists.`, 'See `consent service show`.');
      this.db
        .prepare('INSERT INTO services (name, label, description, channel, double_opt_in, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(s.name, s.label, s.description, s.channel, s.doubleOptIn ? 1 : 0, at);
      return toService(this.row(s.name)!);
    });
  }

  async get(name: string): Promise<Service | null> {
    return this.store.guard(() => {
      const r = this.row(name);
      return r ? toService(r) : null;
    });
  }

  async list(): Promise<ServiceSummary[]> {
    return this.store.guard(() => this.db.prepare<[], SummaryRow>(SUMMARY_SQL('', this.store.nowSql())).all().map(toSummary));
  }

  async summary(name: string): Promise<ServiceSummary | null> {
    return this.store.guard(() => {
      const r = this.db.prepare<[string], SummaryRow>(SUMMARY_SQL('WHERE v.name = ?', this.store.nowSql())).get(name);
      return r ? toSummary(r) : null;
    });
  }

  // Prepared once: `profile list --json` calls it for every profile, and preparing a statement per call cost
  // a prepare per row and native memory that V8 does not see until it collects the object.
  private subscriptionsStmt?: Statement<[number], { service: string; status: SubscriptionStatus; since: string }>;

  async subscriptionsOf(profileId: number): Promise<Subscription[]> {
    return this.store.guard(() => {
      this.subscriptionsStmt ??= this.db.prepare(
        `SELECT v.name AS service, s.status, s.since FROM subscriptions s JOIN services v ON v.id = s.service_id
         WHERE s.profile_id = ? ORDER BY v.name`,
      );
      return this.subscriptionsStmt.all(profileId);
    });
  }

  private subscriptionsManyStmt?: Statement<[string], { profile_id: number; service: string; status: SubscriptionStatus; since: string }>;

  async subscriptionsOfMany(profileIds: readonly number[]): Promise<Map<number, Subscription[]>> {
    const rows = this.store.guard(() => {
      this.subscriptionsManyStmt ??= this.db.prepare(
        `SELECT s.profile_id, v.name AS service, s.status, s.since FROM subscriptions s JOIN services v ON v.id = s.service_id
         WHERE s.profile_id IN (SELECT value FROM json_each(?)) ORDER BY s.profile_id, v.name`,
      );
      return this.subscriptionsManyStmt.all(JSON.stringify(profileIds));
    });
    return byProfile(profileIds, rows, (): Subscription[] => [], (list, r) => list.push({ service: r.service, status: r.status, since: r.since }));
  }

  async change(changes: readonly SubscriptionChange[], context: ChangeContext): Promise<SubscriptionResult[]> {
    return this.store.writeTransaction(() => this.changeInTransaction(changes, context));
  }

  /** `change` inside a write transaction the caller holds (the landing server's group commit). */
  changeInTransaction(changes: readonly SubscriptionChange[], context: ChangeContext): SubscriptionResult[] {
    {
      const current = this.db.prepare<[number, number], { status: SubscriptionStatus }>(
        'SELECT status FROM subscriptions WHERE profile_id = ? AND service_id = ?',
      );
      const upsert = this.db.prepare(
        `INSERT INTO subscriptions (profile_id, service_id, status, since) VALUES (?, ?, ?, ?)
         ON CONFLICT (profile_id, service_id) DO UPDATE SET status = excluded.status, since = excluded.since`,
      );
      const profileExists = this.db.prepare<[number], { id: number }>('SELECT id FROM profiles WHERE id = ?');
      const results: SubscriptionResult[] = [];
      const events: { profileId: number; channel: ContactChannel; service: string; action: string }[] = [];
      for (const c of changes) {
        const service = this.row(c.service);
        if (!service) throw notFound(`No service ${c.service}.`, 'See `consent service list`.');
        if (!profileExists.get(c.profileId)) throw notFound(`No profile id ${c.profileId}.`);
        const before = current.get(c.profileId, service.id)?.status ?? null;
        const step = planSubscription({ doubleOptIn: service.double_opt_in === 1 }, before, c.intent);
        if (step) {
          upsert.run(c.profileId, service.id, step.next, context.occurredAt);
          events.push({ profileId: c.profileId, channel: service.channel as ContactChannel, service: service.name, action: step.action });
        }
        results.push({ profileId: c.profileId, service: service.name, before, after: step?.next ?? before, action: step?.action ?? null });
      }
      this.store.appendEvents(events, context);
      return results;
    }
  }

  async *pending(name: string): AsyncIterable<PendingSubscription> {
    const service = this.store.guard(() => this.row(name));
    if (!service) throw notFound(`No service ${name}.`, 'See `consent service list`.');
    const stmt = this.store.guard(() => this.db.prepare<[number, number], { profileId: number; email: string; since: string; reachable: number }>(
      `SELECT p.id AS profileId, p.email, s.since, ${confirmationReachableSql('p.', 'v.', this.store.nowSql())} AS reachable
       FROM subscriptions s JOIN profiles p ON p.id = s.profile_id JOIN services v ON v.id = s.service_id
       WHERE s.service_id = ? AND s.status = 'pending' AND p.id > ? ORDER BY p.id LIMIT 1000`,
    ));
    let after = 0;
    for (;;) {
      const rows = this.store.guard(() => stmt.all(service.id, after));
      for (const r of rows) yield { profileId: r.profileId, email: r.email, since: r.since, reachable: r.reachable === 1 };
      if (rows.length < 1000) return;
      after = rows[rows.length - 1]!.profileId;
    }
  }
}
