import { randomBytes } from 'node:crypto';
import { profileAddresses } from '../shared/erasure.js';
import type { ConsentRequest } from '../../consent/store.js';
import type { ConsentGroup, ConsentGroupResult, LandingSubmissions } from '../../landing/submissions.js';
import type { PgStore } from './pg-store.js';

const SALT_KEY = 'landing.client-address-salt';

export class PgLandingSubmissions implements LandingSubmissions {
  private salt?: Buffer;

  constructor(private readonly store: PgStore) {}

  async clientSalt(): Promise<Buffer> {
    if (this.salt) return this.salt;
    // Whoever inserts first wins; every instance on the database then reads the same salt.
    await this.store.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [SALT_KEY, randomBytes(32).toString('hex')]);
    const [row] = await this.store.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [SALT_KEY]);
    this.salt = Buffer.from(row!.value, 'hex');
    return this.salt;
  }

  async createAndApply(email: string, group: Omit<ConsentGroup, 'requests'> & { wanted: ConsentRequest['wanted']; grant?: ConsentRequest['grant'] }): Promise<ConsentGroupResult> {
    const at = group.context.occurredAt;
    return this.store.transaction(async (tx) => {
      // Looked up first (an INSERT that conflicts would use up an id); ON CONFLICT for a concurrent creation of the same email.
      const find = async () => (await tx.query<{ id: number }>('SELECT id FROM profiles WHERE email = $1', [email]))[0]?.id;
      let id = await find();
      if (id === undefined) {
        await tx.query('INSERT INTO profiles (email, created_at, updated_at) VALUES ($1, $2, $2) ON CONFLICT (email) DO NOTHING', [email, at]);
        id = (await find())!;
        // An erased address signing up again: its keyed-only entry matches it again (unreachable until a double opt-in).
        await this.store.suppressions.restoreInTransaction(tx, profileAddresses(email, null));
      }
      const consent = await this.store.applyInTransaction(tx, [{ profileId: id, wanted: group.wanted, ...(group.grant?.length ? { grant: group.grant } : {}) }], group.context);
      const subscriptions = group.subscriptions?.length
        ? await this.store.services.changeInTransaction(tx, group.subscriptions.map((c) => ({ ...c, profileId: id })), group.context)
        : [];
      return { consent, subscriptions };
    });
  }

  async applyConsentGroups(groups: readonly ConsentGroup[]): Promise<ConsentGroupResult[]> {
    if (groups.length === 0) return [];
    return this.store.transaction(async (tx) => {
      // Everything the groups read, in three statements (their profiles locked in id order, their
      // services, their subscriptions); the groups are then planned in memory one after the other
      // and written by tx.flush() and the ledger append: a handful of round trips per commit, not a few per group.
      await tx.lockProfiles(groups.flatMap((g) => [...g.requests.map((r) => r.profileId), ...(g.subscriptions ?? []).map((c) => c.profileId)]));
      const subscriptions = groups.flatMap((g) => g.subscriptions ?? []);
      if (subscriptions.length > 0) {
        const services = await tx.services(subscriptions.map((c) => c.service));
        await tx.readSubscriptions(subscriptions.flatMap((c) => (services.has(c.service) ? [{ profileId: c.profileId, serviceId: services.get(c.service)!.id }] : [])));
      }
      const all: ConsentGroupResult[] = [];
      for (const g of groups) {
        const consent = await this.store.applyInTransaction(tx, g.requests, g.context);
        // Same transaction, same context: channel and subscription events of one submission commit together.
        const subscriptions = g.subscriptions?.length ? await this.store.services.changeInTransaction(tx, g.subscriptions, g.context) : [];
        all.push({ consent, subscriptions });
      }
      return all;
    });
  }
}
