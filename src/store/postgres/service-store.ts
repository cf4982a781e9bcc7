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
import { isInt4, type PendingEvent, type PgStore, type PgTx } from './pg-store.js';
import { byProfile } from '../shared/by-profile.js';
import { SUMMARY_SQL, toService, toSummary, type ServiceRow, type SummaryRow } from '../shared/service-rows.js';

export class PgServiceRepository implements ServiceRepository {
  constructor(private readonly store: PgStore) {}

  async create(s: NewService, at: string): Promise<Service> {
    const rows = await this.store.query<ServiceRow>(
      `INSERT INTO services (name, label, description, channel, double_opt_in, created_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (name) DO NOTHING RETURNING *`,
      [s.name, s.label, s.description, s.channel, s.doubleOptIn ? 1 : 0, at],
    );
    if (rows.length === 0) throw conflict(`A service named ${s.name} already exists.`, 'See `consent service show`.');
    return toService(rows[0]!);
  }

  async get(name: string): Promise<Service | null> {
    const [r] = await this.store.query<ServiceRow>('SELECT * FROM services WHERE name = $1', [name]);
    return r ? toService(r) : null;
  }

  async list(): Promise<ServiceSummary[]> {
    return (await this.store.query<SummaryRow>(SUMMARY_SQL('', this.store.nowSql()))).map(toSummary);
  }

  async summary(name: string): Promise<ServiceSummary | null> {
    const [r] = await this.store.query<SummaryRow>(SUMMARY_SQL('WHERE v.name = $1', this.store.nowSql()), [name]);
    return r ? toSummary(r) : null;
  }

  async subscriptionsOf(profileId: number): Promise<Subscription[]> {
    return this.store.query<{ service: string; status: SubscriptionStatus; since: string }>(
      `SELECT v.name AS service, s.status, s.since FROM subscriptions s JOIN services v ON v.id = s.service_id
       WHERE s.profile_id = $1 ORDER BY v.name`,
      [profileId],
    );
  }

  async subscriptionsOfMany(profileIds: readonly number[]): Promise<Map<number, Subscription[]>> {
    const rows = await this.store.query<{ profile_id: number; service: string; status: SubscriptionStatus; since: string }>(
      `SELECT s.profile_id, v.name AS service, s.status, s.since FROM subscriptions s JOIN services v ON v.id = s.service_id
       WHERE s.profile_id = ANY($1::int[]) ORDER BY s.profile_id, v.name`,
      [profileIds.filter(isInt4)],
    );
    return byProfile(profileIds, rows, (): Subscription[] => [], (list, r) => list.push({ service: r.service, status: r.status, since: r.since }));
  }

  async change(changes: readonly SubscriptionChange[], context: ChangeContext): Promise<SubscriptionResult[]> {
    return this.store.transaction((tx) => this.changeInTransaction(tx, changes, context));
  }

  /** `change` inside the caller's transaction (the landing server's group commit). */
  async changeInTransaction(tx: PgTx, changes: readonly SubscriptionChange[], context: ChangeContext): Promise<SubscriptionResult[]> {
    // The profiles' rows are the lock of their subscriptions too: two writers of one profile queue.
    const profiles = await tx.lockProfiles(changes.map((c) => c.profileId));
    const services = await tx.services(changes.map((c) => c.service));
    await tx.readSubscriptions(changes.flatMap((c) => (services.has(c.service) && profiles.has(c.profileId) ? [{ profileId: c.profileId, serviceId: services.get(c.service)!.id }] : [])));
    const results: SubscriptionResult[] = [];
    const events: PendingEvent[] = [];
    for (const c of changes) {
      const service = services.get(c.service);
      if (!service) throw notFound(`No service ${c.service}.`, 'See `consent service list`.');
      if (!profiles.has(c.profileId)) throw notFound(`No profile id ${c.profileId}.`);
      const before = tx.subscription(c.profileId, service.id);
      const step = planSubscription({ doubleOptIn: service.double_opt_in === 1 }, before, c.intent);
      if (step) {
        tx.setSubscription(c.profileId, service.id, step.next, context.occurredAt);
        events.push({ profileId: c.profileId, channel: service.channel as ContactChannel, service: service.name, action: step.action });
      }
      results.push({ profileId: c.profileId, service: service.name, before, after: step?.next ?? before, action: step?.action ?? null });
    }
    tx.appendEvents(events, context);
    return results;
  }

  async *pending(name: string): AsyncIterable<PendingSubscription> {
    const [service] = await this.store.query<{ id: number }>('SELECT id FROM services WHERE name = $1', [name]);
    if (!service) throw notFound(`No service ${name}.`, 'See `consent service list`.');
    for await (const rows of this.store.cursor<PendingSubscription>(
      `SELECT p.id AS "profileId", p.email, s.since, ${confirmationReachableSql('p.', 'v.', this.store.nowSql())} AS reachable
       FROM subscriptions s JOIN profiles p ON p.id = s.profile_id JOIN services v ON v.id = s.service_id
       WHERE s.service_id = $1 AND s.status = 'pending' ORDER BY p.id`,
      [service.id],
    )) {
      yield* rows;
    }
  }
}
