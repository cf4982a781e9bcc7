import { randomBytes } from 'node:crypto';
import type { ConsentRequest } from '../../consent/store.js';
import type { ConsentGroup, ConsentGroupResult, LandingSubmissions } from '../../landing/submissions.js';
import type { SqliteServiceRepository } from './service-store.js';
import type { SqliteSuppressionRepository } from './suppression-store.js';
import { profileAddresses } from '../shared/erasure.js';
import type { SqliteStore } from './sqlite-store.js';

const SALT_KEY = 'landing.client-address-salt';

export class SqliteLandingSubmissions implements LandingSubmissions {
  private salt?: Buffer;

  constructor(private readonly store: SqliteStore) {}

  async clientSalt(): Promise<Buffer> {
    if (this.salt) return this.salt;
    const db = this.store.db;
    const read = () => db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(SALT_KEY);
    let row = this.store.read(read);
    if (!row) {
      row = this.store.writeTransaction(() => {
        db.prepare('INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)').run(SALT_KEY, randomBytes(32).toString('hex'));
        return read()!;
      });
    }
    this.salt = Buffer.from(row.value, 'hex');
    return this.salt;
  }

  async createAndApply(email: string, group: Omit<ConsentGroup, 'requests'> & { wanted: ConsentRequest['wanted']; grant?: ConsentRequest['grant'] }): Promise<ConsentGroupResult> {
    const db = this.store.db;
    const services = this.store.services as SqliteServiceRepository;
    const at = group.context.occurredAt;
    return this.store.writeTransaction(() => {
      const created = db.prepare('INSERT INTO profiles (email, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT (email) DO NOTHING').run(email, at, at).changes;
      // An erased address signing up again: its keyed-only entry matches it again (unreachable until a double opt-in).
      if (created > 0) (this.store.suppressions as SqliteSuppressionRepository).restoreInTransaction(profileAddresses(email, null));
      const { id } = db.prepare<[string], { id: number }>('SELECT id FROM profiles WHERE email = ?').get(email)!;
      const consent = this.store.applyInTransaction([{ profileId: id, wanted: group.wanted, ...(group.grant?.length ? { grant: group.grant } : {}) }], group.context);
      const subscriptions = group.subscriptions?.length
        ? services.changeInTransaction(group.subscriptions.map((c) => ({ ...c, profileId: id })), group.context)
        : [];
      return { consent, subscriptions };
    });
  }

  async applyConsentGroups(groups: readonly ConsentGroup[]): Promise<ConsentGroupResult[]> {
    if (groups.length === 0) return [];
    const services = this.store.services as SqliteServiceRepository;
    return this.store.writeTransaction(() =>
      groups.map((g) => {
        const consent = this.store.applyInTransaction(g.requests, g.context);
        // Same transaction, same context: channel and subscription events of one submission commit together.
        const subscriptions = g.subscriptions?.length ? services.changeInTransaction(g.subscriptions, g.context) : [];
        return { consent, subscriptions };
      }),
    );
  }
}
