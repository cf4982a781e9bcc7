import { randomBytes } from 'node:crypto';
import type { Profile } from '../../consent/profile.js';
import type { ConsentResult } from '../../consent/store.js';
import type { ConsentGroup, LandingSubmissions } from '../../landing/submissions.js';
import type { SqliteServiceRepository } from './service-store.js';
import { rowToProfile, type SqliteStore } from './sqlite-store.js';

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

  async findOrCreateProfile(email: string, at: string): Promise<{ profile: Profile; created: boolean }> {
    const db = this.store.db;
    return this.store.writeTransaction(() => {
      const inserted = db
        .prepare(
          `INSERT INTO profiles (email, created_at, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (email) DO NOTHING`,
        )
        .run(email, at, at);
      const row = db.prepare('SELECT * FROM profiles WHERE email = ?').get(email) as Parameters<typeof rowToProfile>[0];
      return { profile: rowToProfile(row), created: inserted.changes === 1 };
    });
  }

  async applyConsentGroups(groups: readonly ConsentGroup[]): Promise<ConsentResult[][]> {
    if (groups.length === 0) return [];
    const services = this.store.services as SqliteServiceRepository;
    return this.store.writeTransaction(() =>
      groups.map((g) => {
        const results = this.store.applyInTransaction(g.requests, g.context);
        // Same transaction, same context: channel and subscription events of one submission commit together.
        if (g.subscriptions?.length) services.changeInTransaction(g.subscriptions, g.context);
        return results;
      }),
    );
  }
}
